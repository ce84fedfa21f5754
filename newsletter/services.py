"""What subscribers and staff ask for: each change is recorded at once
(subscriptions.py for a subscriber's state) and the emails and sends it needs are
enqueued as background tasks (tasks.py) once the transaction has committed.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.sanitize import sanitize_html
from newsletter.emails import check_greeting
from newsletter.models import (
    Delivery,
    Issue,
    LawfulBasis,
    Subscriber,
    SubscriberEvent,
)
from newsletter.selectors import featured_refusal
from newsletter.subscriptions import normalize_email, record_event
from newsletter.tasks import (
    send_confirmation_email,
    send_data_export,
    send_issue,
    send_test_issue,
    start_issue_send,
)

CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = (
    "Yes, email me the Skincare newsletter: beauty resources, tips, and news, about "
    "twice a month. I can unsubscribe at any time with one click."
)
Kind = SubscriberEvent.Kind


def request_confirmation(*, subscriber: Subscriber, ip: str | None = None) -> bool:
    """Enqueue a confirmation email unless this address had its daily share.

    Returns whether one was enqueued. At most NEWSLETTER_CONFIRMATIONS_PER_DAY per
    address per 24 hours, so nobody can use the form to flood someone's inbox.
    """
    since = timezone.now() - timedelta(days=1)
    sent_today = subscriber.events.filter(
        kind=Kind.CONFIRMATION_SENT, at__gte=since
    ).count()
    if sent_today >= settings.NEWSLETTER_CONFIRMATIONS_PER_DAY:
        return False
    record_event(subscriber, Kind.CONFIRMATION_SENT, ip=ip)
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
) -> None:
    """Start (or restart) double opt-in for an address.

    Returns nothing on purpose: the caller shows the same page whatever the address's
    state, so the form cannot tell anyone who is subscribed.
    """
    email = normalize_email(email)
    consent = {
        "consent_text": consent_text,
        "consent_version": consent_version,
        "consent_source": source,
        "consent_at": timezone.now(),
        "consent_ip": ip,
    }
    try:
        with transaction.atomic():
            _subscribe(email, first_name.strip(), consent, ip)
    except IntegrityError:
        # Two sign-ups for a new address at once: the other one created it.
        with transaction.atomic():
            _subscribe(email, first_name.strip(), consent, ip)


def _subscribe(email: str, first_name: str, consent: dict, ip: str | None) -> None:
    subscriber = Subscriber.objects.select_for_update().by_email(email).first()
    if subscriber is None:
        subscriber = Subscriber.objects.create(
            email=email, first_name=first_name, **consent
        )
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
    record_event(subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"])
    request_confirmation(subscriber=subscriber, ip=ip)


def request_data_export(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Email a subscriber everything we hold about them (at most 3 a day)."""
    since = timezone.now() - timedelta(days=1)
    if (
        subscriber.events.filter(kind=Kind.DATA_EXPORTED, at__gte=since).count()
        >= settings.NEWSLETTER_CONFIRMATIONS_PER_DAY
    ):
        return False
    record_event(subscriber, Kind.DATA_EXPORTED, ip=ip)
    transaction.on_commit(lambda: send_data_export.enqueue(subscriber.pk))
    return True


# Imports ------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    email: str
    first_name: str
    outcome: str = ""
    error: str = ""


@dataclass
class ImportReport:
    rows: list[ImportRow] = field(default_factory=list)
    dry_run: bool = True

    @property
    def errors(self) -> list[ImportRow]:
        return [row for row in self.rows if row.error]

    @property
    def added(self) -> int:
        return sum(1 for row in self.rows if row.outcome == "added")


MAX_IMPORT_ROWS = 50_000


