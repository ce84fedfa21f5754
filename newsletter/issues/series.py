"""What staff do to the welcome series' later steps (step 1 is the welcome email:
newsletter/subscribers/services.py and newsletter/issues/services.py): newsletter
editors write them and switch them on or off, medical reviewers approve their
text. Each is checked here, whatever the path (the admin, a crafted POST, a
shell), and a refusal changes nothing.

A step goes out (newsletter/delivery/series.py) once it is on and a medical
reviewer has approved a text of it; the moment both hold is its `sending_since`,
so it never reaches subscribers whose day for it came earlier.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.sanitize import sanitize_html
from newsletter.emails import check_greeting
from newsletter.issues import review
from newsletter.issues.services import (
    ReviewRefused,
    check_verdict,
    reviewer_name,
)
from newsletter.models import WelcomeStep, WelcomeStepApproval
from newsletter.subscribers.services import REVIEW_PERMISSION, require
from newsletter.tasks import send_test_welcome_step

EDIT_PERMISSION = "newsletter.change_welcomestep"
ADD_PERMISSION = "newsletter.add_welcomestep"
EDIT_REFUSAL = "Only a newsletter editor can change the welcome series."


def check_order(step: WelcomeStep) -> None:
    """Later positions wait longer: the series reads in order for everyone."""
    others = WelcomeStep.objects.exclude(pk=step.pk)
    before = others.filter(position__lt=step.position).order_by("-position").first()
    after = others.filter(position__gt=step.position).order_by("position").first()
    if before is not None and step.delay_days <= before.delay_days:
        raise ValidationError(
            {
                "delay_days": f"Step {before.position} goes out after "
                f"{before.delay_days} days: step {step.position} must wait longer."
            }
        )
    if after is not None and step.delay_days >= after.delay_days:
        raise ValidationError(
            {
                "delay_days": f"Step {after.position} goes out after "
                f"{after.delay_days} days: step {step.position} must go before."
            }
        )


def _sending_since(step: WelcomeStep, *, approved: bool) -> None:
    """Starts when the step is on with approved text; off, it stops, and going
    on again starts afresh (not sent to those whose day came while it was off)."""
    if not step.enabled:
        step.sending_since = None
    elif step.sending_since is None and approved:
        step.sending_since = timezone.now()


def save_welcome_step(*, step: WelcomeStep, user: AbstractBaseUser) -> WelcomeStep:
    """Save a step's draft (new or changed), its body sanitised like an issue's.
    Subscribers keep getting the text approved last until a medical reviewer
    approves this one (approve_welcome_step)."""
    require(
        user,
        EDIT_PERMISSION if step.pk else ADD_PERMISSION,
        refusal=EDIT_REFUSAL,
    )
    step.body = sanitize_html(html=step.body)
    step.greeting = step.greeting.strip()
    check_greeting(step.greeting)
    step.full_clean()
    with transaction.atomic():
        check_order(step)
        _sending_since(
            step,
            approved=bool(step.pk) and step.approvals.exists(),
        )
        step.save()
    return step


def switch_welcome_step(
    *, step: WelcomeStep, user: AbstractBaseUser, enabled: bool
) -> WelcomeStep:
    """Switch a step on or off; only its switch changes."""
    require(user, EDIT_PERMISSION, refusal=EDIT_REFUSAL)
    with transaction.atomic():
        step = WelcomeStep.objects.select_for_update().get(pk=step.pk)
        step.enabled = enabled
        _sending_since(step, approved=step.approvals.exists())
        step.save(update_fields=["enabled", "sending_since", "updated_at"])
    return step


def approve_welcome_step(
    *, step: WelcomeStep, user: AbstractBaseUser, verdict: str, seen_hash: str
) -> WelcomeStepApproval:
    """Record a medical reviewer's decision on a step's saved text, exactly as
    the reviewer was shown it (`seen_hash`); from then on subscribers get that
    text (a copy kept on the approval)."""
    require(
        user,
        REVIEW_PERMISSION,
        refusal="Only a medical reviewer can approve newsletter text.",
    )
    check_verdict(verdict)
    name = reviewer_name(user)
    with transaction.atomic():
        step = WelcomeStep.objects.select_for_update().get(pk=step.pk)
        digest = review.welcome_hash(step)
        if digest != seen_hash:
            raise ReviewRefused(
                f"Step {step.position} of the welcome series changed after you "
                "opened it: read it again, then decide. Nothing was recorded."
            )
        approval = WelcomeStepApproval.objects.create(
            step=step,
            verdict=verdict,
            content_hash=digest,
            reviewer=user,
            reviewer_name=name,
            **review.welcome_text(step),
        )
        _sending_since(step, approved=True)
        step.save(update_fields=["sending_since", "updated_at"])
    return approval


def send_welcome_step_test(
    *, step: WelcomeStep, to: str, user: AbstractBaseUser
) -> None:
    """The step's saved draft to a staff address, by the worker."""
    require(
        user,
        "newsletter.view_welcomestep",
        EDIT_PERMISSION,
        refusal="You cannot see the welcome series.",
    )
    transaction.on_commit(lambda: send_test_welcome_step.enqueue(step.pk, to))
