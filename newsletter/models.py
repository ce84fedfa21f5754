import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from articles.models import published_q
from core.editor.fields import RichTextField


class LawfulBasis(models.TextChoices):
    """What an imported list rests on. Only recorded consent skips double opt-in."""

    CONFIRM = "confirm", "Ask each address to confirm (double opt-in email)"
    CONSENTED = (
        "consented",
        "They already gave consent to receive this newsletter (recorded, no email)",
    )


class SubscriberStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"


class Frequency(models.TextChoices):
    """How often a subscriber wants the newsletter."""

    EVERY_ISSUE = "every_issue", "Every issue"
    MONTHLY_DIGEST = "monthly_digest", "A monthly digest"


# Those who receive nothing any more, whatever the reason. The one definition.
LEFT_STATUSES = (
    SubscriberStatus.UNSUBSCRIBED,
    SubscriberStatus.BOUNCED,
    SubscriberStatus.COMPLAINED,
)


class SubscriberQuerySet(models.QuerySet):
    def confirmed(self) -> "SubscriberQuerySet":
        return self.filter(status=Subscriber.Status.CONFIRMED)

    def by_email(self, email: str) -> "SubscriberQuerySet":
        return self.filter(email__iexact=email.strip())

    def left(self) -> "SubscriberQuerySet":
        return self.filter(status__in=LEFT_STATUSES)

    def unconfirmed_before(self, moment) -> "SubscriberQuerySet":
        """Sign-ups never confirmed, last asked for before `moment`."""
        return self.filter(status=Subscriber.Status.PENDING, consent_at__lt=moment)

    def not_paused(self, at=None) -> "SubscriberQuerySet":
        at = at or timezone.now()
        return self.filter(Q(paused_until__isnull=True) | Q(paused_until__lte=at))

    def with_topics(self, topic_ids) -> "SubscriberQuerySet":
        """Those who chose one of these topics, or chose none (they get everything).

        Exists() rather than a join, so each subscriber appears once.
        """
        chosen = Subscriber.topics.through.objects.filter(subscriber=OuterRef("pk"))
        return self.filter(
            ~Exists(chosen) | Exists(chosen.filter(topic_id__in=topic_ids))
        )

    def audience_of(self, issue: "Issue", at=None) -> "SubscriberQuerySet":
        """Who receives `issue` if its send starts at `at` (now by default): the
        confirmed, not paused, who want this kind of issue and one of its topics."""
        frequency = (
            Frequency.MONTHLY_DIGEST
            if issue.kind == Issue.Kind.DIGEST
            else Frequency.EVERY_ISSUE
        )
        audience = self.confirmed().not_paused(at).filter(frequency=frequency)
        if issue.audience == Issue.Audience.TOPICS:
            audience = audience.with_topics(issue.topics.values("pk"))
        return audience


class Subscriber(models.Model):
    Status = SubscriberStatus
    Frequency = Frequency

    class Source(models.TextChoices):
        FOOTER = "footer", "Footer form"
        PAGE = "page", "Newsletter page"
        IMPORT = "import", "CSV import"

    class LeftHow(models.TextChoices):
        LINK = "link", "Unsubscribe link"
        ONE_CLICK = "one_click", "One-click (mail client)"
        STAFF = "staff", "Staff"
        BOUNCE = "bounce", "Permanent bounce"
        COMPLAINT = "complaint", "Spam complaint"
        PROVIDER = "provider", "Unsubscribed at the email provider"

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # Proof of consent: what they agreed to, where, when, and from which address.
    consent_text = models.TextField(help_text="The exact wording they agreed to.")
    consent_version = models.CharField(max_length=40)
    consent_source = models.CharField(max_length=10, choices=Source.choices)
    consent_at = models.DateTimeField(default=timezone.now)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    lawful_basis = models.CharField(
        max_length=300,
        blank=True,
        help_text="For imports: on what basis the address was added, and evidence.",
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    left_how = models.CharField(max_length=10, choices=LeftHow.choices, blank=True)
    # What they chose on their preference page. No topic chosen: every topic.
    topics = models.ManyToManyField(
        "articles.Topic",
        blank=True,
        related_name="+",
        help_text="The topics they want. None chosen: every topic.",
    )
    frequency = models.CharField(
        max_length=14, choices=Frequency.choices, default=Frequency.EVERY_ISSUE
    )
    paused_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="They receive nothing until then (a pause they chose).",
    )
    imported_from = models.ForeignKey(
        "SubscriberImport",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subscribers",
        help_text="The CSV import that added this address, if any.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="subscriber_email_ci_unique"),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                name="subscriber_confirmed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=LEFT_STATUSES) | Q(left_at__isnull=False),
                name="subscriber_left_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def has_left(self) -> bool:
        return self.status in LEFT_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.paused_until is not None and self.paused_until > timezone.now()


