"""The claim/lease protocol: which worker may send which deliveries, and fencing
every write of a worker that stalled past its lease.

- A worker claims a batch of queued deliveries under a SendClaim (PostgreSQL:
  SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the IMMEDIATE transaction holds the
  write lock), then sends them one by one in ascending id over one SMTP connection,
  recording each outcome before starting the next message.
- So if a worker dies, at most one delivery of its claim can be in flight: the lowest
  id still marked "sending". Recovery marks that one uncertain (reported to staff,
  never resent blindly) and puts the rest of the claim back in the queue. A claim is
  dead when its heartbeat is older than NEWSLETTER_CLAIM_LEASE_SECONDS.
- Every write a worker makes for its batch is fenced by its claim: it changes a row
  only while that row is still "sending" under this claim. A worker that stalled
  (SIGSTOP, a VM pause, a long GC) past its lease and lost its claim to recovery
  finds out at its next write or heartbeat, and stops before its next DATA; it also
  stops by itself before DATA once half its lease has passed without a confirmed
  heartbeat (time.monotonic() keeps running while a process is stopped). So after
  losing its claim a worker sends at most the one message recovery counted as
  uncertain, and when it runs again it records how that message really went.
- No write transaction is ever open during SMTP I/O: a claim is one UPDATE, each
  outcome one autocommitted UPDATE (on SQLite a stopped writer would otherwise
  block every other writer of the database).
- A sent delivery records the id its message was accepted under (our Message-ID
  over SMTP, the provider's id through its API) in the same write, so bounces and
  complaints reported later find it (newsletter/delivery/bounces.py).
- Every write that changes a delivery's status moves the issue's counters in the
  same statement or transaction, by the rows it changed
  (newsletter/models/counters.py): the claim's own columns while it is open,
  added to the issue's once when it closes.
"""

import os
import socket
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.utils import timezone
from psycopg import pq

from newsletter.models import Delivery, Issue, SendClaim, counters

HEARTBEAT_EVERY_SECONDS = 5


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


UNCERTAIN_ERROR = (
    "The worker stopped while sending this message; it may or may not have gone "
    "out, so it was not sent again."
)


