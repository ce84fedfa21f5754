"""Rolling up old deliveries: only the final rows of issues sent long ago go,
their numbers stay on the issue's page, and a dry run changes nothing."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from newsletter.delivery import issues, rollup
from newsletter.models import (
    Delivery,
    DeliveryEvent,
    Issue,
    IssueStats,
    Subscriber,
    counters,
)
from tests.newsletter.test_issue_counters import report
from tests.newsletter.test_sending import (
    add_subscribers,
    scheduled_issue,
    sink,  # noqa: F401
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sink")]

D = Delivery.Status


def sent_issue(slug: str, *, days_ago: int, readers: list[Subscriber]) -> Issue:
    issue = scheduled_issue(subject=slug, slug=slug)
    issues.start_send(issue_id=issue.pk)
    Delivery.objects.filter(issue=issue).exclude(subscriber__in=readers).delete()
    counters.reset(issue=issue)
    issues.run(issue_id=issue.pk)
    Issue.objects.filter(pk=issue.pk).update(
        sent_at=timezone.now() - timedelta(days=days_ago)
    )
    issue.refresh_from_db()
    return issue


def page_numbers(client, issue: Issue) -> dict[str, str]:
    html = client.get(reverse("admin:newsletter_issue_change", args=[issue.pk])).text
    return dict(re.findall(r'data-(?:stat|count)="(\w+)">(\d+)<', html))


@pytest.fixture
def three_issues(settings):
    settings.NEWSLETTER_DELIVERY_ROLLUP_DAYS = 400
    add_subscribers(6)
    readers = list(Subscriber.objects.order_by("pk"))
    old = sent_issue("old", days_ago=500, readers=readers)
    # One of the old issue's deliveries is uncertain: staff may still send it.
    Delivery.objects.filter(pk=old.deliveries.order_by("pk")[0].pk).update(
        status=D.UNCERTAIN
    )
    Delivery.objects.filter(pk=old.deliveries.order_by("pk")[1].pk).update(
        status=D.FAILED
    )
    counters.reset(issue=old)
    bounced = old.deliveries.filter(status=D.SENT).order_by("pk").first()
    report(bounced, "bounced", "old-bounce")
    recent = sent_issue("recent", days_ago=30, readers=readers[:3])
    # Old, but sending again (staff queued uncertain ones): left alone.
    again = sent_issue("again", days_ago=600, readers=readers[:2])
    Issue.objects.filter(pk=again.pk).update(status=Issue.Status.SENDING)
    return old, recent, again


def test_a_dry_run_counts_and_changes_nothing(three_issues):
    old, _, _ = three_issues
    before = list(Delivery.objects.values_list("pk", "status"))

    assert rollup.roll_up_deliveries(dry_run=True) == 5

    assert list(Delivery.objects.values_list("pk", "status")) == before
    assert IssueStats.objects.get(issue=old).rolled_up_at is None


def test_only_final_rows_of_old_finished_issues_go_and_the_page_shows_the_same(
    three_issues, staff_client
):
    old, recent, again = three_issues
    shown = page_numbers(staff_client, old)
    assert shown["sent"] == "4" and shown["bounced"] == "1"

    assert rollup.roll_up_deliveries(dry_run=False) == 5

    assert list(old.deliveries.values_list("status", flat=True)) == [D.UNCERTAIN]
    assert recent.deliveries.count() == 3 and again.deliveries.count() == 2
    assert page_numbers(staff_client, old) == shown
    # The bounce report stays, with its subscriber and issue.
    event = DeliveryEvent.objects.get()
    assert (event.delivery, event.issue, event.kind) == (None, old, "bounced")
    assert event.subscriber is not None
    assert IssueStats.objects.get(issue=old).rolled_up_at is not None
    # Twice is the same as once.
    assert rollup.roll_up_deliveries(dry_run=False) == 0
    assert page_numbers(staff_client, old) == shown


def test_an_issue_whose_counters_disagree_with_its_rows_keeps_them(three_issues):
    old, _, _ = three_issues
    IssueStats.objects.filter(issue=old).update(sent=99)

    assert rollup.roll_up_deliveries(dry_run=False) == 0
    assert old.deliveries.count() == 6
