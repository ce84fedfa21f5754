"""The welcome email (one row), the approvals of its text, and one delivery per
subscription."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.editor.fields import RichTextField
from core.models import SingleRowModel
from newsletter.models.issues import Verdict
from newsletter.models.subscribers import Subscriber


class WelcomeEmail(SingleRowModel):
    """The email a subscriber gets once they confirm. One row only; staff edit it."""

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

    class Meta(SingleRowModel.Meta):
        verbose_name = "welcome email"
        verbose_name_plural = "welcome email"

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
        # A step of the series whose subscriber had paused when it was due.
        SKIPPED = "skipped", "Skipped"

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
        # The admin's list, in this order (and the id it adds), over a row per
        # subscriber: read from the newest end of an index, not sorted.
        indexes = [
            models.Index(fields=["claimed_at", "id"], name="welcome_claimed_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "confirmed_at"],
                name="welcome_once_per_subscription",
            )
        ]

    def __str__(self) -> str:
        return f"Welcome to {self.subscriber_id} ({self.get_status_display()})"