class SubscriberEvent(models.Model):
    """What happened to a subscription, kept as the record of consent and leaving."""

    class Kind(models.TextChoices):
        SIGNED_UP = "signed_up", "Signed up"
        CONFIRMATION_SENT = "confirmation_sent", "Confirmation email sent"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        IMPORTED = "imported", "Imported"
        DATA_EXPORTED = "data_exported", "Data export sent"
        DELETION_REQUESTED = "deletion_requested", "Deletion link sent"
        PREFERENCES_CHANGED = "preferences", "Preferences changed"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["subscriber", "kind", "at"], name="event_lookup_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


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
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("newsletter:archive_detail", kwargs={"slug": self.slug})

    @property
    def is_locked(self) -> bool:
        """Due to start, sending or sent: the issue can no longer change. A draft,
        or an issue scheduled for later, can (a change to the text of a scheduled
        one makes it a draft again: services.save_issue)."""
        if self.status == self.Status.DRAFT:
            return False
        if self.status == self.Status.SCHEDULED and self.scheduled_at is not None:
            return self.scheduled_at <= timezone.now()
        return True


class IssueApproval(models.Model):
    """A medical reviewer's decision on one exact text of an issue: the hash of
    everything its email and archive page say (newsletter/review.py). Any change
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


class SendClaim(models.Model):
    """A batch of deliveries taken by one worker; its heartbeat says it is alive."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="claims")
    worker = models.CharField(max_length=100)
    claimed_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["issue", "finished_at"], name="claim_open_idx")]

    def __str__(self) -> str:
        return f"{self.worker} {self.claimed_at:%H:%M:%S}"


class SendPace(models.Model):
    """The shared sending rate: the earliest moment the next message may start.

    One row per limit, read and moved forward by one statement per message
    (newsletter/delivery/pacing.py), so every worker on every machine keeps to one rate.
    """

    name = models.CharField(primary_key=True, max_length=50)
    # Seconds since the epoch, by the database's clock on PostgreSQL (machines'
    # clocks may differ), by the one machine's clock on SQLite.
    next_at = models.FloatField(default=0)

    def __str__(self) -> str:
        return self.name


class DeliveryQuerySet(models.QuerySet):
    def counts(self) -> dict[str, int]:
        """Deliveries per status, every status present (zero when none)."""
        found = dict(
            self.order_by().values_list("status").annotate(n=models.Count("pk"))
        )
        return {status: found.get(status, 0) for status in Delivery.Status.values}


