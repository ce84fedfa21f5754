"""What sending an issue leaves behind: the workers' claims, the shared pace, one
delivery per recipient, providers' reports on it, and link clicks."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from newsletter.models.issues import Issue
from newsletter.models.subscribers import Subscriber


class SendClaim(models.Model):
    """A batch of deliveries taken by one worker; its heartbeat says it is alive."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="claims")
    worker = models.CharField(max_length=100)
    claimed_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What this claim did to its deliveries' statuses, each moved in the same
    # statement as the delivery's own write and only when that write changed it;
    # added to the issue's counters (IssueStats) when the claim closes, so the
    # workers of one send never wait on one shared row
    # (newsletter/models/counters.py).
    taken = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    uncertain = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    requeued = models.IntegerField(default=0)

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

    # A sent issue is the record of who got what: it cannot be deleted. Indexed
    # by the unique constraint below (issue first), not on its own too.
    issue = models.ForeignKey(
        Issue, on_delete=models.PROTECT, related_name="deliveries", db_index=False
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
    # and complaint reports name it (newsletter/delivery/bounces.py), by equality
    # only: indexed where set (delivery_message_id_idx), without PostgreSQL's
    # second, LIKE-serving copy that db_index=True would add.
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # A digest trimmed to its reader, decided when the send starts: the ids of
    # the digest's topics they chose (null: every topic, they chose none), and
    # whether it shows its "What changed" section (they asked to hear of changes
    # to the advice). Deliveries alike share one rendering.
    topics_shown = models.JSONField(null=True, blank=True)
    changes_shown = models.BooleanField(default=True)
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
        # send (the one write per recipient) updates as few indexes as possible,
        # and millions of sent rows take no room in them. Lookups by issue alone
        # use the unique constraint's index (issue first).
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
            # The issue page's failures to look into.
            models.Index(
                fields=["issue", "id"],
                condition=Q(status__in=["failed", "uncertain"]),
                name="delivery_problem_idx",
            ),
            # Messages not sent (queued, skipped, failed) have no id to find.
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="delivery_message_id_idx",
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
    # Indexed by delivery_event_issue_idx (issue first), not on its own too.
    issue = models.ForeignKey(
        Issue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery_events",
        db_index=False,
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
