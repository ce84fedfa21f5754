"""What subscribers ask for, and what staff do to subscribers, imports and the
welcome email's settings; who may do what. Each change is recorded at once
(subscriptions.py for a subscriber's state) and the emails it needs are enqueued as
background tasks (newsletter/tasks.py) once the transaction has committed. Issues:
newsletter/issues/services.py.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from articles.public import Topic
from core.sanitize import sanitize_html
from newsletter.delivery.welcome import check_after
from newsletter.emails import check_greeting
from newsletter.models import (
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
    WelcomeEmail,
)
from newsletter.subscribers import imports
from newsletter.subscribers.subscriptions import (
    CONSENT_TEXT,
    CONSENT_VERSION,
    confirm,
    normalize_email,
    record_event,
)
from newsletter.tasks import (
    check_subscriber_import,
    queue_welcome_check,
    run_subscriber_import,
    send_confirmation_email,
    send_data_export,
    send_deletion_link,
    send_test_welcome,
    send_welcome_email,
)

Kind = SubscriberEvent.Kind


# Who may do what ------------------------------------------------------------------

# Permissions on Issue (Meta.permissions); the roles holding them are groups made
# by migrations (articles 0005, newsletter 0009).
SEND_PERMISSION = "newsletter.send_issue"
REVIEW_PERMISSION = "newsletter.review_issue"


def may(user: AbstractBaseUser | None, *permissions: str) -> bool:
    """Whether `user` is active staff holding one of `permissions` (superusers
    hold every one)."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and any(user.has_perm(permission) for permission in permissions)
    )


def require(user: AbstractBaseUser | None, *permissions: str, refusal: str) -> None:
    if not may(user, *permissions):
        raise PermissionDenied(refusal)


def _record_within_daily_limit(
    subscriber: Subscriber, kind: str, *, ip: str | None
) -> bool:
    """Record one more email of this kind to a subscriber, unless they had
    NEWSLETTER_CONFIRMATIONS_PER_DAY of them in the last 24 hours: a form must not
    be usable to flood someone's inbox. Returns whether it was recorded."""
    since = timezone.now() - timedelta(days=1)
    if (
        subscriber.events.filter(kind=kind, at__gte=since).count()
        >= settings.NEWSLETTER_CONFIRMATIONS_PER_DAY
    ):
        return False
    record_event(subscriber, kind, ip=ip)
    return True


def request_confirmation(*, subscriber: Subscriber, ip: str | None = None) -> bool:
    """Enqueue a confirmation email unless this address had its daily share.

    Returns whether one was enqueued. At most NEWSLETTER_CONFIRMATIONS_PER_DAY per
    address per 24 hours, so nobody can use the form to flood someone's inbox.
    """
    if not _record_within_daily_limit(subscriber, Kind.CONFIRMATION_SENT, ip=ip):
        return False
    transaction.on_commit(lambda: send_confirmation_email.enqueue(subscriber.pk))
    return True


def subscribe(
    *,
    email: str,
    first_name: str = "",
    source: str,
    ip: str | None,
    consent_text: str = CONSENT_TEXT,
    consent_version: str = CONSENT_VERSION,
    topics: Iterable[Topic] = (),
) -> None:
    """Start (or restart) double opt-in for an address.

    Returns nothing on purpose: the caller shows the same page whatever the address's
    state, so the form cannot tell anyone who is subscribed. Topics chosen on the
    form are kept for a new or restarted sign-up, never for a confirmed one (their
    preference page is where that changes).
    """
    email = normalize_email(email)
    topics = list(topics)
    consent = {
        "consent_text": consent_text,
        "consent_version": consent_version,
        "consent_source": source,
        "consent_at": timezone.now(),
        "consent_ip": ip,
    }
    try:
        with transaction.atomic():
            _subscribe(email, first_name.strip(), consent, ip, topics)
    except IntegrityError:
        # Two sign-ups for a new address at once: the other one created it.
        with transaction.atomic():
            _subscribe(email, first_name.strip(), consent, ip, topics)


