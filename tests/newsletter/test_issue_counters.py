"""An issue's delivery counts kept as counters: equal to its rows after every
kind of write, never moved twice for one delivery, read by its pages without
counting its deliveries."""

from datetime import timedelta

import pytest
from anymail.signals import AnymailTrackingEvent
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.delivery import bounces, claims, issues
from newsletter.models import (
    Delivery,
    DeliveryEvent,
    Issue,
    IssueStats,
    SendClaim,
    counters,
)
from tests.newsletter.test_sending import (
    add_subscribers,
    scheduled_issue,
    sink,  # noqa: F401
)

pytestmark = pytest.mark.django_db

D = Delivery.Status


def assert_counters_match_rows(issue: Issue) -> dict[str, int]:
    counted = counters.issue_counts(issue)
    assert counted == counters.recount(issue)
    return counted


def started(count: int) -> Issue:
    add_subscribers(count)
    issue = scheduled_issue()
    assert issues.start_send(issue_id=issue.pk)
    return issue


def test_starting_a_send_counts_every_delivery_queued():
    issue = started(7)
    counted = assert_counters_match_rows(issue)
    assert counted[D.QUEUED] == 7 and IssueStats.objects.get(issue=issue).queued == 7


def test_an_open_claim_is_counted_before_it_closes():
    issue = started(5)
    claim, rows = claims.claim_batch(issue=issue, worker="w1", size=3)
    # Taken, not yet added to the issue's row: the page adds the claim's moves.
    assert IssueStats.objects.get(issue=issue).sending == 0
    assert assert_counters_match_rows(issue)[D.SENDING] == 3
    writer = claims.ClaimWriter(issue=issue, claim=claim, claimed_at=0)
    writer.sent(rows[0], smtp_code=250, message_id="<a@x>")
    writer.record(rows[1], status=D.SKIPPED, error="left")
    writer.flush()
    counted = assert_counters_match_rows(issue)
    assert (counted[D.SENT], counted[D.SKIPPED], counted[D.SENDING]) == (1, 1, 1)
    writer.release(rows)
    assert writer.finish()
    stats = IssueStats.objects.get(issue=issue)
    assert (stats.queued, stats.sending, stats.sent, stats.skipped) == (3, 0, 1, 1)
    assert assert_counters_match_rows(issue)[D.QUEUED] == 3


def test_a_write_that_loses_its_compare_and_set_moves_no_counter():
    """Two workers race for one delivery: the first worker's claim is settled by
    recovery, the delivery goes to a second worker, who sends it; the first
    worker's late write then changes no row, so counts nothing."""
    issue = started(3)
    first, rows = claims.claim_batch(issue=issue, worker="w1", size=3)
    SendClaim.objects.filter(pk=first.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert claims.recover_stale_claims(issue=issue) == 1
    second, taken = claims.claim_batch(issue=issue, worker="w2", size=3)
    assert [d.pk for d in taken] == [d.pk for d in rows[1:]]
    winner = claims.ClaimWriter(issue=issue, claim=second, claimed_at=0)
    winner.sent(taken[0], smtp_code=250, message_id="<b@x>")
    winner.flush()

    loser = claims.ClaimWriter(issue=issue, claim=first, claimed_at=0)
    loser.sent(rows[1], smtp_code=250, message_id="<b@x>")
    with pytest.raises(claims.ClaimLost):
        loser.flush()
    loser.record(rows[2], status=D.FAILED, error="refused")
    with pytest.raises(claims.ClaimLost):
        loser.flush()
    assert not loser.finish()

    counted = assert_counters_match_rows(issue)
    assert (counted[D.SENT], counted[D.UNCERTAIN], counted[D.SENDING]) == (1, 1, 1)
    assert SendClaim.objects.get(pk=first.pk).sent == 0
    winner.release(taken)
    winner.finish()
    assert assert_counters_match_rows(issue)[D.QUEUED] == 1


def test_recovery_counts_the_uncertain_one_and_the_requeued_ones_once():
    issue = started(6)
    claim, rows = claims.claim_batch(issue=issue, worker="w1", size=4)
    writer = claims.ClaimWriter(issue=issue, claim=claim, claimed_at=0)
    writer.sent(rows[0], smtp_code=250, message_id="<c@x>")
    writer.flush()
    SendClaim.objects.filter(pk=claim.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert claims.recover_stale_claims(issue=issue) == 1
    assert claims.recover_stale_claims(issue=issue) == 0
    counted = assert_counters_match_rows(issue)
    assert (counted[D.SENT], counted[D.UNCERTAIN], counted[D.QUEUED]) == (1, 1, 4)
    # The worker comes back: it knew it never sent the uncertain one.
    writer.release(rows)
    counted = assert_counters_match_rows(issue)
    assert (counted[D.UNCERTAIN], counted[D.QUEUED]) == (0, 5)


def report(delivery: Delivery, kind: str, event_id: str):
    event = AnymailTrackingEvent(
        event_type=kind,
        message_id=delivery.provider_message_id,
        recipient=delivery.subscriber.email,
        event_id=event_id,
        esp_event={"Type": "HardBounce"},
    )
    return bounces.record_tracking_event(event=event, provider="postmark")


@pytest.mark.usefixtures("sink")
def test_bounce_and_complaint_reports_count_each_delivery_once():
    issue = started(3)
    issues.run(issue_id=issue.pk)
    first, second, _ = Delivery.objects.order_by("pk")

    assert report(first, "bounced", "e1") is not None
    # The same report again, and a second bounce report on the same message.
    assert report(first, "bounced", "e1") is None
    assert report(first, "bounced", "e2") is not None
    report(second, "complained", "e3")

    counted = assert_counters_match_rows(issue)
    assert (counted["bounced"], counted["complained"]) == (1, 1)
    stats = issues.progress(issue=issue)
    assert stats["reports"] == {"bounced": 1, "complained": 1, "unsubscribed": 0}
    assert DeliveryEvent.objects.count() == 3


@pytest.mark.usefixtures("sink")
def test_the_sent_issue_page_reads_counters_not_deliveries(staff_client):
    issue = started(12)
    issues.run(issue_id=issue.pk)
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    staff_client.get(url)
    with CaptureQueriesContext(connection) as page:
        response = staff_client.get(url)
    assert response.status_code == 200
    on_deliveries = [q["sql"] for q in page if '"newsletter_delivery"' in q["sql"]]
    # Only the list of failures to look into (none here) reads deliveries.
    assert len(on_deliveries) == 1 and "COUNT(" not in on_deliveries[0].upper()
    assert 'data-count="sent">12<' in response.text
    with CaptureQueriesContext(connection) as listing:
        staff_client.get(reverse("admin:newsletter_issue_changelist"))
    assert not [q for q in listing if '"newsletter_delivery"' in q["sql"]]


@pytest.mark.usefixtures("sink")
def test_verify_issue_counts_reports_drift_and_fixes_it(capsys):
    issue = started(4)
    issues.run(issue_id=issue.pk)
    call_command("verify_issue_counts")
    assert "Checked 1 issue(s): 0 differ." in capsys.readouterr().out

    # A row changed behind the counters' back (by hand, in a database shell).
    Delivery.objects.filter(pk=Delivery.objects.first().pk).update(status=D.FAILED)
    call_command("verify_issue_counts")
    out = capsys.readouterr().out
    assert "sent 4 (rows: 3), failed 0 (rows: 1)" in out
    assert "1 differ." in out
    assert counters.issue_counts(issue)[D.SENT] == 4

    call_command("verify_issue_counts", "--fix")
    assert "1 fixed" in capsys.readouterr().out
    assert_counters_match_rows(issue)
