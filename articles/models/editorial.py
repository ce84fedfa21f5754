"""The editorial record of an article: revisions, workflow steps, medical approvals,
flag and author changes, corrections, autosaves, preview links, review reminders."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from articles.models.content import Article, Author, Stage, Topic


class ArticleRevision(models.Model):
    """One saved version of an article: everything an editor can change, sources
    included (articles/editorial/revisions.py makes and applies them). Never edited."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="revisions"
    )
    number = models.PositiveIntegerField()
    data = models.JSONField(help_text="The article's fields and sources.")
    review_hash = models.CharField(
        max_length=64,
        help_text="A digest of what a medical approval covers: everything the "
        "revision holds that readers see (articles/revisions.py REVIEWED).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "number"], name="revision_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Revision {self.number} of {self.data.get('title', '')}"


class Transition(models.Model):
    """One step of an article through the workflow: who, when, from, to, why."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="transitions"
    )
    revision = models.ForeignKey(
        ArticleRevision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # The dashboard sorts its queues by each article's latest step: one
            # index probe an article instead of reading and sorting its steps.
            models.Index(fields=["article", "-at"], name="transition_latest_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_from_stage_display()} -> {self.get_to_stage_display()}"


class MedicalApproval(models.Model):
    """A medical reviewer's approval of one exact revision (its review_hash)."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="approvals"
    )
    revision = models.ForeignKey(
        ArticleRevision, on_delete=models.CASCADE, related_name="approvals"
    )
    review_hash = models.CharField(max_length=64)
    reviewer = models.ForeignKey(
        Author,
        on_delete=models.PROTECT,
        related_name="approvals",
        help_text="The reviewer's byline.",
    )
    reviewer_name = models.CharField(
        max_length=120, help_text="The reviewer's name when they approved."
    )
    reviewer_credentials = models.CharField(
        max_length=120,
        help_text="The reviewer's credentials when they approved: what readers are "
        "shown for this approval.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-approved_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.reviewer_name} approved revision {self.revision.number}"


class MedicalFlagChange(models.Model):
    """A topic or an article marked medical or not medical: who, when, why.

    Turning the flag off takes away the medical review, so only a medical reviewer
    may, with a reason (articles/editorial/medical.py); anyone who may edit may turn it
    on.
    """

    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="medical_changes",
    )
    article = models.ForeignKey(
        "Article",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="medical_changes",
    )
    medical = models.BooleanField(help_text="The flag after the change.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            # One subject: a topic or an article, never both or neither.
            models.CheckConstraint(
                condition=Q(topic__isnull=True, article__isnull=False)
                | Q(topic__isnull=False, article__isnull=True),
                name="medical_change_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(medical=True) | ~Q(reason=""),
                name="medical_change_off_has_reason",
                violation_error_message="Say why it is not medical.",
            ),
        ]

    def __str__(self) -> str:
        subject = self.topic or self.article
        return f"{subject} marked {'medical' if self.medical else 'not medical'}"


class AuthorChange(models.Model):
    """A change to an author profile's name, credentials or account: readers see
    the first two on bylines and "Medically reviewed by" lines."""

    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=20)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.author}: {self.field} changed"


class Correction(models.Model):
    """A correction or update recorded when a change is published, shown dated at
    the foot of the article and in its JSON-LD.

    One that changes the advice (not a typo) is also told to the newsletter's
    readers of its topic: in their next digest, or at once in a notice email that
    goes through the newsletter's medical review
    (docs/editorial.md#corrections-that-change-the-advice).
    """

    class TellReaders(models.TextChoices):
        NEXT_DIGEST = "next_digest", "In the next digest"
        NOW = "now", "Tell them now (a notice email, after medical review)"

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="corrections"
    )
    revision = models.ForeignKey(
        ArticleRevision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(
        max_length=1000,
        help_text="What was wrong or what changed, in plain words, for readers.",
    )
    published_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changes_advice = models.BooleanField(
        default=False,
        help_text="The advice changed (not a typo): newsletter readers of the "
        "article's topic who asked to hear of it are told.",
    )
    tell_readers = models.CharField(
        max_length=11,
        choices=TellReaders.choices,
        default=TellReaders.NEXT_DIGEST,
        help_text="How readers hear of a change to the advice.",
    )

    class Meta:
        ordering = ["published_at", "pk"]
        constraints = [
            # Telling readers now only makes sense for a change to the advice.
            models.CheckConstraint(
                condition=Q(tell_readers="next_digest") | Q(changes_advice=True),
                name="correction_tell_now_changes_advice",
            ),
            models.CheckConstraint(
                condition=Q(tell_readers__in=["next_digest", "now"]),
                name="correction_tell_readers_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class Autosave(models.Model):
    """What one person was typing, saved every half minute without publishing or
    making a revision; offered back when they reopen the article."""

    article = models.ForeignKey(
        Article,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="autosaves",
        help_text="Empty for an article not saved yet.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    data = models.JSONField()
    base_revision = models.ForeignKey(
        ArticleRevision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The revision the editor had open when typing began.",
    )
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user"], name="autosave_one_per_article_user"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(article__isnull=True),
                name="autosave_one_new_article_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"Autosave by {self.user} at {self.saved_at:%Y-%m-%d %H:%M}"


class PreviewLink(models.Model):
    """A signed, expiring link to one draft revision for an outside reviewer."""

    revision = models.ForeignKey(
        ArticleRevision, on_delete=models.CASCADE, related_name="preview_links"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Preview of {self.revision}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class ReviewReminder(models.Model):
    """One weekly email to a reviewer about their due reviews: one per week at
    most, whatever the worker does."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    week = models.DateField(help_text="The Monday of the week it was sent.")
    article_count = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "week"], name="review_reminder_once_a_week"
            )
        ]

    def __str__(self) -> str:
        return f"Review reminder for {self.user} ({self.week})"
