"""Who receives an issue: everyone or the subscribers of chosen topics, among those
who want every issue (regular issues) or a monthly digest (digests), not paused.
The list is taken once, when the send starts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from newsletter import selectors
from newsletter.delivery import issues
from newsletter.issues import services as issue_services
from newsletter.models import Delivery, Issue, Subscriber
from tests.factories import (
    approve_issue,
    make_approved_issue,
    make_issue,
    make_listed_subscriber,
    make_topic,
    newsletter_sender,
)
from tests.newsletter.test_admin import messages_of
from tests.newsletter.test_admin_issues import issue_form

pytestmark = pytest.mark.django_db

Frequency = Subscriber.Frequency


def reader(name: str, *topics, **fields) -> Subscriber:
    subscriber = make_listed_subscriber(email=f"{name}@example.com", **fields)
    subscriber.topics.set(topics)
    return subscriber


def emails_of(queryset) -> set[str]:
    return {s.email.split("@")[0] for s in queryset}


def delivered_to(issue: Issue) -> set[str]:
    return {
        email.split("@")[0]
        for email in issue.deliveries.values_list("subscriber__email", flat=True)
    }


def send_now(issue: Issue) -> Issue:
    """Approve its text, schedule it for now and start the send, as a medical
    reviewer, a newsletter editor and the worker task would."""
    approve_issue(issue)
    issue_services.schedule_send(issue=issue, user=newsletter_sender())
    assert issues.start_send(issue_id=issue.pk)
    issue.refresh_from_db()
    return issue


@pytest.fixture
def topics():
    return {name: make_topic(name=name) for name in ("Acne", "Eczema", "Sun")}


@pytest.fixture
def readers(topics):
    later = timezone.now() + timedelta(days=3)
    return {
        "all": reader("all"),
        "acne": reader("acne", topics["Acne"]),
        "acne_sun": reader("acne_sun", topics["Acne"], topics["Sun"]),
        "eczema": reader("eczema", topics["Eczema"]),
        "paused": reader("paused", paused_until=later),
        "pause_over": reader(
            "pause_over", paused_until=timezone.now() - timedelta(minutes=1)
        ),
        "digest": reader("digest", frequency=Frequency.MONTHLY_DIGEST),
        "digest_eczema": reader(
            "digest_eczema", topics["Eczema"], frequency=Frequency.MONTHLY_DIGEST
        ),
        "pending": reader("pending", status="pending"),
        "left": reader("left", status="unsubscribed"),
    }


def test_an_issue_to_everyone_goes_to_every_issue_readers_not_paused(readers):
    issue = make_issue()

    assert emails_of(Subscriber.objects.audience_of(issue)) == {
        "all",
        "acne",
        "acne_sun",
        "eczema",
        "pause_over",
    }


def test_a_topic_issue_goes_to_those_readers_and_to_those_who_chose_none(
    readers, topics
):
    issue = make_issue(audience=Issue.Audience.TOPICS)
    issue.topics.set([topics["Acne"], topics["Sun"]])

    audience = Subscriber.objects.audience_of(issue)

    # acne_sun chose both topics and still appears once.
    assert sorted(emails_of(audience)) == ["acne", "acne_sun", "all", "pause_over"]
    assert audience.count() == 4


def test_a_digest_goes_to_digest_readers_filtered_by_topic_the_same_way(
    readers, topics
):
    everyone = make_issue(kind=Issue.Kind.DIGEST)
    acne = make_issue(kind=Issue.Kind.DIGEST, audience=Issue.Audience.TOPICS)
    acne.topics.set([topics["Acne"]])

    assert emails_of(Subscriber.objects.audience_of(everyone)) == {
        "digest",
        "digest_eczema",
    }
    assert emails_of(Subscriber.objects.audience_of(acne)) == {"digest"}


def test_the_send_creates_one_delivery_per_reader_of_its_audience(readers, topics):
    issue = make_issue(audience=Issue.Audience.TOPICS)
    issue.topics.set([topics["Acne"], topics["Sun"]])

    issue = send_now(issue)

    assert delivered_to(issue) == {"all", "acne", "acne_sun", "pause_over"}
    assert issue.deliveries.count() == 4
    assert issue.recipient_count == 4


def test_preferences_changed_after_the_send_started_count_from_the_next_send(
    readers, topics
):
    first = send_now(make_issue())
    assert "eczema" in delivered_to(first)

    eczema = readers["eczema"]
    eczema.frequency = Frequency.MONTHLY_DIGEST
    eczema.save()
    readers["all"].paused_until = timezone.now() + timedelta(days=30)
    readers["all"].save()
    # Starting again changes nothing: the list was taken when the send started.
    assert issues.start_send(issue_id=first.pk)
    assert "eczema" in delivered_to(first)
    assert first.deliveries.count() == 5

    second = send_now(make_issue())

    assert delivered_to(second) == {"acne", "acne_sun", "pause_over"}


def test_a_topic_issue_without_topics_is_refused_and_creates_nothing(readers):
    issue = make_approved_issue(audience=Issue.Audience.TOPICS)

    with pytest.raises(issue_services.SendRefused, match="no topic is chosen"):
        issue_services.schedule_send(issue=issue, user=newsletter_sender())
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_a_scheduled_topic_issue_whose_topics_were_emptied_goes_back_to_draft(
    readers, topics
):
    issue = make_approved_issue(audience=Issue.Audience.TOPICS)
    issue.topics.set([topics["Acne"]])
    issue_services.schedule_send(issue=issue, user=newsletter_sender())
    issue.topics.clear()

    assert not issues.start_send(issue_id=issue.pk)

    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert "no topic is chosen" in issue.not_sent_reason
    assert not Delivery.objects.exists()


# The admin ------------------------------------------------------------------------


def test_the_send_page_shows_the_exact_recipient_count_and_audience(
    staff_client, readers, topics
):
    issue = make_approved_issue(audience=Issue.Audience.TOPICS)
    issue.topics.set([topics["Eczema"]])

    response = staff_client.get(reverse("admin:newsletter_issue_send", args=[issue.pk]))

    # all, eczema and pause_over; not the paused, digest, pending or left ones.
    assert response.context["confirmed_count"] == 3
    assert 'data-confirmed-count="3"' in response.text
    assert "Yes, send it to 3 subscribers now" in response.text
    assert (
        "Confirmed every-issue subscribers who chose Eczema or no topic at all, "
        "not paused." in response.text
    )


def test_the_send_page_of_a_digest_counts_digest_readers(staff_client, readers):
    issue = make_issue(kind=Issue.Kind.DIGEST)

    response = staff_client.get(reverse("admin:newsletter_issue_send", args=[issue.pk]))

    assert response.context["confirmed_count"] == 2
    assert "Confirmed monthly-digest subscribers, not paused." in response.text


def test_the_send_page_says_why_a_topic_issue_without_topics_cannot_go(
    staff_client, readers
):
    issue = make_issue(audience=Issue.Audience.TOPICS)
    url = reverse("admin:newsletter_issue_send", args=[issue.pk])

    assert "no topic is chosen" in staff_client.get(url).text
    response = staff_client.post(url)

    assert "no topic is chosen" in messages_of(response)[-1]
    assert not Delivery.objects.exists()


def test_staff_choose_the_audience_and_its_topics_in_the_issue_form(
    staff_client, topics
):
    response = staff_client.post(
        reverse("admin:newsletter_issue_add"),
        issue_form(audience="topics", topics=[topics["Acne"].pk, topics["Sun"].pk]),
    )

    assert response.status_code == 302
    issue = Issue.objects.get()
    assert issue.audience == Issue.Audience.TOPICS
    assert set(issue.topics.all()) == {topics["Acne"], topics["Sun"]}
    assert issue.kind == Issue.Kind.REGULAR


def test_a_topic_audience_without_topics_is_refused_in_the_form(staff_client):
    response = staff_client.post(
        reverse("admin:newsletter_issue_add"), issue_form(audience="topics")
    )

    assert response.status_code == 200
    assert "Choose at least one topic" in response.text
    assert not Issue.objects.exists()


def test_sending_to_everyone_forgets_topics_chosen_before(staff_client, topics):
    issue = make_issue(audience=Issue.Audience.TOPICS)
    issue.topics.set([topics["Acne"]])

    staff_client.post(
        reverse("admin:newsletter_issue_change", args=[issue.pk]),
        issue_form(
            subject=issue.subject,
            slug=issue.slug,
            audience="everyone",
            topics=[topics["Acne"].pk],
        ),
    )

    issue.refresh_from_db()
    assert issue.audience == Issue.Audience.EVERYONE
    assert list(issue.topics.all()) == []


def test_recipient_count_matches_the_deliveries_the_send_creates(readers, topics):
    issue = make_issue(kind=Issue.Kind.DIGEST, audience=Issue.Audience.TOPICS)
    issue.topics.set([topics["Eczema"]])
    counted = selectors.recipient_count(issue)

    issue = send_now(issue)

    assert counted == issue.recipient_count == 2
    assert delivered_to(issue) == {"digest", "digest_eczema"}
