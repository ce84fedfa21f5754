"""CSV imports of subscribers, run by worker tasks (tasks.py): check, then import.

Staff upload a file (services.create_import); a task checks every row and keeps
progress and a report on the SubscriberImport: a row with an error (a bad address,
a name the sign-up form would refuse, names.py) is refused and listed with its line
and the reason. Once staff start it (services.start_import), another task adds the
other rows' new addresses in one transaction, so a failure or a killed worker saves
nothing, and a third sends the confirmation emails. Each step is idempotent:
running it again never writes or sends twice. Nothing here enqueues tasks (tasks.py
imports this module).
"""

import csv
import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Model, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone

from newsletter import emails
from newsletter.models import LawfulBasis, Subscriber, SubscriberEvent, SubscriberImport
from newsletter.subscribers.names import name_problem
from newsletter.subscribers.subscriptions import (
    CONSENT_TEXT,
    CONSENT_VERSION,
    normalize_email,
)

logger = logging.getLogger(__name__)

Status = SubscriberImport.Status
Kind = SubscriberEvent.Kind

MAX_IMPORT_ROWS = 100_000
# Rows looked up per query and checked between two progress saves.
CHECK_CHUNK = 5000
# Rows per executemany (see insert_rows).
WRITE_BATCH = 5000
# Rows kept in SubscriberImport.report: every error first, then the first rows'
# outcomes. A file with more errors than this is refused whole: every row left out
# of an import is listed.
REPORT_ROWS = 1000
# Subscribers read at a time while sending confirmation emails.
SEND_CHUNK = 500

ADDED = "added"
EXISTING = "already a subscriber (left unchanged)"
CONCURRENT_DUPLICATE = (
    "An address in this file was added to the list by someone else while it was "
    "being imported, so nothing was imported. Upload the file again: it will be "
    "checked against the list as it is now."
)


class ImportFailed(Exception):
    """Refused inside the import's transaction: the message says why."""


@dataclass(slots=True)
class ImportRow:
    line: int
    email: str
    first_name: str
    outcome: str = ""
    error: str = ""


@dataclass(frozen=True)
class CheckResult:
    rows: list[ImportRow]
    added: int
    existing: int
    errors: int


def fingerprint(*, text: str, basis: str, evidence: str) -> str:
    """The same file with the same basis and evidence has the same fingerprint."""
    return hashlib.sha256(
        "\0".join([text, basis, evidence]).encode("utf-8")
    ).hexdigest()