def recover_stale_claims(*, issue: Issue, lease: timedelta | None = None) -> int:
    """Settle the claims of dead workers. Returns how many were uncertain."""
    if lease is None:
        lease = timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS)
    uncertain = 0
    cutoff = timezone.now() - lease
    stale = SendClaim.objects.filter(
        issue=issue, finished_at=None, heartbeat_at__lt=cutoff
    )
    for claim_id in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            # Its open deliveries are locked first, then the claim: the order
            # its worker's writes take them in (newsletter/models/counters.py),
            # so the two never deadlock. Its fenced writes wait for (PostgreSQL)
            # or follow (SQLite) this transaction.
            open_ids = list(
                Delivery.objects.select_for_update()
                .filter(claim_id=claim_id, status=Delivery.Status.SENDING)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            # Checked again under lock: its worker may have beaten since.
            if not stale.select_for_update().filter(pk=claim_id).exists():
                continue
            if open_ids:
                uncertain += 1
                marked = Delivery.objects.filter(pk=open_ids[0]).update(
                    status=Delivery.Status.UNCERTAIN,
                    error=UNCERTAIN_ERROR,
                    updated_at=timezone.now(),
                )
                counters.claim_outcome(
                    claim_id=claim_id, status=Delivery.Status.UNCERTAIN, count=marked
                )
                requeued = Delivery.objects.filter(
                    claim_id=claim_id, status=Delivery.Status.SENDING
                ).update(
                    status=Delivery.Status.QUEUED, claim=None, updated_at=timezone.now()
                )
                counters.claim_outcome(
                    claim_id=claim_id, status=Delivery.Status.QUEUED, count=requeued
                )
            SendClaim.objects.filter(pk=claim_id).update(finished_at=timezone.now())
            counters.fold_claim(claim_id=claim_id)
    return uncertain


TABLE = Delivery._meta.db_table
CLAIM_TABLE = SendClaim._meta.db_table
# One statement, so that on SQLite the write lock is held for that statement only
# (a worker stopped inside a longer transaction would block every writer).
CLAIM_SQL = (
    "UPDATE {table} SET status = 'sending', claim_id = %s, updated_at = %s "
    "WHERE id IN (SELECT id FROM {table} WHERE issue_id = %s AND status = 'queued' "
    "AND next_attempt_at <= %s ORDER BY id LIMIT %s{lock})"
)


def claim_batch(
    *, issue: Issue, worker: str, size: int
) -> tuple[SendClaim | None, list[Delivery]]:
    """Take up to `size` due deliveries for this worker; (None, []) when none."""
    claim = SendClaim.objects.create(issue=issue, worker=worker)
    now = timezone.now()
    postgresql = db_connection.vendor == "postgresql"
    sql = CLAIM_SQL.format(table=TABLE, lock=" FOR UPDATE SKIP LOCKED" * postgresql)
    params = [
        _claim_value(claim),
        db_connection.ops.adapt_datetimefield_value(now),
        issue.pk,
        db_connection.ops.adapt_datetimefield_value(now),
        size,
    ]
    # The claim counts what it took in the same statement (PostgreSQL) or
    # transaction (SQLite) as taking it.
    with db_connection.cursor() as cursor:
        if postgresql:
            cursor.execute(
                f"WITH taken AS ({sql} RETURNING 1) UPDATE {CLAIM_TABLE} "
                "SET taken = (SELECT count(*) FROM taken) WHERE id = %s "
                "RETURNING taken",
                [*params, _claim_value(claim)],
            )
            claimed = cursor.fetchone()[0]
        else:
            with transaction.atomic():
                cursor.execute(sql, params)
                claimed = cursor.rowcount
                SendClaim.objects.filter(pk=claim.pk).update(taken=claimed)
    if not claimed:
        claim.delete()
        return None, []
    deliveries = list(
        Delivery.objects.filter(claim=claim, status=Delivery.Status.SENDING)
        .select_related("subscriber")
        .order_by("pk")
    )
    return claim, deliveries


def _claim_value(claim: SendClaim):
    return SendClaim._meta.pk.get_db_prep_value(claim.pk, db_connection)


class ClaimLost(Exception):
    """This worker may no longer send its batch: another settled its claim."""


class LeaseRunningOut(ClaimLost):
    """Too long since the last confirmed heartbeat: let the batch go before DATA."""


SENT_SQL = (
    "UPDATE {table} SET status = 'sent', attempts = attempts + 1, "
    "sent_at = {now}, smtp_code = {code}, provider_message_id = {mid}, error = '', "
    "updated_at = {now} "
    "WHERE id = {pk} AND claim_id = {claim} AND status = 'sending'"
)
# On PostgreSQL, the same UPDATE counts the sent message on its claim in the same
# statement, and changes the claim's row only if it changed the delivery's: the
# statement's row count says whether the send was recorded.
SENT_COUNTED_SQL = (
    "WITH recorded AS (" + SENT_SQL + " RETURNING 1) "
    "UPDATE " + CLAIM_TABLE + " SET sent = sent + 1 "
    "WHERE id = {claim} AND EXISTS (SELECT 1 FROM recorded)"
)
# On SQLite, the same count in the same transaction as the UPDATE that changed
# the delivery.
CLAIM_SENT_SQL = f"UPDATE {CLAIM_TABLE} SET sent = sent + 1 WHERE id = %s"
# Beyond this share of the lease without a confirmed heartbeat a worker starts no
# more messages: another may settle its claim at any moment.
LEASE_SAFETY = 0.5
SENT_LATE_NOTE = "Recorded by its worker after another had marked it uncertain."
REQUEUED_LATE_NOTE = (
    "Its worker had not started sending it when another marked it uncertain; "
    "queued again."
)


class ClaimWriter:
    """Every write a worker makes for one claimed batch, fenced by that claim.

    A write changes a delivery only while it is still "sending" under this claim;
    one that matches nothing means recovery settled the claim, and raises
    ClaimLost. guard() runs just before each DATA: it waits until the previous
    outcome is committed, beats the claim's heartbeat when due, and refuses to go
    on when the lease may have run out.

    Recording a sent message is the one write per recipient. On PostgreSQL the
    UPDATE for message i is sent without waiting (libpq's asynchronous API on the
    same connection) and confirmed by flush(), before message i+1's DATA: the
    commit's round trip overlaps that message's MAIL and RCPT. On SQLite a write is
    local and quick, so it is made at once. Either way it is one autocommitted
    statement: no transaction stays open while SMTP talks.
    """

    def __init__(self, *, issue: Issue, claim: SendClaim, claimed_at: float) -> None:
        self.issue = issue
        self.claim = claim
        self.claim_value = _claim_value(claim)
        lease = settings.NEWSLETTER_CLAIM_LEASE_SECONDS
        self.safe_for = lease * LEASE_SAFETY
        self.beat_every = min(HEARTBEAT_EVERY_SECONDS, lease / 4)
        # time.monotonic() just before the heartbeat now in the database was taken.
        self.beat_at = claimed_at
        # Deliveries up to this id have had their DATA started or their outcome
        # recorded; only those after it can be given back untouched.
        self.started_pk = 0
        self.pending: Delivery | None = None
        self.pending_code: int | None = None
        self.pending_message_id = ""
        self.lost: ClaimLost | None = None
        self.pgconn = None
        if db_connection.vendor == "postgresql":
            db_connection.ensure_connection()
            self.pgconn = db_connection.connection.pgconn

    # Before DATA -------------------------------------------------------------

    def guard(self, delivery: Delivery) -> None:
        """Called right before DATA: may this worker still send `delivery`?"""
        self.flush()
        since = time.monotonic() - self.beat_at
        if since >= self.safe_for:
            raise LeaseRunningOut(
                f"{since:.1f} s since the claim's last confirmed heartbeat"
            )
        if since >= self.beat_every:
            self.beat()
        self.started_pk = delivery.pk

    def beat(self) -> None:
        self.flush()
        started = time.monotonic()
        alive = SendClaim.objects.filter(pk=self.claim.pk, finished_at=None).update(
            heartbeat_at=timezone.now()
        )
        if not alive:
            raise ClaimLost("the claim was settled by another worker")
        self.beat_at = started

    # Outcomes ----------------------------------------------------------------

    def record(self, delivery: Delivery, **fields) -> None:
        """Record an outcome other than sent (retry, failure, skip, uncertain)."""
        self.flush()
        self.started_pk = max(self.started_pk, delivery.pk)
        fields["updated_at"] = timezone.now()
        mine = Delivery.objects.filter(pk=delivery.pk, claim_id=self.claim.pk)
        with transaction.atomic():
            recorded = mine.filter(status=Delivery.Status.SENDING).update(**fields)
            counters.claim_outcome(
                claim_id=self.claim.pk, status=fields["status"], count=recorded
            )
        if not recorded:
            self._late(mine, fields)

    def sent(
        self, delivery: Delivery, *, smtp_code: int | None, message_id: str
    ) -> None:
        self.flush()
        now = timezone.now()
        if self.pgconn is None:
            with transaction.atomic(), db_connection.cursor() as cursor:
                cursor.execute(
                    SENT_SQL.format(
                        table=TABLE,
                        now="%s",
                        code="%s",
                        mid="%s",
                        pk="%s",
                        claim="%s",
                    ),
                    [
                        db_connection.ops.adapt_datetimefield_value(now),
                        smtp_code,
                        message_id,
                        db_connection.ops.adapt_datetimefield_value(now),
                        delivery.pk,
                        self.claim_value,
                    ],
                )
                recorded = cursor.rowcount
                if recorded:
                    cursor.execute(CLAIM_SENT_SQL, [self.claim_value])
            if not recorded:
                self._sent_late(delivery, smtp_code, message_id)
            return
        self.pgconn.send_query_params(
            SENT_COUNTED_SQL.format(
                table=TABLE, now="$1", code="$2", mid="$5", pk="$3", claim="$4"
            ).encode(),
            [
                now.isoformat().encode(),
                None if smtp_code is None else str(smtp_code).encode(),
                str(delivery.pk).encode(),
                str(self.claim.pk).encode(),
                message_id.encode(),
            ],
        )
        self.pending = delivery
        self.pending_code = smtp_code
        self.pending_message_id = message_id

    def flush(self) -> None:
        """Wait until the last recorded outcome is committed; check it counted.

        Raises ClaimLost (once) when an outcome could only be recorded late.
        """
        if self.pending is not None:
            self._confirm()
        if self.lost is not None:
            lost, self.lost = self.lost, None
            raise lost

    def _confirm(self) -> None:
        delivery, self.pending = self.pending, None
        error = None
        recorded = 0
        while (result := self.pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                error = result.error_message.decode(errors="replace")
            else:
                recorded += result.command_tuples or 0
        if error:
            raise DatabaseError(f"Recording a sent delivery failed: {error}")
        if not recorded:
            self._sent_late(delivery, self.pending_code, self.pending_message_id)

    def _sent_late(
        self, delivery: Delivery, smtp_code: int | None, message_id: str
    ) -> None:
        mine = Delivery.objects.filter(pk=delivery.pk, claim_id=self.claim.pk)
        self._late(
            mine,
            {
                "status": Delivery.Status.SENT,
                "attempts": delivery.attempts + 1,
                "sent_at": timezone.now(),
                "smtp_code": smtp_code,
                "provider_message_id": message_id,
                "error": SENT_LATE_NOTE,
                "updated_at": timezone.now(),
            },
        )

    def _late(self, mine, fields: dict) -> None:
        """Recovery marked this message uncertain, not knowing how it went. This
        worker knows: it records the truth (the row is still this claim's, so staff
        have not queued it again), then stops before its next message."""
        self.lost = ClaimLost("the claim was settled while a message was out")
        # Recovery closed the claim: the move goes to the issue's counters.
        with transaction.atomic():
            changed = mine.filter(status=Delivery.Status.UNCERTAIN).update(**fields)
            counters.move(
                issue_id=self.issue.pk,
                from_status=Delivery.Status.UNCERTAIN,
                to_status=fields["status"],
                count=changed,
            )
        if changed and fields["status"] == Delivery.Status.QUEUED:
            reopen_issue(issue=self.issue)

    # The rest of the batch ---------------------------------------------------

    def release(self, deliveries: list[Delivery]) -> None:
        """Give back the deliveries this worker never started sending."""
        self.flush()
        ids = [d.pk for d in deliveries if d.pk > self.started_pk]
        if not ids:
            return
        mine = Delivery.objects.filter(pk__in=ids, claim_id=self.claim.pk)
        back = {"status": Delivery.Status.QUEUED, "claim": None}
        with transaction.atomic():
            given_back = mine.filter(status=Delivery.Status.SENDING).update(
                **back, updated_at=timezone.now()
            )
            counters.claim_outcome(
                claim_id=self.claim.pk, status=Delivery.Status.QUEUED, count=given_back
            )
        # Recovery marks the lowest open delivery uncertain; if this worker had
        # not started it, it is known unsent and goes back in the queue (recovery
        # closed the claim: the move goes to the issue's counters).
        with transaction.atomic():
            requeued = mine.filter(status=Delivery.Status.UNCERTAIN).update(
                **back, error=REQUEUED_LATE_NOTE, updated_at=timezone.now()
            )
            counters.move(
                issue_id=self.issue.pk,
                from_status=Delivery.Status.UNCERTAIN,
                to_status=Delivery.Status.QUEUED,
                count=requeued,
            )
        if requeued:
            reopen_issue(issue=self.issue)

    def finish(self) -> bool:
        """Close the claim. False when recovery had already closed it."""
        self.flush()
        with transaction.atomic():
            closed = SendClaim.objects.filter(
                pk=self.claim.pk, finished_at=None
            ).update(finished_at=timezone.now())
            if closed:
                counters.fold_claim(claim_id=self.claim.pk)
        return bool(closed)


def reopen_issue(*, issue: Issue) -> None:
    """A sent issue whose deliveries are queued again is sending until they are."""
    Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENT).update(
        status=Issue.Status.SENDING, updated_at=timezone.now()
    )
