"""Subscribers, what happened to each of them, and the CSV imports that add them."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from newsletter.models.issues import Issue


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

    def with_part_of(self, digest: "Issue") -> "SubscriberQuerySet":
        """Those a digest has something for once trimmed to them (its articles or,
        if they asked to hear of changes to the advice, its corrections, in the
        topics they chose; everything when they chose none). A digest with neither
        articles nor corrections is for all of them."""
        article_topics = set(
            digest.issuearticle_set.values_list("article__topic_id", flat=True)
        )
        change_topics = set(
            digest.corrections.values_list("article__topic_id", flat=True)
        )
        if not (article_topics or change_topics):
            return self
        chosen = Subscriber.topics.through.objects.filter(subscriber=OuterRef("pk"))
        told = Q(advice_changes=True)
        everything = ~Exists(chosen)
        if not article_topics:
            everything &= told
        return self.filter(
            everything
            | Exists(chosen.filter(topic_id__in=article_topics))
            | (told & Exists(chosen.filter(topic_id__in=change_topics)))
        )

    def audience_of(self, issue: "Issue", at=None) -> "SubscriberQuerySet":
        """Who receives `issue` if its send starts at `at` (now by default): the
        confirmed, not paused, who want this kind of issue and one of its topics;
        of a digest, those it has something for once trimmed to them. A notice
        that advice changed goes to those who asked to hear of such changes,
        however often they get the newsletter."""
        audience = self.confirmed().not_paused(at)
        if issue.kind == Issue.Kind.NOTICE:
            audience = audience.filter(advice_changes=True)
        else:
            frequency = (
                Frequency.MONTHLY_DIGEST
                if issue.kind == Issue.Kind.DIGEST
                else Frequency.EVERY_ISSUE
            )
            audience = audience.filter(frequency=frequency)
        if issue.audience == Issue.Audience.TOPICS:
            audience = audience.with_topics(issue.topics.values("pk"))
        if issue.kind == Issue.Kind.DIGEST and issue.pk is not None:
            audience = audience.with_part_of(issue)
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
    advice_changes = models.BooleanField(
        "Tell me when advice I read has changed",
        default=True,
        help_text="Corrections that change the advice in their topics: in their "
        "digest, or as a notice when an editor tells readers at once.",
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
        # For the admin's list (newsletter/admin/subscribers.py): its default
        # order and the date columns it sorts by, each with the id the changelist
        # adds (descending) so a page is read off the index, never sorted (the
        # unconfirmed, whose confirmed_at is NULL, come first when sorted
        # newest first). The search indexes are PostgreSQL's own: migration 0014.
        indexes = [
            models.Index(fields=["created_at", "id"], name="subscriber_created_idx"),
            models.Index(fields=["consent_at", "id"], name="subscriber_consent_at_idx"),
            models.Index(
                fields=["confirmed_at", "id"], name="subscriber_confirmed_at_idx"
            ),
            # The welcome series counts those confirmed within each step's delay:
            # a range over the newest confirmations, not a scan of everyone.
            models.Index(
                fields=["status", "confirmed_at"], name="subscriber_confirmed_idx"
            ),
        ]
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