def decode_import_file(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("The file is not UTF-8 text.") from exc


def read_import_csv(text: str) -> list[ImportRow]:
    """Rows of a CSV with an 'email' column and an optional 'first_name' column,
    each with the line of the file it starts on (a quoted value may hold line
    breaks, so rows and lines can differ). Blank lines are skipped."""
    # newline="": the csv module reads line breaks itself, inside quotes too.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = [h.strip().lower() for h in next(reader, [])]
        if "email" not in headers:
            raise ValidationError(
                "The first line must name the columns, including 'email'."
            )
        email_at = headers.index("email")
        name_at = headers.index("first_name") if "first_name" in headers else None
        rows = []
        next_line = reader.line_num + 1
        for record in reader:
            line, next_line = next_line, reader.line_num + 1
            if not record:
                continue
            if len(rows) == MAX_IMPORT_ROWS:
                raise ValidationError(
                    f"At most {MAX_IMPORT_ROWS:,} rows per file. Split it into "
                    "smaller files."
                )
            rows.append(
                ImportRow(
                    line=line,
                    email=_cell(record, email_at),
                    first_name=_cell(record, name_at),
                )
            )
    except csv.Error as exc:
        raise ValidationError(
            f"The file could not be read as CSV near line {reader.line_num}: {exc}."
        ) from exc
    return rows


def _cell(record: list[str], index: int | None) -> str:
    return record[index].strip() if index is not None and index < len(record) else ""


def existing_addresses(lowered: list[str]) -> set[str]:
    """Which of these lowercased addresses are on the list (as the unique
    constraint on lower(email) sees them)."""
    return set(
        Subscriber.objects.annotate(lower_email=Lower("email"))
        .filter(lower_email__in=lowered)
        .values_list("lower_email", flat=True)
    )


def check_rows(
    rows: list[ImportRow], *, progress: Callable[[int], None] | None = None
) -> CheckResult:
    """Give each row its outcome or error, a chunk of rows per query."""
    seen: dict[str, int] = {}
    added = existing_count = errors = 0
    for start in range(0, len(rows), CHECK_CHUNK):
        chunk = rows[start : start + CHECK_CHUNK]
        existing = existing_addresses(
            sorted({normalize_email(row.email).lower() for row in chunk})
        )
        for row in chunk:
            email = normalize_email(row.email)
            lowered = email.lower()
            try:
                validate_email(email)
            except ValidationError:
                row.error = f"'{row.email}' is not a valid email address."
                errors += 1
                continue
            if len(email) > 254:
                row.error = "The address is longer than 254 characters."
            elif problem := name_problem(row.first_name):
                row.error = problem
            elif lowered in seen:
                first = seen[lowered]
                row.error = (
                    f"This address is in the file twice (first on line {first})."
                )
            elif lowered in existing:
                row.outcome = EXISTING
                existing_count += 1
            else:
                row.outcome = ADDED
                added += 1
            if row.error:
                errors += 1
            else:
                # A refused row does not take its address: a later, clean row
                # with it goes in.
                seen[lowered] = row.line
        if progress is not None:
            progress(start + len(chunk))
    return CheckResult(rows=rows, added=added, existing=existing_count, errors=errors)


def file_refusal(result: CheckResult) -> str:
    """Why no row of a checked file can be imported, or "" when its rows without
    an error can."""
    if result.errors > REPORT_ROWS:
        return (
            f"{result.errors:,} rows have errors, more than can be listed (at most "
            f"{REPORT_ROWS:,}): nothing can be imported from this file."
        )
    if result.errors and result.errors == len(result.rows):
        return "Every row has an error: nothing can be imported from this file."
    return ""


def report_rows(rows: list[ImportRow]) -> list[dict]:
    """Errors first (with their line numbers), then the first rows' outcomes."""
    failed = [row for row in rows if row.error][:REPORT_ROWS]
    shown = failed + [row for row in rows[:REPORT_ROWS] if not row.error]
    return [
        {
            "line": row.line,
            "email": row.email,
            "first_name": row.first_name,
            "outcome": row.outcome,
            "error": row.error,
        }
        for row in shown[: max(REPORT_ROWS, len(failed))]
    ]


def check_import(*, import_id: int) -> str:
    """Check every row of an uploaded file: CHECKED (its rows without an error
    can be imported), or REFUSED (file_refusal says why).

    Progress is saved (and committed) every CHECK_CHUNK rows for the page to show.
    Returns the import's status; one already checked is left as it is.
    """
    found = SubscriberImport.objects.filter(pk=import_id).first()
    if found is None or found.status != Status.CHECKING:
        return found.status if found else ""
    queryset = SubscriberImport.objects.filter(pk=import_id, status=Status.CHECKING)
    rows = read_import_csv(found.data)
    queryset.update(total_rows=len(rows), rows_done=0)
    result = check_rows(rows, progress=lambda done: queryset.update(rows_done=done))
    refusal = file_refusal(result)
    status = Status.REFUSED if refusal else Status.CHECKED
    queryset.update(
        status=status,
        total_rows=len(rows),
        rows_done=len(rows),
        added=result.added,
        existing=result.existing,
        error_count=result.errors,
        report=report_rows(rows),
        error=refusal,
    )
    return status


def run_import(
    *,
    import_id: int,
    then: Callable[[SubscriberImport], None] | None = None,
) -> bool:
    """Add the new addresses of a checked file, all or nothing, in one transaction
    (rows with an error are left out, as the check listed them).

    `then` runs last inside that transaction (to enqueue what follows an import).
    Returns whether this call imported it. An import that is not IMPORTING (done,
    failed, or never started) is left as it is, so running it again does nothing.
    """
    try:
        with transaction.atomic():
            return _import(import_id, then)
    except ImportFailed as exc:
        _fail(import_id, str(exc))
        return False
    except IntegrityError:
        # The unique constraint on lower(email): another import or a sign-up added
        # one of these addresses after our check. Our transaction is rolled back.
        _fail(import_id, CONCURRENT_DUPLICATE)
        return False
    except Exception as exc:
        logger.exception("Subscriber import %s failed", import_id)
        _fail(
            import_id,
            f"The import stopped with an error ({exc.__class__.__name__}); nothing "
            "was imported. Try again, or tell a developer if it happens again.",
        )
        raise


def _import(import_id: int, then: Callable[[SubscriberImport], None] | None) -> bool:
    now = timezone.now()
    # Taking the import as DONE first, in the same transaction, makes a second
    # copy of this task wait here (row lock; SQLite's write lock) and then find
    # nothing to do; if anything below fails, the status rolls back with the rest.
    claimed = SubscriberImport.objects.filter(
        pk=import_id, status=Status.IMPORTING
    ).update(status=Status.DONE, finished_at=now)
    if not claimed:
        return False
    found = SubscriberImport.objects.get(pk=import_id)
    rows = read_import_csv(found.data)
    # Checked again inside the transaction: the list may have changed since.
    result = check_rows(rows)
    refusal = file_refusal(result)
    if refusal:
        raise ImportFailed(refusal)
    confirmed = found.basis == LawfulBasis.CONSENTED
    basis_text = LawfulBasis(found.basis).label
    insert_rows(
        Subscriber,
        columns=["email", "first_name"],
        values=[
            (normalize_email(row.email), row.first_name)
            for row in rows
            if row.outcome == ADDED
        ],
        shared={
            "status": (
                Subscriber.Status.CONFIRMED if confirmed else Subscriber.Status.PENDING
            ),
            "consent_text": basis_text if confirmed else CONSENT_TEXT,
            "consent_version": "import" if confirmed else CONSENT_VERSION,
            "consent_source": Subscriber.Source.IMPORT,
            "consent_at": now,
            "lawful_basis": f"{basis_text}. Evidence: {found.evidence}"[:300],
            "confirmed_at": now if confirmed else None,
            "imported_from": found.pk,
        },
        now=now,
    )
    insert_rows(
        SubscriberEvent,
        columns=["subscriber"],
        values=[
            (pk,)
            for pk in Subscriber.objects.filter(imported_from=found)
            .order_by("pk")
            .values_list("pk", flat=True)
        ],
        shared={
            "kind": Kind.IMPORTED,
            "at": now,
            "detail": f"{basis_text}. {found.evidence}"[:500],
        },
        now=now,
    )
    SubscriberImport.objects.filter(pk=import_id).update(
        rows_done=len(rows),
        added=result.added,
        existing=result.existing,
        error_count=result.errors,
        report=report_rows(rows),
        error="",
    )
    if then is not None:
        then(found)
    return True


def insert_rows(
    model: type[Model],
    *,
    columns: list[str],
    values: list[tuple],
    shared: dict,
    now: datetime,
) -> None:
    """Write rows that differ only in `columns`: COPY on PostgreSQL, elsewhere
    an executemany of a one-row INSERT per WRITE_BATCH rows (as many parameters
    as columns, whatever SQLite's cap).

    bulk_create prepares every value of every object in Python, which was most
    of the time of a 100,000-row import; here the shared values are prepared once.
    Fields given nowhere get their default; auto_now and auto_now_add fields get
    `now`.
    """
    given = {*columns, *shared}
    prepared = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in columns:
            continue
        if field.name in shared:
            value = shared[field.name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        prepared[field] = field.get_db_prep_save(value, connection=connection)
    unknown = given - {f.name for f in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no field(s) {sorted(unknown)}")
    fields = [model._meta.get_field(name) for name in columns] + list(prepared)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(field.column) for field in fields)
    rest = tuple(prepared.values())
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            # COPY streams the rows: no statement to parse, no parameter cap.
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row((*row, *rest))
            return
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            table, names, ", ".join(["%s"] * len(fields))
        )
        for start in range(0, len(values), WRITE_BATCH):
            batch = values[start : start + WRITE_BATCH]
            cursor.executemany(sql, [(*row, *rest) for row in batch])


def _fail(import_id: int, reason: str) -> None:
    SubscriberImport.objects.filter(pk=import_id, status=Status.IMPORTING).update(
        status=Status.FAILED, error=reason[:500], finished_at=timezone.now()
    )


def send_import_confirmations(*, import_id: int) -> int:
    """One confirmation email to each address a "confirm" import added.

    Each send is recorded (CONFIRMATION_SENT) right after it, and addresses that
    have one since the import are skipped, so running this again sends nothing
    twice. Those that confirmed, left or were deleted since get nothing. Returns
    how many were sent.
    """
    found = SubscriberImport.objects.filter(pk=import_id).first()
    if (
        found is None
        or found.status != Status.DONE
        or found.basis != LawfulBasis.CONFIRM
    ):
        return 0
    since = found.started_at or found.created_at
    already = SubscriberEvent.objects.filter(
        subscriber=OuterRef("pk"), kind=Kind.CONFIRMATION_SENT, at__gte=since
    )
    waiting = (
        found.subscribers.filter(status=Subscriber.Status.PENDING)
        .exclude(Exists(already))
        .order_by("pk")
    )
    # The ids first: the emails are sent while events are written.
    ids = list(waiting.values_list("pk", flat=True))
    sent = 0
    with get_connection() as mail:
        for start in range(0, len(ids), SEND_CHUNK):
            chunk = Subscriber.objects.filter(pk__in=ids[start : start + SEND_CHUNK])
            for subscriber in chunk.order_by("pk"):
                message = emails.confirmation_message(subscriber=subscriber)
                message.connection = mail
                message.send()
                SubscriberEvent.objects.create(
                    subscriber=subscriber,
                    kind=Kind.CONFIRMATION_SENT,
                    detail=f"CSV import {import_id}",
                )
                sent += 1
    return sent