class Delivery(models.Model):
    """One issue to one subscriber: created once, sent at most once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNCERTAIN = "uncertain", "Uncertain"
        SKIPPED = "skipped", "Skipped"

    # A sent issue is the record of who got what: it cannot be deleted.
    issue = models.ForeignKey(
        Issue, on_delete=models.PROTECT, related_name="deliveries"
    )
    # Kept (without the subscriber) when a subscriber asks for their data to be
    # deleted, so the send's totals stay true.
    subscriber = models.ForeignKey(
        Subscriber, null=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim = models.ForeignKey(
        SendClaim,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The id the mail server or provider accepted the message under (our own
    # Message-ID over SMTP, the provider's id through django-anymail): later bounce
    # and complaint reports name it (newsletter/bounces.py).
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "subscriber"], name="delivery_once_per_subscriber"
            )
        ]
        # Partial indexes: a delivery leaves them when it is sent, so recording a
        # send (the one write per recipient) updates as few indexes as possible.
        indexes = [
            models.Index(
                fields=["issue", "next_attempt_at", "id"],
                condition=Q(status="queued"),
                name="delivery_queue_idx",
            ),
            models.Index(
                fields=["claim", "id"],
                condition=Q(status="sending"),
                name="delivery_claim_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.issue} to {self.subscriber_id}"


class DeliveryEvent(models.Model):
    """Something that happened to a message after it was sent: a bounce, a spam
    complaint or an unsubscribe, reported later by the email provider (its
    tracking webhook) or by the reader (the issue's unsubscribe link)."""

    class Kind(models.TextChoices):
        BOUNCED = "bounced", "Bounced (permanent)"
        SOFT_BOUNCED = "soft_bounced", "Bounced (temporary)"
        DEFERRED = "deferred", "Deferred"
        REJECTED = "rejected", "Rejected by the provider"
        COMPLAINED = "complained", "Marked as spam"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    # The reader's own unsubscribe link, as opposed to an email provider's report.
    SITE = "site"

    delivery = models.ForeignKey(
        Delivery,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    subscriber = models.ForeignKey(
        Subscriber,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery_events",
    )
    issue = models.ForeignKey(
        Issue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery_events",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    provider = models.CharField(max_length=30)
    # The provider's id of the report (or a digest of it when the provider gives
    # none): a replayed webhook finds it taken and changes nothing.
    event_id = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                condition=~Q(event_id=""),
                name="delivery_event_once",
            )
        ]
        indexes = [
            models.Index(fields=["issue", "kind"], name="delivery_event_issue_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.provider}), {self.at:%Y-%m-%d %H:%M}"


class WelcomeEmail(models.Model):
    """The email a subscriber gets once they confirm. One row only; staff edit it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    enabled = models.BooleanField(
        default=True,
        help_text="Untick to send no welcome email. Those who confirm meanwhile "
        "get none, even once it is turned back on.",
    )
    subject = models.CharField(max_length=150)
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
        help_text="The line before the body. {first_name} becomes the reader's "
        "first name, or is left out when we don't know it.",
    )
    body = RichTextField(
        help_text="Sanitised like articles when saved: no scripts, styles or embeds. "
        "The unsubscribe and data links are added under it."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "welcome email"
        verbose_name_plural = "welcome email"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="welcomeemail_single_row")
        ]

    def __str__(self) -> str:
        return self.subject


class WelcomeApproval(models.Model):
    """A medical reviewer's decision on one exact text of the welcome email, with
    that text: the latest one is what subscribers get (newsletter/delivery/welcome.py),
    whatever the email's draft says meanwhile."""

    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    content_hash = models.CharField(max_length=64)
    subject = models.CharField(max_length=150)
    preheader = models.CharField(max_length=150, blank=True)
    greeting = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewer_name = models.CharField(max_length=300)
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-approved_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values),
                name="welcomeapproval_verdict_valid",
            ),
            models.CheckConstraint(
                condition=~Q(content_hash=""), name="welcomeapproval_has_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.reviewer_name}"


class WelcomeDelivery(models.Model):
    """The welcome email of one subscription: claimed, then sent, at most once.

    A subscription is a subscriber and the moment they confirmed: someone who left
    and confirmed again is welcomed again (they asked anew).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued (to try again)"
        CLAIMED = "claimed", "Claimed by a worker"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNCERTAIN = "uncertain", "Uncertain"

    # Goes with the subscriber: a deletion request erases it too.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="welcomes"
    )
    confirmed_at = models.DateTimeField(
        help_text="When the subscription it welcomes was confirmed."
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.CLAIMED
    )
    # A new value each time a worker takes it: every write is fenced by it.
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "welcome deliveries"
        ordering = ["-claimed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "confirmed_at"],
                name="welcome_once_per_subscription",
            )
        ]

    def __str__(self) -> str:
        return f"Welcome to {self.subscriber_id} ({self.get_status_display()})"


class SubscriberImport(models.Model):
    """A CSV of addresses staff upload: checked, then imported, by a worker task."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked: ready to import"
        REFUSED = "refused", "Has errors: nothing imported"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed: nothing imported"

    file_name = models.CharField(max_length=255)
    data = models.TextField(help_text="The uploaded CSV, as text.")
    fingerprint = models.CharField(max_length=64)
    basis = models.CharField(max_length=12, choices=LawfulBasis.choices)
    evidence = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.CHECKING
    )
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    existing = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(
        default=list, blank=True, help_text="The first rows' outcomes and errors."
    )
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


class LinkClickQuerySet(models.QuerySet):
    def most_clicked(self) -> "LinkClickQuerySet":
        return self.order_by("-clicks", "url")


class LinkClick(models.Model):
    """Clicks on one link of one issue, counted together.

    Deliberately anonymous: no subscriber, address, cookie or IP, only how many
    clicks and when the first and the last came.
    """

    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="link_clicks"
    )
    url = models.URLField(max_length=2000)
    clicks = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)

    objects = LinkClickQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "url"], name="link_click_unique")
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.clicks})"
