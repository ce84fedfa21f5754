"""Background tasks (django-tasks; run by `manage.py db_worker`).

A task whose worker died mid-run is run again by another worker (core/workers.py),
possibly beside the first if that one was only stalled; so each task here keeps its
own state in our tables and can run again. Issues, welcome emails and import
confirmations are never sent twice (their claims); a one-off email (confirmation
link, data export, deletion link, test send) whose worker died just after sending
it may go a second time, with the same content.
"""

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from newsletter import emails, selectors
from newsletter.delivery import issues, series, welcome
from newsletter.models import (
    Issue,
    LawfulBasis,
    Subscriber,
    SubscriberImport,
    WelcomeStep,
)
from newsletter.subscribers import imports


@task()
def send_confirmation_email(subscriber_id: int) -> bool:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.status != Subscriber.Status.PENDING:
        return False  # Confirmed, left or deleted since: nothing to confirm.
    emails.confirmation_message(subscriber=subscriber).send()
    return True


def queue_welcome_check(subscriber_id: int, at: datetime) -> None:
    """Another run of send_welcome_email at `at`, to finish what a worker killed
    meanwhile left (a no-op when it was sent). The immediate backend (tests)
    cannot come back later."""
    if send_welcome_email.get_backend().supports_defer:
        send_welcome_email.using(run_after=at).enqueue(subscriber_id)


@task()
def send_welcome_email(subscriber_id: int) -> str:
    """The welcome email of a subscription, once (newsletter/delivery/welcome.py)."""
    return welcome.send_welcome(
        subscriber_id=subscriber_id,
        follow_up=partial(queue_welcome_check, subscriber_id),
    )


@task()
def send_test_welcome(to: str) -> bool:
    welcome_email = selectors.welcome_email()
    if welcome_email is None:
        return False
    emails.test_welcome_message(welcome=welcome_email, to=to).send()
    return True


@task()
def send_data_export(subscriber_id: int) -> bool:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return False
    data = selectors.subscriber_data(subscriber)
    emails.data_export_message(subscriber=subscriber, data=data).send()
    return True


@task()
def send_deletion_link(subscriber_id: int) -> bool:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return False  # Deleted already: nothing left to delete.
    emails.data_delete_message(subscriber=subscriber).send()
    return True


@task()
def send_test_issue(issue_id: int, to: str) -> None:
    issue = Issue.objects.get(pk=issue_id)
    emails.test_issue_message(issue=issue, to=to).send()


@task()
def start_issue_send(issue_id: int) -> bool:
    """Runs at the scheduled time: create the deliveries, then start the workers."""
    if not issues.start_send(issue_id=issue_id):
        return False
    for _ in range(max(1, settings.NEWSLETTER_WORKERS_PER_SEND)):
        send_issue.enqueue(issue_id)
    return True


@task()
def send_issue(issue_id: int) -> dict:
    """One worker's share of a send; comes back later for deliveries due a retry."""
    result = issues.run(issue_id=issue_id)
    # A backend without deferred tasks (the immediate one) cannot come back later.
    if not result.finished and send_issue.get_backend().supports_defer:
        # Come back for retries that are due later, or, when other workers still
        # hold claims, once the oldest one's lease has run out in case its worker
        # died (a whole lease from now at the latest).
        lease = timezone.now() + timedelta(
            seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS + 1
        )
        claim_expired = result.claim_expires_at and (
            result.claim_expires_at + timedelta(seconds=1)
        )
        run_after = min(filter(None, [result.next_retry_at, claim_expired, lease]))
        send_issue.using(run_after=max(run_after, timezone.now())).enqueue(issue_id)
    return {
        "outcomes": result.outcomes,
        "recovered_uncertain": result.recovered_uncertain,
        "finished": result.finished,
    }


@task()
def check_subscriber_import(import_id: int) -> str:
    """Check each row of an uploaded CSV, saving progress as it goes."""
    return imports.check_import(import_id=import_id)


@task()
def run_subscriber_import(import_id: int) -> bool:
    """Add a checked CSV's new addresses (all or nothing); then ask them to confirm."""
    return imports.run_import(import_id=import_id, then=_ask_to_confirm)


def _ask_to_confirm(subscriber_import: SubscriberImport) -> None:
    # Called inside the import's transaction: the database backend stores the task
    # there, so it exists if and only if the import was saved, even if this worker
    # dies right after.
    if subscriber_import.basis == LawfulBasis.CONFIRM:
        send_import_confirmations.enqueue(subscriber_import.pk)


@task()
def send_import_confirmations(import_id: int) -> int:
    """One confirmation email per address a "confirm" import added, never twice."""
    return imports.send_import_confirmations(import_id=import_id)


@task()
def send_welcome_steps() -> dict:
    """Every step of the welcome series due now, once each
    (newsletter/delivery/series.py); queued by newsletter/recovery.py."""
    return dict(series.run_due())


@task()
def send_test_welcome_step(step_id: int, to: str) -> bool:
    step = WelcomeStep.objects.filter(pk=step_id).first()
    if step is None:
        return False
    emails.test_welcome_step_message(step=step, to=to).send()
    return True
