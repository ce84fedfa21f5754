"""The welcome series: the emails after the welcome email, each some days after a
subscriber confirms. The welcome email (newsletter/models/welcome.py) is step 1;
these rows are steps 2 onwards, each with its own medical approvals and one
delivery per subscription."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.editor.fields import RichTextField
from newsletter.models.issues import Verdict
from newsletter.models.subscribers import Subscriber
from newsletter.models.welcome import WelcomeDelivery

# The longest wait we let a step have: a year after confirming.
MAX_DELAY_DAYS = 365
# Addresses imported with recorded consent (newsletter/subscribers/imports.py gives
# them this consent version; signing up again replaces it) get no welcome email,
# and so no series either: they were subscribers elsewhere already.
IMPORTED_WITH_CONSENT = Q(
    consent_source=Subscriber.Source.IMPORT, consent_version="import"
)


class WelcomeStep(models.Model):
    """One email of the welcome series after the welcome email itself."""

    position = models.PositiveSmallIntegerField(
        unique=True,
        help_text="Its place in the series: 2 comes after the welcome email (1).",
    )
    delay_days = models.PositiveSmallIntegerField(
        "days after confirming",
        help_text="Days after confirming that it goes out (1 to 365); later "
        "positions wait longer.",
    )
    enabled = models.BooleanField(
        default=False,
        help_text="Ticked, it goes out once a medical reviewer has approved its "
        "text. It is never sent to those whose day for it came before it went on.",
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
    # Set when it starts going out (on, with approved text); cleared when switched
    # off. Subscribers whose day for it came earlier never get it: a step added
    # or switched on later is not sent to those already past it.
    sending_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position"]
        verbose_name = "welcome series step"
        constraints = [
            models.CheckConstraint(
                condition=Q(position__gte=2), name="welcomestep_after_the_welcome"
            ),
            models.CheckConstraint(
                condition=Q(delay_days__gte=1, delay_days__lte=MAX_DELAY_DAYS),
                name="welcomestep_delay_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Step {self.position}: {self.subject}"


class WelcomeStepApproval(models.Model):
    """A medical reviewer's decision on one exact text of a step, with that text:
    the latest one is what subscribers get, whatever the step's draft says."""

    step = models.ForeignKey(
        WelcomeStep, on_delete=models.CASCADE, related_name="approvals"
    )
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
                name="welcomestepapproval_verdict_valid",
            ),
            models.CheckConstraint(
                condition=~Q(content_hash=""), name="welcomestepapproval_has_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.reviewer_name}"


class WelcomeStepDelivery(models.Model):
    """One step of one subscription's series: claimed, then sent, at most once
    (or skipped: paused when it was due). Claimed and written like a
    WelcomeDelivery (newsletter/delivery/welcome.py)."""

    Status = WelcomeDelivery.Status

    # Goes with the subscriber: a deletion request erases it too.
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="welcome_steps"
    )
    # A step that went out is kept: its deliveries are the record of it.
    step = models.ForeignKey(
        WelcomeStep, on_delete=models.PROTECT, related_name="deliveries"
    )
    confirmed_at = models.DateTimeField(
        help_text="When the subscription it belongs to was confirmed."
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.CLAIMED
    )
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "welcome series deliveries"
        ordering = ["-claimed_at"]
        # The admin's list, in this order (and the id it adds), over a row per
        # subscriber: read from the newest end of an index, not sorted.
        indexes = [
            models.Index(fields=["claimed_at", "id"], name="welcome_step_claimed_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "step", "confirmed_at"],
                name="welcome_step_once_per_subscription",
            )
        ]

    def __str__(self) -> str:
        return (
            f"Step {self.step_id} to {self.subscriber_id} ({self.get_status_display()})"
        )
