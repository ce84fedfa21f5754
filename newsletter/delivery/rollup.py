"""Rolling up old deliveries: an issue sent long ago keeps its numbers, not one
row per recipient.

A sent issue leaves one Delivery per recipient: ten years of sends are millions
of rows, most of the database. Once an issue was sent more than
NEWSLETTER_DELIVERY_ROLLUP_DAYS ago, its final deliveries (sent, failed,
skipped) are deleted in batches. What stays, and why:

- the issue's counts: its IssueStats counters (newsletter/models/counters.py)
  are what its pages show, and are checked against the rows before any row goes
  (an issue whose counters disagree with its rows keeps its rows, and
  verify_issue_counts says why);
- its link clicks: LinkClick rows are already counted per link, anonymous;
- its reports (DeliveryEvent: bounces, complaints, unsubscribes): the audit of
  why an address stopped receiving email, with the subscriber, the issue, the
  provider and when. They only lose their link to the deleted delivery. Whether
  an address may be mailed is not read from them anyway: it is the subscriber's
  own status (bounced, complained, unsubscribed), with the consent history in
  SubscriberEvent, neither of which is touched here;
- uncertain deliveries: staff may still decide to send them again, so they are
  not final and stay, as does every delivery of an issue sending (again) or with
  a worker's claim still open.

A subscriber's data export lists the issues they were sent from the rows that
remain, so issues older than the roll-up age no longer appear in it: the rows
are gone, not hidden. A late report on a rolled-up message finds no delivery and
is matched to its subscriber by address, so it still stops their email.

roll_up_deliveries() is a retention step (the RETENTION_STEPS setting); its dry
run counts and changes nothing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from newsletter.models import (
    Delivery,
    DeliveryEvent,
    Issue,
    IssueStats,
    SendClaim,
    counters,
)

logger = logging.getLogger(__name__)

FINAL = [Delivery.Status.SENT, Delivery.Status.FAILED, Delivery.Status.SKIPPED]
TABLE = Delivery._meta.db_table
# Rows deleted per transaction: short locks, and progress kept if stopped.
BATCH = 5000


def rollup_candidates() -> list[Issue]:
    """Sent issues past the roll-up age with no claim still open."""
    cutoff = timezone.now() - timedelta(days=settings.NEWSLETTER_DELIVERY_ROLLUP_DAYS)
    open_claims = SendClaim.objects.filter(finished_at=None).values("issue_id")
    return list(
        Issue.objects.filter(status=Issue.Status.SENT, sent_at__lt=cutoff)
        .exclude(pk__in=open_claims)
        .order_by("sent_at", "pk")
    )


def counts_agree(issue: Issue) -> bool:
    """Whether the issue's counters say what its rows say (one scan of its
    rows), the condition for deleting any of them."""
    if IssueStats.objects.filter(issue=issue, rolled_up_at__isnull=False).exists():
        # Rows already went: the counters are the record, and are kept as they are.
        return True
    counted, found = counters.issue_counts(issue), counters.recount(issue)
    if counted == found:
        return True
    logger.warning(
        "Deliveries of issue %s kept: its counters %s disagree with its rows %s "
        "(manage.py verify_issue_counts --fix)",
        issue.pk,
        counted,
        found,
    )
    return False


def roll_up_deliveries(*, dry_run: bool) -> int:
    """Delete the final deliveries of issues sent more than
    NEWSLETTER_DELIVERY_ROLLUP_DAYS ago, their counts kept. Returns how many rows
    were (with dry_run: would be) deleted."""
    removed = 0
    for issue in rollup_candidates():
        final = Delivery.objects.filter(issue=issue, status__in=FINAL)
        if not final.exists() or not counts_agree(issue):
            continue
        if dry_run:
            removed += final.count()
            continue
        removed += _roll_up(issue)
    return removed


def _roll_up(issue: Issue) -> int:
    removed = 0
    while True:
        with transaction.atomic():
            # Checked again in each batch: staff may have sent it again since.
            still = Issue.objects.select_for_update().filter(
                pk=issue.pk, status=Issue.Status.SENT
            )
            if not still.exists():
                break
            # In no order: the first BATCH the issue's index finds, so a big
            # issue is never sorted whole for each batch.
            ids = list(
                Delivery.objects.filter(issue=issue, status__in=FINAL)
                .order_by()
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            # Their reports stay, unlinked from them (DeliveryEvent.delivery is
            # SET_NULL): one UPDATE by the reports' delivery index, then one
            # DELETE, without loading the rows as Django's cascade would.
            DeliveryEvent.objects.filter(delivery_id__in=ids).update(delivery=None)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {TABLE} WHERE id IN ({', '.join(['%s'] * len(ids))})",
                    ids,
                )
            # After the rows, the order every writer takes its locks in
            # (newsletter/models/counters.py).
            IssueStats.objects.filter(issue=issue, rolled_up_at=None).update(
                rolled_up_at=timezone.now()
            )
            removed += len(ids)
    return removed
