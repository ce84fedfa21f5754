"""Per-issue delivery statistics: counts only, in a constant number of queries,
on the issue's admin page; unsubscribes counted towards the issue whose link
was used."""

import re

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter import emails, selectors
from newsletter.models import Delivery, DeliveryEvent, Issue, Subscriber, counters
from newsletter.subscribers.tokens import Purpose, issue_of, make_token, read_token
from tests.factories import make_issue, make_listed_subscriber

pytestmark = pytest.mark.django_db

D = Delivery.Status
K = DeliveryEvent.Kind


def deliver(issue: Issue, status: str = D.SENT, **fields) -> Delivery:
    delivery = Delivery.objects.create(
        issue=issue,
        subscriber=make_listed_subscriber(),
        status=status,
        sent_at=timezone.now() if status == D.SENT else None,
        **fields,
    )
    # Made here rather than by a send: counted as the backfill counts rows.
    counters.reset(issue=issue)
    return delivery


def report(delivery: Delivery, kind: str, event_id: str) -> None:
    DeliveryEvent.objects.create(
        delivery=delivery,
        subscriber=delivery.subscriber,
        issue=delivery.issue,
        kind=kind,
        provider="postmark",
        event_id=event_id,
    )
    counters.reset(issue=delivery.issue)


def unsubscribe_url(issue: Issue, subscriber: Subscriber) -> str:
    message = emails.issue_message(
        rendered=emails.render_issue(issue), subscriber=subscriber
    )
    return re.fullmatch(r"<(.+)>", message.extra_headers["List-Unsubscribe"])[1]


def test_stats_count_each_outcome_once_per_delivery(django_assert_num_queries):
    issue = make_issue(status=Issue.Status.SENT)
    other = make_issue(status=Issue.Status.SENT)
    sent = [deliver(issue) for _ in range(5)]
    deliver(issue, D.FAILED, smtp_code=550)
    deliver(issue, D.UNCERTAIN)
    report(sent[0], K.BOUNCED, "1")
    # Postmark reports a hard bounce twice (the bounce, the suppression).
    report(sent[0], K.BOUNCED, "2")
    report(sent[1], K.SOFT_BOUNCED, "3")
    report(sent[2], K.COMPLAINED, "4")
    report(sent[3], K.UNSUBSCRIBED, "5")
    report(deliver(other), K.BOUNCED, "6")
    with django_assert_num_queries(2):
        stats = selectors.issue_delivery_stats(issue)

    assert stats == selectors.DeliveryStats(
        sent=5, delivered=4, failed=1, bounced=1, complained=1, unsubscribed=1
    )


def test_an_issue_with_no_deliveries_counts_zero():
    stats = selectors.issue_delivery_stats(make_issue(status=Issue.Status.SENDING))
    assert stats == selectors.DeliveryStats(0, 0, 0, 0, 0, 0)


# Unsubscribes through an issue's own link ------------------------------------------


def test_the_issue_emails_unsubscribe_link_names_the_issue():
    issue = make_issue(status=Issue.Status.SENDING)
    reader = make_listed_subscriber()

    token = unsubscribe_url(issue, reader).rstrip("/").rsplit("/", 1)[1]

    assert read_token(token, purpose=Purpose.UNSUBSCRIBE) == reader
    assert issue_of(token, purpose=Purpose.UNSUBSCRIBE) == issue.pk
    payload = emails.issue_payload(
        rendered=emails.render_issue(issue), subscriber=reader
    )
    assert b"List-Unsubscribe: <" in payload


@pytest.mark.parametrize("one_click", [True, False])
def test_leaving_through_an_issues_link_counts_towards_it_once(client, one_click):
    issue = make_issue(status=Issue.Status.SENT)
    delivery = deliver(issue)
    reader = delivery.subscriber
    link = unsubscribe_url(issue, reader)
    data = {"List-Unsubscribe": "One-Click"} if one_click else {}

    assert client.post(link, data).status_code == 200
    assert client.post(link, data).status_code == 200

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED
    event = DeliveryEvent.objects.get()
    assert (event.kind, event.provider, event.delivery) == (
        K.UNSUBSCRIBED,
        DeliveryEvent.SITE,
        delivery,
    )
    assert selectors.issue_delivery_stats(issue).unsubscribed == 1


def test_older_links_without_an_issue_still_unsubscribe_and_count_nowhere(client):
    issue = make_issue(status=Issue.Status.SENT)
    reader = deliver(issue).subscriber
    token = make_token(subscriber=reader, purpose=Purpose.UNSUBSCRIBE)
    assert "i" not in signing.loads(token, salt="newsletter.unsubscribe")

    response = client.post(reverse("newsletter:unsubscribe", args=[token]))

    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED
    assert not DeliveryEvent.objects.exists()


def test_a_link_naming_an_issue_the_reader_never_got_counts_nowhere(client):
    issue = make_issue(status=Issue.Status.SENT)
    reader = make_listed_subscriber()
    token = make_token(
        subscriber=reader, purpose=Purpose.UNSUBSCRIBE, issue_id=issue.pk
    )

    client.post(reverse("newsletter:unsubscribe", args=[token]))

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED
    assert not DeliveryEvent.objects.exists()


def test_opening_the_link_changes_nothing(client):
    issue = make_issue(status=Issue.Status.SENT)
    reader = deliver(issue).subscriber

    assert client.get(unsubscribe_url(issue, reader)).status_code == 200

    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED
    assert not DeliveryEvent.objects.exists()


# On the issue's admin page ---------------------------------------------------------


def test_the_issue_page_shows_the_delivery_statistics(staff_client):
    issue = make_issue(status=Issue.Status.SENT)
    sent = [deliver(issue) for _ in range(3)]
    deliver(issue, D.FAILED)
    report(sent[0], K.BOUNCED, "1")
    report(sent[1], K.COMPLAINED, "2")

    response = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    )

    html = response.content.decode()
    assert "Delivery statistics" in html
    found = dict(re.findall(r'data-stat="(\w+)">(\d+)<', html))
    assert found == {
        "delivered": "2",
        "failed": "1",
        "bounced": "1",
        "complained": "1",
        "unsubscribed": "0",
    }
    assert "nobody's opening or reading is tracked" in html


def test_the_statistics_add_a_constant_number_of_queries(
    staff_client, django_assert_max_num_queries
):
    issue = make_issue(status=Issue.Status.SENT)
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    deliver(issue)
    staff_client.get(url)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for n in range(20):
        report(deliver(issue), K.BOUNCED if n % 2 else K.COMPLAINED, f"e{n}")
    deliver(issue, D.FAILED)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(url)
    assert 'data-stat="bounced">10<' in response.content.decode()


def test_a_draft_shows_no_statistics(staff_client):
    issue = make_issue()
    response = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    )
    assert response.status_code == 200
    assert "Delivery statistics" not in response.content.decode()
