"""An issue's delivery counts kept as counters (IssueStats), exactly once.

Beside the models, below every room that writes a delivery (sending, the issue
services, bounce reports) or reads its issue's counts (selectors, the admin).

No page counts an issue's deliveries: at ten years there are millions. Instead
every write that changes a delivery's status moves the counters in the same
transaction, by the number of rows that write changed, never by what it meant
to change. A write that lost its compare-and-set (another worker or recovery
changed the row first) changes no row and so moves nothing.

So that the workers of one send never queue on one row, a worker's moves go
to its claim (SendClaim's taken/sent/failed/... columns, a row no other worker
writes) in the same statement as the delivery's write, and are added to the
issue's IssueStats once, when the claim closes (fold_claim: at the end of the
batch, or when recovery settles a dead worker's claim). What the pages show is
the issue's row plus its claims still open (issue_counts, with_sent_count).
Writes outside a claim (a late write after recovery, staff queueing uncertain
deliveries again, a bounce report) move IssueStats directly.

Locks are always taken in one order, delivery rows, then the claim, then the
issue's IssueStats row, so a worker and recovery never deadlock.
"""

from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from newsletter.models.deliveries import Delivery, DeliveryEvent, SendClaim
from newsletter.models.issues import Issue
from newsletter.models.stats import IssueStats

Status = Delivery.Status
STATUS_FIELDS = [status.value for status in Status]
EVENT_FIELDS = {
    DeliveryEvent.Kind.BOUNCED: "bounced",
    DeliveryEvent.Kind.COMPLAINED: "complained",
    DeliveryEvent.Kind.UNSUBSCRIBED: "unsubscribed",
}
COUNT_FIELDS = [*STATUS_FIELDS, *EVENT_FIELDS.values()]
# The claim's column for each status its worker moves a delivery to (from
# "sending"); "taken" counts the deliveries it moved from "queued" to "sending".
CLAIM_FIELDS = {
    Status.SENT: "sent",
    Status.FAILED: "failed",
    Status.UNCERTAIN: "uncertain",
    Status.SKIPPED: "skipped",
    Status.QUEUED: "requeued",
}
CLAIM_COLUMNS = ["taken", *CLAIM_FIELDS.values()]


def start(*, issue: Issue, queued: int) -> None:
    """A send's deliveries were just created, all queued (in start_send's
    transaction)."""
    IssueStats.objects.update_or_create(
        issue=issue, defaults=dict.fromkeys(COUNT_FIELDS, 0) | {"queued": queued}
    )


def move(*, issue_id: int, from_status: str, to_status: str, count: int) -> None:
    """`count` deliveries changed from one status to another outside a claim.
    Call in the transaction of the write that changed them, with its row count."""
    if count:
        IssueStats.objects.filter(issue_id=issue_id).update(
            **{
                from_status: F(from_status) - count,
                to_status: F(to_status) + count,
            }
        )


def claim_outcome(*, claim_id, status: str, count: int = 1) -> None:
    """This claim's worker moved `count` of its deliveries from "sending" to
    `status`. Call in the transaction of that write, with its row count."""
    if count:
        column = CLAIM_FIELDS[status]
        SendClaim.objects.filter(pk=claim_id).update(**{column: F(column) + count})


def claim_deltas(claim: dict) -> dict[str, int]:
    """What a claim's columns mean for each status counter."""
    outcomes = sum(claim[column] for column in CLAIM_FIELDS.values())
    return {
        Status.QUEUED: claim["requeued"] - claim["taken"],
        Status.SENDING: claim["taken"] - outcomes,
        Status.SENT: claim["sent"],
        Status.FAILED: claim["failed"],
        Status.UNCERTAIN: claim["uncertain"],
        Status.SKIPPED: claim["skipped"],
    }


def fold_claim(*, claim_id) -> None:
    """Add a claim's moves to its issue's counters. Call in the transaction
    that closed the claim (set its finished_at, which locks it), once."""
    claim = SendClaim.objects.filter(pk=claim_id).values("issue_id", *CLAIM_COLUMNS)
    claim = claim.first()
    if claim is None:
        return
    deltas = {k: v for k, v in claim_deltas(claim).items() if v}
    if deltas:
        IssueStats.objects.filter(issue_id=claim["issue_id"]).update(
            **{field: F(field) + delta for field, delta in deltas.items()}
        )


def event_recorded(*, delivery: Delivery, kind: str) -> None:
    """A report was just recorded for this delivery (in the same transaction,
    the delivery's row locked first): the issue counts the delivery once per
    kind of report, however many reports of that kind it gets."""
    field = EVENT_FIELDS.get(kind)
    if field is None or delivery.issue_id is None:
        return
    reports = DeliveryEvent.objects.filter(delivery=delivery, kind=kind)
    if reports[:2].count() == 1:
        IssueStats.objects.filter(issue_id=delivery.issue_id).update(
            **{field: F(field) + 1}
        )


# Reading ----------------------------------------------------------------------


def issue_counts(issue: Issue) -> dict[str, int]:
    """The issue's counts now (two queries): every counter of IssueStats, the
    moves of its claims still open added. Zero for an issue never sent."""
    counts = IssueStats.objects.filter(issue=issue).values(*COUNT_FIELDS).first()
    counts = counts or dict.fromkeys(COUNT_FIELDS, 0)
    open_claims = SendClaim.objects.filter(issue=issue, finished_at=None).aggregate(
        **{column: Coalesce(Sum(column), 0) for column in CLAIM_COLUMNS}
    )
    for field, delta in claim_deltas(open_claims).items():
        counts[field] += delta
    return counts


def with_sent_count(issues: QuerySet) -> QuerySet:
    """Issues annotated with `sent_total`: their counter, and what their open
    claims sent (one index probe each: claim_open_idx)."""
    in_flight = (
        SendClaim.objects.filter(issue=OuterRef("pk"), finished_at=None)
        .order_by()
        .values("issue")
        .annotate(n=Sum("sent"))
        .values("n")
    )
    return issues.annotate(
        sent_total=Coalesce(F("stats__sent"), 0)
        + Coalesce(Subquery(in_flight, output_field=IntegerField()), 0)
    )


def recount(issue: Issue) -> dict[str, int]:
    """The counts worked out from the rows, as the counters should say (for
    checking them and the backfill): scans the issue's deliveries."""
    counts = dict.fromkeys(COUNT_FIELDS, 0)
    for status, number in (
        Delivery.objects.filter(issue=issue)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    ):
        counts[status] = number
    for kind, number in (
        DeliveryEvent.objects.filter(issue=issue, kind__in=EVENT_FIELDS)
        .exclude(delivery=None)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("delivery", distinct=True))
    ):
        counts[EVENT_FIELDS[kind]] = number
    return counts


def reset(*, issue: Issue) -> dict[str, int]:
    """Set the issue's counters to what its rows say (verify_issue_counts --fix),
    the moves of its open claims left out since they are added when those
    close. Exact only while nothing sends it: a send moves rows meanwhile."""
    with transaction.atomic():
        counts = recount(issue)
        open_claims = SendClaim.objects.filter(issue=issue, finished_at=None)
        for claim in open_claims.values(*CLAIM_COLUMNS):
            for field, delta in claim_deltas(claim).items():
                counts[field] -= delta
        IssueStats.objects.update_or_create(issue=issue, defaults=counts)
    return counts
