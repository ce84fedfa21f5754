"""Writes with side effects for subscribers and issues.

Emails are never sent here: these functions record what happened and enqueue
background tasks (newsletter/tasks.py) once the transaction has committed.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Lower, Substr
from django.utils import timezone

from articles.services import sanitize_html
from newsletter.models import Delivery, Issue, Subscriber, SubscriberEvent

CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = (
    "Yes, email me the Skincare newsletter: beauty resources, tips, and news, about "
    "twice a month. I can unsubscribe at any time with one click."
)
Kind = SubscriberEvent.Kind


def normalize_email(email: str) -> str:
    """Trim, and lowercase the domain (the local part is the mailbox's business)."""
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else email.strip()


def _record(
    subscriber: Subscriber, kind: str, *, ip: str | None = None, detail: str = ""
) -> None:
    SubscriberEvent.objects.create(
        subscriber=subscriber, kind=kind, ip=ip, detail=detail[:500]
    )


def request_confirmation(*, subscriber: Subscriber, ip: str | None = None) -> bool:
    """Enqueue a confirmation email unless this address had its daily share.

    Returns whether one was enqueued. At most NEWSLETTER_CONFIRMATIONS_PER_DAY per
    address per 24 hours, so nobody can use the form to flood someone's inbox.
    """
    from newsletter.tasks import send_confirmation_email

    since = timezone.now() - timedelta(days=1)
    sent_today = subscriber.events.filter(
        kind=Kind.CONFIRMATION_SENT, at__gte=since
    ).count()
    if sent_today >= settings.NEWSLETTER_CONFIRMATIONS_PER_DAY:
        return False
    _record(subscriber, Kind.CONFIRMATION_SENT, ip=ip)
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
        _record(subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"])
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
    _record(subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"])
    request_confirmation(subscriber=subscriber, ip=ip)


def confirm(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Confirm a pending subscription. Returns whether it is confirmed now."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.status == Subscriber.Status.CONFIRMED:
            return True
        if subscriber.status != Subscriber.Status.PENDING:
            # An old link must not re-subscribe someone who has since left.
            return False
        subscriber.status = Subscriber.Status.CONFIRMED
        subscriber.confirmed_at = timezone.now()
        subscriber.confirmed_ip = ip
        subscriber.save()
        _record(subscriber, Kind.CONFIRMED, ip=ip)
    return True


LEAVING_STATUS = {
    Subscriber.LeftHow.BOUNCE: (Subscriber.Status.BOUNCED, Kind.BOUNCED),
    Subscriber.LeftHow.COMPLAINT: (Subscriber.Status.COMPLAINED, Kind.COMPLAINED),
}


def unsubscribe(
    *, subscriber: Subscriber, how: str, ip: str | None = None, detail: str = ""
) -> None:
    """Stop all email to a subscriber at once. Safe to repeat."""
    status, kind = LEAVING_STATUS.get(
        how, (Subscriber.Status.UNSUBSCRIBED, Kind.UNSUBSCRIBED)
    )
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.status == status:
            return
        if (
            subscriber.status
            in {
                Subscriber.Status.BOUNCED,
                Subscriber.Status.COMPLAINED,
            }
            and status == Subscriber.Status.UNSUBSCRIBED
        ):
            return  # Already receives nothing; keep the stronger reason.
        subscriber.status = status
        subscriber.left_at = timezone.now()
        subscriber.left_how = how
        subscriber.save()
        _record(subscriber, kind, ip=ip, detail=detail)


def subscriber_data(subscriber: Subscriber) -> dict:
    """Everything we hold about a subscriber, for their data request."""
    return {
        "email": subscriber.email,
        "first_name": subscriber.first_name,
        "status": subscriber.get_status_display(),
        "signed_up_from": subscriber.get_consent_source_display(),
        "consent_text": subscriber.consent_text,
        "consent_version": subscriber.consent_version,
        "consent_at": subscriber.consent_at,
        "consent_ip": subscriber.consent_ip,
        "lawful_basis": subscriber.lawful_basis,
        "confirmed_at": subscriber.confirmed_at,
        "left_at": subscriber.left_at,
        "left_how": subscriber.get_left_how_display() if subscriber.left_how else "",
        "history": [
            {"at": e.at, "event": e.get_kind_display(), "ip": e.ip}
            for e in subscriber.events.all()
        ],
        "issues_sent": list(
            subscriber.deliveries.filter(status=Delivery.Status.SENT)
            .order_by("sent_at")
            .values_list("issue__subject", "sent_at")
        ),
    }


def request_data_export(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Email a subscriber everything we hold about them (at most 3 a day)."""
    from newsletter.tasks import send_data_export

    since = timezone.now() - timedelta(days=1)
    if (
        subscriber.events.filter(kind=Kind.DATA_EXPORTED, at__gte=since).count()
        >= settings.NEWSLETTER_CONFIRMATIONS_PER_DAY
    ):
        return False
    _record(subscriber, Kind.DATA_EXPORTED, ip=ip)
    transaction.on_commit(lambda: send_data_export.enqueue(subscriber.pk))
    return True


def delete_subscriber(*, subscriber: Subscriber) -> None:
    """Erase a subscriber and their history. Past deliveries stay, anonymous."""
    subscriber.delete()


def prune_unconfirmed(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Delete sign-ups never confirmed and last asked for before `older_than` ago."""
    stale = Subscriber.objects.unconfirmed_before(timezone.now() - older_than)
    count = stale.count()
    if not dry_run:
        stale.delete()
    return count


# Imports ------------------------------------------------------------------------


class LawfulBasis:
    """What an imported list rests on. Only recorded consent skips double opt-in."""

    CONFIRM = "confirm"
    CONSENTED = "consented"
    CHOICES = [
        (CONFIRM, "Ask each address to confirm (double opt-in email)"),
        (
            CONSENTED,
            "They already gave consent to receive this newsletter (recorded, no email)",
        ),
    ]


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
    basis_text = dict(LawfulBasis.CHOICES)[basis]
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
            _record(subscriber, Kind.IMPORTED, detail=f"{basis_text}. {evidence}")
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
    issue.full_clean()
    issue.save()
    return issue


class SendRefused(Exception):
    pass


def schedule_send(*, issue: Issue, at: datetime | None = None) -> int:
    """Send a draft issue now or at a time. Returns how many would receive it now.

    The status change is one conditional UPDATE, so two staff members pressing
    "send" at once start one send, and a sent issue can never be sent again.
    """
    from newsletter.tasks import start_issue_send

    when = at or timezone.now()
    with transaction.atomic():
        changed = Issue.objects.filter(pk=issue.pk, status=Issue.Status.DRAFT).update(
            status=Issue.Status.SCHEDULED, scheduled_at=when, updated_at=timezone.now()
        )
        if not changed:
            raise SendRefused("This issue has already been scheduled or sent.")
        task = start_issue_send
        if when > timezone.now():
            task = task.using(run_after=when)
        transaction.on_commit(lambda: task.enqueue(issue.pk))
    issue.refresh_from_db()
    return Subscriber.objects.confirmed().count()


def cancel_schedule(*, issue: Issue) -> None:
    """Back to draft, if the send has not started yet."""
    changed = Issue.objects.filter(pk=issue.pk, status=Issue.Status.SCHEDULED).update(
        status=Issue.Status.DRAFT, scheduled_at=None, updated_at=timezone.now()
    )
    if not changed:
        raise SendRefused("This issue is not scheduled (it may have started sending).")
    issue.refresh_from_db()


def send_test(*, issue: Issue, to: str) -> None:
    from newsletter.tasks import send_test_issue

    transaction.on_commit(lambda: send_test_issue.enqueue(issue.pk, to))


def resend_uncertain(*, issue: Issue, by: str = "") -> int:
    """Queue an issue's uncertain deliveries again, at staff's request.

    Uncertain means a worker stopped while sending: the message may have arrived,
    or may never have left. Staff may prefer a possible second copy (same
    Message-ID, so many servers and clients drop it) to a reader missing the
    issue. Returns how many were queued; a sent issue is sending again until they
    are done, then keeps its first sent date.
    """
    from newsletter.tasks import send_issue

    now = timezone.now()
    note = f"Uncertain; queued again on {now:%Y-%m-%d %H:%M} UTC"
    note += f" by {by}. " if by else ". "
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue.pk)
        if issue.status not in {Issue.Status.SENDING, Issue.Status.SENT}:
            raise SendRefused("Only an issue that is sending or sent has deliveries.")
        # claim=None: a stalled worker that still holds the old claim can no
        # longer write to these rows (its writes are fenced by its claim).
        count = issue.deliveries.filter(status=Delivery.Status.UNCERTAIN).update(
            status=Delivery.Status.QUEUED,
            claim=None,
            next_attempt_at=now,
            error=Substr(Concat(Value(note), F("error")), 1, 500),
            updated_at=now,
        )
        if count:
            Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENT).update(
                status=Issue.Status.SENDING, updated_at=now
            )
            transaction.on_commit(lambda: send_issue.enqueue(issue.pk))
    return count