def read_import_csv(data: bytes) -> list[ImportRow]:
    """Rows of a CSV with an 'email' column and an optional 'first_name' column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("The file is not UTF-8 text.") from exc
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in headers:
        raise ValidationError(
            "The first line must name the columns, including 'email'."
        )
    reader.fieldnames = headers
    rows = []
    for number, record in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            raise ValidationError(f"At most {MAX_IMPORT_ROWS} rows per file.")
        rows.append(
            ImportRow(
                line=number,
                email=(record.get("email") or "").strip(),
                first_name=(record.get("first_name") or "").strip(),
            )
        )
    return rows


def import_subscribers(
    *,
    rows: list[ImportRow],
    basis: str,
    evidence: str,
    dry_run: bool,
) -> ImportReport:
    """Add imported addresses. Nothing is written on a dry run or if any row fails."""
    report = ImportReport(rows=rows, dry_run=dry_run)
    seen: set[str] = set()
    # A few queries for the whole file (SQLite caps the parameters of one query),
    # case-insensitive like the unique constraint.
    wanted = sorted({normalize_email(r.email).lower() for r in rows})
    existing: set[str] = set()
    for start in range(0, len(wanted), 5000):
        existing.update(
            Subscriber.objects.annotate(lower_email=Lower("email"))
            .filter(lower_email__in=wanted[start : start + 5000])
            .values_list("lower_email", flat=True)
        )
    for row in rows:
        email = normalize_email(row.email)
        try:
            validate_email(email)
        except ValidationError:
            row.error = f"'{row.email}' is not a valid email address."
            continue
        if len(email) > 254:
            row.error = "The address is longer than 254 characters."
        elif len(row.first_name) > 100:
            row.error = "The first name is longer than 100 characters."
        elif email.lower() in seen:
            row.error = "This address is in the file twice."
        elif email.lower() in existing:
            row.outcome = "already a subscriber (left unchanged)"
        else:
            row.outcome = "added"
        seen.add(email.lower())
    if dry_run or report.errors:
        return report
    now = timezone.now()
    confirmed = basis == LawfulBasis.CONSENTED
    basis_text = LawfulBasis(basis).label
    with transaction.atomic():
        for row in rows:
            if row.outcome != "added":
                continue
            subscriber = Subscriber.objects.create(
                email=normalize_email(row.email),
                first_name=row.first_name,
                status=(
                    Subscriber.Status.CONFIRMED
                    if confirmed
                    else Subscriber.Status.PENDING
                ),
                consent_text=CONSENT_TEXT if not confirmed else basis_text,
                consent_version=CONSENT_VERSION if not confirmed else "import",
                consent_source=Subscriber.Source.IMPORT,
                consent_at=now,
                lawful_basis=f"{basis_text}. Evidence: {evidence}"[:300],
                confirmed_at=now if confirmed else None,
            )
            record_event(subscriber, Kind.IMPORTED, detail=f"{basis_text}. {evidence}")
            if not confirmed:
                request_confirmation(subscriber=subscriber)
    return report


# Issues -------------------------------------------------------------------------


def save_issue(*, issue: Issue) -> Issue:
    """Save an issue's content, sanitised. A scheduled or sent issue cannot change."""
    if (
        issue.pk
        and Issue.objects.filter(pk=issue.pk)
        .exclude(status=Issue.Status.DRAFT)
        .exists()
    ):
        raise ValidationError(
            "This issue is scheduled or sent and can no longer change."
        )
    issue.body = sanitize_html(html=issue.body)
    issue.greeting = issue.greeting.strip()
    check_greeting(issue.greeting)
    issue.full_clean()
    issue.save()
    return issue


class SendRefused(Exception):
    pass


def schedule_send(*, issue: Issue, at: datetime | None = None) -> int:
    """Send a draft issue now or at a time. Returns how many would receive it now.

    The status change is one conditional UPDATE, so two staff members pressing
    "send" at once start one send, and a sent issue can never be sent again.
    Refused while a featured article is not live (checked again when the send
    starts: sending.start_send).
    """
    when = at or timezone.now()
    refusal = featured_refusal(issue)
    if refusal:
        raise SendRefused(refusal)
    with transaction.atomic():
        changed = Issue.objects.filter(pk=issue.pk, status=Issue.Status.DRAFT).update(
            status=Issue.Status.SCHEDULED,
            scheduled_at=when,
            not_sent_reason="",
            updated_at=timezone.now(),
        )
        if not changed:
            raise SendRefused("This issue has already been scheduled or sent.")
        task = start_issue_send
        if when > timezone.now():
            task = task.using(run_after=when)
        transaction.on_commit(lambda: task.enqueue(issue.pk))
    issue.refresh_from_db()
    return Subscriber.objects.confirmed().count()


# How long a due issue may wait for a worker to start its send before the admin says
# no worker seems to be running, and lets staff cancel it.
START_GRACE = timedelta(seconds=60)


def start_overdue(issue: Issue) -> bool:
    """A due scheduled issue that no worker has started within START_GRACE."""
    return (
        issue.status == Issue.Status.SCHEDULED
        and issue.scheduled_at is not None
        and issue.scheduled_at <= timezone.now() - START_GRACE
    )


def cancel_schedule(*, issue: Issue) -> None:
    """Back to draft, if the send has not started yet.

    Refused while a due issue is starting (a worker may be creating its deliveries
    right now), until START_GRACE has passed without one.
    """
    now = timezone.now()
    changed = (
        Issue.objects.filter(pk=issue.pk, status=Issue.Status.SCHEDULED)
        .filter(Q(scheduled_at__gt=now) | Q(scheduled_at__lte=now - START_GRACE))
        .update(status=Issue.Status.DRAFT, scheduled_at=None, updated_at=now)
    )
    if not changed:
        issue.refresh_from_db()
        if issue.status == Issue.Status.SCHEDULED:
            raise SendRefused(
                "This issue is starting: a worker may be creating its deliveries "
                "now. If none has started it within a minute, you can cancel it."
            )
        raise SendRefused("This issue is not scheduled (it may have started sending).")
    issue.refresh_from_db()


def send_test(*, issue: Issue, to: str) -> None:
    transaction.on_commit(lambda: send_test_issue.enqueue(issue.pk, to))


def resume_send(*, issue: Issue) -> int:
    """Start a worker task on an issue that is sending (after a worker died).

    Returns how many deliveries are queued for it. Claims of dead workers are
    settled by the task itself, once their lease has run out.
    """
    if issue.status != Issue.Status.SENDING:
        raise SendRefused("Only an issue that is sending can be resumed.")
    transaction.on_commit(lambda: send_issue.enqueue(issue.pk))
    return issue.deliveries.filter(status=Delivery.Status.QUEUED).count()