def _subscribe(
    email: str, first_name: str, consent: dict, ip: str | None, topics: list[Topic]
) -> None:
    subscriber = Subscriber.objects.select_for_update().by_email(email).first()
    if subscriber is None:
        subscriber = Subscriber.objects.create(
            email=email, first_name=first_name, **consent
        )
        if topics:
            subscriber.topics.set(topics)
        record_event(
            subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"]
        )
        request_confirmation(subscriber=subscriber, ip=ip)
        return
    if subscriber.status == Subscriber.Status.CONFIRMED:
        return  # Already receiving the newsletter; nothing to send.
    # Pending, or had left: a new, explicit sign-up goes through double opt-in again.
    for name, value in consent.items():
        setattr(subscriber, name, value)
    if first_name:
        subscriber.first_name = first_name
    subscriber.status = Subscriber.Status.PENDING
    subscriber.save()
    if topics:
        subscriber.topics.set(topics)
    record_event(subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"])
    request_confirmation(subscriber=subscriber, ip=ip)


def confirm_subscription(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Confirm a pending subscription and queue its welcome email.

    The task is queued in the confirmation's own transaction (the database task
    backend stores it there): it exists if and only if the confirmation was saved,
    even if this process dies right after. Confirming again queues nothing.
    Imported subscribers who had already consented are not welcomed: they were
    subscribers elsewhere before.
    """
    return confirm(subscriber=subscriber, ip=ip, then=_queue_welcome)


def _queue_welcome(subscriber: Subscriber) -> None:
    send_welcome_email.enqueue(subscriber.pk)
    # A worker killed before it took the welcome's row left no follow-up of its own.
    queue_welcome_check(subscriber.pk, check_after(timezone.now()))


def save_welcome_email(
    *, welcome: WelcomeEmail, user: AbstractBaseUser
) -> WelcomeEmail:
    """Save the welcome email's draft, its body sanitised like an issue's.
    Subscribers keep getting the last approved text until a medical reviewer
    approves this one (approve_welcome)."""
    require(
        user,
        "newsletter.change_welcomeemail",
        refusal="You cannot change the welcome email.",
    )
    welcome.body = sanitize_html(html=welcome.body)
    welcome.greeting = welcome.greeting.strip()
    check_greeting(welcome.greeting)
    welcome.full_clean()
    welcome.save()
    return welcome


def send_welcome_test(*, to: str, user: AbstractBaseUser) -> None:
    """The saved welcome email (its draft) to a staff address, by the worker."""
    require(
        user,
        "newsletter.view_welcomeemail",
        "newsletter.change_welcomeemail",
        refusal="You cannot see the welcome email.",
    )
    transaction.on_commit(lambda: send_test_welcome.enqueue(to))


def request_data_export(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Email a subscriber everything we hold about them (at most 3 a day)."""
    if not _record_within_daily_limit(subscriber, Kind.DATA_EXPORTED, ip=ip):
        return False
    transaction.on_commit(lambda: send_data_export.enqueue(subscriber.pk))
    return True


def request_deletion(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Email the subscriber's current address a link that deletes their data.

    Deleting takes that link, not the data page: the data page is reached from
    unsubscribe links, which travel in headers and forwarded emails. At most
    NEWSLETTER_CONFIRMATIONS_PER_DAY a day, like the data export.
    """
    if not _record_within_daily_limit(subscriber, Kind.DELETION_REQUESTED, ip=ip):
        return False
    transaction.on_commit(lambda: send_deletion_link.enqueue(subscriber.pk))
    return True


# Imports ------------------------------------------------------------------------


class ImportRefused(Exception):
    pass


def create_import(
    *,
    file_name: str,
    text: str,
    basis: str,
    evidence: str,
    total_rows: int,
    user: AbstractBaseUser | None,
) -> SubscriberImport:
    """Keep an uploaded CSV (already readable: see imports.read_import_csv) and have
    a worker check every row once this transaction has committed."""
    subscriber_import = SubscriberImport.objects.create(
        file_name=file_name[:255],
        data=text,
        fingerprint=imports.fingerprint(text=text, basis=basis, evidence=evidence),
        basis=basis,
        evidence=evidence,
        status=SubscriberImport.Status.CHECKING,
        total_rows=total_rows,
        created_by=user,
    )
    transaction.on_commit(lambda: check_subscriber_import.enqueue(subscriber_import.pk))
    return subscriber_import


def start_import(*, subscriber_import: SubscriberImport) -> None:
    """Import a checked file's new addresses, in a worker; its rows with errors
    are left out.

    One conditional UPDATE: a second press, a refresh or two staff members at once
    start it once, and a refused file (imports.file_refusal) can never be imported.
    """
    started = SubscriberImport.objects.filter(
        pk=subscriber_import.pk,
        status=SubscriberImport.Status.CHECKED,
        added__gt=0,
    ).update(status=SubscriberImport.Status.IMPORTING, started_at=timezone.now())
    if not started:
        subscriber_import.refresh_from_db()
        raise ImportRefused(
            "This import cannot be started: it is "
            f"“{subscriber_import.get_status_display()}”"
            + (
                " with no new addresses."
                if subscriber_import.status == SubscriberImport.Status.CHECKED
                else "."
            )
        )
    transaction.on_commit(lambda: run_subscriber_import.enqueue(subscriber_import.pk))
    subscriber_import.refresh_from_db()
