"""Issues: their text, the medical reviewers' approvals of it, their featured
articles."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from articles.public import published_q
from core.editor.fields import RichTextField


class Verdict(models.TextChoices):
    """A medical reviewer's decision on one exact newsletter text. Either lets it
    go out: "no medical content" is the reviewer's judgement, recorded as such."""

    APPROVED = "approved", "Approved"
    NO_MEDICAL_CONTENT = "no_medical_content", "No medical content"


class IssueQuerySet(models.QuerySet):
    def archived(self) -> "IssueQuerySet":
        """Issues shown in the public archive: those that have been sent.

        By sent date, not status: an issue whose uncertain deliveries staff send
        again is "sending" for a while, and stays in the archive meanwhile.
        """
        return self.filter(sent_at__isnull=False)


class Issue(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    class Kind(models.TextChoices):
        REGULAR = "regular", "Regular issue (to every-issue subscribers)"
        DIGEST = "digest", "Monthly digest (to monthly-digest subscribers)"
        NOTICE = (
            "notice",
            "Notice that advice changed (to readers of its topic who asked)",
        )

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        TOPICS = "topics", "Subscribers of the chosen topics"

    subject = models.CharField(max_length=150)
    slug = models.SlugField(
        max_length=160,
        unique=True,
        help_text="Address in the public archive: /newsletter/archive/your-slug/.",
    )
    preheader = models.CharField(
        max_length=150,
        blank=True,
        help_text="Preview text shown after the subject in most inboxes "
        "(up to 150 characters).",
    )
    greeting = models.CharField(
        max_length=100,
        blank=True,
        default="Hi {first_name},",
        help_text="The line before the body. {first_name} becomes each reader's "
        "first name, or is left out when we don't know it. Leave empty when the "
        "body starts with its own greeting.",
    )
    body = RichTextField(
        help_text="Sanitised like articles when saved: no scripts, styles or embeds."
    )
    kind = models.CharField(
        max_length=10,
        choices=Kind.choices,
        default=Kind.REGULAR,
        help_text="Regular issues go to those who want every issue; digests to "
        "those who want a monthly digest.",
    )
    audience = models.CharField(
        max_length=10,
        choices=Audience.choices,
        default=Audience.EVERYONE,
        help_text="Subscribers who chose no topic receive every issue either way.",
    )
    topics = models.ManyToManyField(
        "articles.Topic",
        blank=True,
        related_name="+",
        help_text="With “Subscribers of the chosen topics”: who chose one of these.",
    )
    articles = models.ManyToManyField(
        "articles.Article",
        through="IssueArticle",
        blank=True,
        related_name="+",
        help_text="Articles to feature after the body (title, summary and link).",
    )
    # A digest's "What changed" section: corrections that changed the advice,
    # each shown to the readers of its article's topic.
    corrections = models.ManyToManyField(
        "articles.Correction",
        blank=True,
        related_name="+",
        help_text="Corrections that changed the advice, in the “What changed” "
        "section of a digest.",
    )
    # A notice's correction: one notice per correction, made as a draft when an
    # editor publishes it with "tell them now" (newsletter/issues/notices.py).
    correction = models.OneToOneField(
        "articles.Correction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.DRAFT,
        db_index=True,
        help_text="Set by sending, never by hand: a sent issue cannot be sent again.",
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(null=True, blank=True)
    not_sent_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why a scheduled send did not start (it went back to draft).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IssueQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-created_at"]
        permissions = [
            ("send_issue", "Can send, schedule, resume and cancel issues"),
            (
                "review_issue",
                "Can approve newsletter text medically (issues, welcome email)",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="issue_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="issue_sent_has_time",
            ),
            # Only a notice tells of one correction (its deletion later leaves a
            # sent notice as it was, without the link).
            models.CheckConstraint(
                condition=Q(correction__isnull=True) | Q(kind="notice"),
                name="issue_correction_is_notice",
                violation_error_message="Only a notice tells readers of a correction.",
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("newsletter:archive_detail", kwargs={"slug": self.slug})

    @property
    def is_locked(self) -> bool:
        """Due to start, sending or sent: the issue can no longer change. A draft,
        or an issue scheduled for later, can (a change to the text of a scheduled
        one makes it a draft again: issue_services.save_issue)."""
        if self.status == self.Status.DRAFT:
            return False
        if self.status == self.Status.SCHEDULED and self.scheduled_at is not None:
            return self.scheduled_at <= timezone.now()
        return True


class IssueApproval(models.Model):
    """A medical reviewer's decision on one exact text of an issue: the hash of
    everything its email and archive page say (newsletter/issues/review.py). Any change
    to that text makes it stale; it is never edited."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="approvals")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    content_hash = models.CharField(max_length=64)
    # What was approved, as hashed: shows what changed since.
    text = models.JSONField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as it was, should the account or its author profile change later.
    reviewer_name = models.CharField(max_length=300)
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-approved_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values),
                name="issueapproval_verdict_valid",
            ),
            models.CheckConstraint(
                condition=~Q(content_hash=""), name="issueapproval_has_hash"
            ),
        ]
        indexes = [
            models.Index(fields=["issue", "content_hash"], name="issue_approval_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.reviewer_name}"


class IssueArticle(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE)
    # Only live articles can be picked (the admin's autocomplete and form apply
    # this): a draft's link would answer 404 to every reader.
    article = models.ForeignKey(
        "articles.Article", on_delete=models.CASCADE, limit_choices_to=published_q
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "article"], name="issue_article_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issue} - {self.article}"
