"""The preference page behind the signed link in every email: topics, how often,
a pause. GET shows, POST saves; each change is kept in the subscriber's history."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from newsletter import emails
from newsletter.models import Subscriber, SubscriberEvent
from newsletter.subscribers import subscriptions
from newsletter.subscribers.tokens import Purpose, make_token
from newsletter.templatetags.newsletter_tags import footer_form
from tests.factories import make_issue, make_subscriber, make_topic
from tests.newsletter.test_pages import assert_private, csrf_client, page_of, post_form

pytestmark = pytest.mark.django_db

__all__ = ["csrf_client"]

Kind = SubscriberEvent.Kind
Frequency = Subscriber.Frequency


def preferences_url(subscriber: Subscriber) -> str:
    token = make_token(subscriber=subscriber, purpose=Purpose.PREFERENCES)
    return reverse("newsletter:preferences", kwargs={"token": token})


def preference_events(subscriber: Subscriber) -> list[str]:
    return list(
        subscriber.events.filter(kind=Kind.PREFERENCES_CHANGED).values_list(
            "detail", flat=True
        )
    )


@pytest.fixture
def topics():
    return [make_topic(name=name) for name in ("Acne", "Eczema", "Sun care")]


def test_a_new_subscriber_wants_every_issue_on_every_topic_unpaused():
    subscriber = make_subscriber(status="confirmed")

    assert subscriber.frequency == Frequency.EVERY_ISSUE
    assert list(subscriber.topics.all()) == []
    assert subscriber.paused_until is None
    assert not subscriber.is_paused


def test_the_page_shows_the_current_choices_in_fieldsets_and_changes_nothing(
    client, topics
):
    subscriber = make_subscriber(status="confirmed", frequency=Frequency.MONTHLY_DIGEST)
    subscriber.topics.set([topics[1]])
    before = subscriber.updated_at

    response = client.get(preferences_url(subscriber))

    assert response.status_code == 200
    html = response.text
    assert html.count("<fieldset") == 2
    assert "<legend" in html and "Topics</legend>" in html
    assert "How often</legend>" in html
    checked = {
        i.get("value") or i.get("name")
        for i in page_of(response).inputs
        if "checked" in i
    }
    # Told when the advice changes: on unless they turned it off.
    assert checked == {str(topics[1].pk), Frequency.MONTHLY_DIGEST, "advice_changes"}
    boxes = [i for i in page_of(response).inputs if i.get("type") == "checkbox"]
    assert len(boxes) == 4
    assert [i for i in page_of(response).inputs if i.get("type") == "radio"]
    assert "Pause for a month" in page_of(response).buttons
    assert "/newsletter/unsubscribe/" in html
    assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.updated_at == before
    assert preference_events(subscriber) == []


def test_saving_topics_and_frequency_keeps_them_and_records_what_changed(
    csrf_client, topics
):
    subscriber = make_subscriber(status="confirmed")
    path = preferences_url(subscriber)

    response = post_form(
        csrf_client,
        path,
        {
            "action": "save",
            "topics": [topics[0].pk, topics[2].pk],
            "frequency": Frequency.MONTHLY_DIGEST,
            "advice_changes": "on",
        },
        REMOTE_ADDR="203.0.113.5",
    )

    assert response.status_code == 200
    assert "Saved. The next newsletter follows your new choices." in response.text
    subscriber.refresh_from_db()
    assert set(subscriber.topics.all()) == {topics[0], topics[2]}
    assert subscriber.frequency == Frequency.MONTHLY_DIGEST
    event = subscriber.events.get(kind=Kind.PREFERENCES_CHANGED)
    assert event.detail == (
        "topics: all topics → Acne, Sun care; frequency: Every issue → A monthly digest"
    )
    assert event.ip == "203.0.113.5"
    assert_private(response)


def test_saving_without_a_change_records_nothing(csrf_client, topics):
    subscriber = make_subscriber(status="confirmed")
    subscriber.topics.set([topics[0]])

    response = post_form(
        csrf_client,
        preferences_url(subscriber),
        {
            "action": "save",
            "topics": [topics[0].pk],
            "frequency": "every_issue",
            "advice_changes": "on",
        },
    )

    assert "Nothing had changed" in response.text
    assert preference_events(subscriber) == []


def test_unticking_every_topic_means_all_topics_again(csrf_client, topics):
    subscriber = make_subscriber(status="confirmed")
    subscriber.topics.set([topics[0]])

    post_form(
        csrf_client,
        preferences_url(subscriber),
        {"action": "save", "frequency": "every_issue", "advice_changes": "on"},
    )

    assert list(subscriber.topics.all()) == []
    assert preference_events(subscriber) == ["topics: Acne → all topics"]


def test_a_bad_choice_gets_a_clear_message_and_changes_nothing(csrf_client, topics):
    subscriber = make_subscriber(status="confirmed")
    subscriber.topics.set([topics[0]])

    response = post_form(
        csrf_client,
        preferences_url(subscriber),
        {"action": "save", "topics": [999999], "frequency": "hourly"},
    )

    assert response.status_code == 400
    assert "Please check the form" in response.text
    assert "One of the topics no longer exists" in response.text
    assert "Choose how often you want the newsletter." in response.text
    subscriber.refresh_from_db()
    assert list(subscriber.topics.all()) == [topics[0]]
    assert subscriber.frequency == Frequency.EVERY_ISSUE
    assert preference_events(subscriber) == []


def test_saving_needs_the_csrf_token(csrf_client, topics):
    subscriber = make_subscriber(status="confirmed")

    response = csrf_client.post(
        preferences_url(subscriber),
        {"action": "save", "frequency": Frequency.MONTHLY_DIGEST},
    )

    assert response.status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.frequency == Frequency.EVERY_ISSUE


def test_pausing_for_a_month_then_resuming_is_recorded(csrf_client):
    subscriber = make_subscriber(status="confirmed")
    path = preferences_url(subscriber)

    response = post_form(csrf_client, path, {"action": "pause"})

    subscriber.refresh_from_db()
    assert subscriber.is_paused
    expected = timezone.now() + subscriptions.PAUSE
    assert abs(subscriber.paused_until - expected) < timedelta(minutes=1)
    assert "Paused. We won&rsquo;t send you anything until" in response.text
    assert "Resume now" in page_of(response).buttons

    response = post_form(csrf_client, path, {"action": "resume"})

    subscriber.refresh_from_db()
    assert subscriber.paused_until is None
    assert "Welcome back" in response.text
    assert "Pause for a month" in page_of(response).buttons
    details = preference_events(subscriber)
    assert len(details) == 2
    assert details[0].startswith("paused until ")
    assert details[1] == "pause ended"


def test_resuming_when_not_paused_records_nothing(csrf_client):
    subscriber = make_subscriber(status="confirmed")

    post_form(csrf_client, preferences_url(subscriber), {"action": "resume"})

    assert preference_events(subscriber) == []


def test_an_unknown_action_changes_nothing(csrf_client):
    subscriber = make_subscriber(status="confirmed")

    response = post_form(
        csrf_client, preferences_url(subscriber), {"action": "delete-everything"}
    )

    assert response.status_code == 400
    assert Subscriber.objects.get(pk=subscriber.pk).status == "confirmed"
    assert preference_events(subscriber) == []


def test_someone_who_left_is_told_so_and_can_change_nothing(client, topics):
    subscriber = make_subscriber(status="unsubscribed")
    path = preferences_url(subscriber)

    page = client.get(path)
    response = client.post(
        path, {"action": "save", "frequency": Frequency.MONTHLY_DIGEST}
    )

    for answer in (page, response):
        assert "is not subscribed to the newsletter any more" in answer.text
        assert "<fieldset" not in answer.text
    subscriber.refresh_from_db()
    assert subscriber.frequency == Frequency.EVERY_ISSUE
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_a_pending_subscriber_may_choose_before_confirming(client, topics):
    subscriber = make_subscriber()

    response = client.get(preferences_url(subscriber))

    assert "not confirmed yet" in response.text
    assert "<fieldset" in response.text


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "forged"],
)
def test_a_bad_or_forged_link_says_so_and_changes_nothing(client, token):
    subscriber = make_subscriber(status="confirmed")
    if token == "forged":
        # A real token for another purpose: valid signature, wrong salt.
        token = make_token(subscriber=subscriber, purpose=Purpose.DATA)
    path = reverse("newsletter:preferences", kwargs={"token": token})

    response = client.post(path, {"action": "pause"})

    assert response.status_code == 404
    assert "This link is not valid" in response.text
    assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.paused_until is None


def test_a_link_for_a_changed_address_stops_working(client):
    subscriber = make_subscriber(status="confirmed")
    path = preferences_url(subscriber)
    Subscriber.objects.filter(pk=subscriber.pk).update(email="new@example.com")

    assert client.get(path).status_code == 404


def test_the_page_runs_a_constant_number_of_queries(
    client, django_assert_max_num_queries
):
    subscriber = make_subscriber(status="confirmed")
    for _ in range(12):
        make_topic()
    subscriber.topics.set(subscriber.topics.model.objects.all()[:5])

    with django_assert_max_num_queries(3):
        assert client.get(preferences_url(subscriber)).status_code == 200


# The link in every email --------------------------------------------------------


def preferences_link_in(text: str) -> str:
    match = re.search(r"https?://\S+/newsletter/preferences/[^/\s\"]+/", text)
    assert match, text
    return match.group(0)


def test_every_issue_email_links_to_the_readers_own_preference_page(client):
    subscriber = make_subscriber(status="confirmed")
    other = make_subscriber(status="confirmed")
    rendered = emails.render_issue(make_issue())

    message = emails.issue_message(rendered=rendered, subscriber=subscriber)
    html = message.alternatives[0][0]

    link = preferences_link_in(message.body)
    assert link == preferences_link_in(html)
    assert "Choose topics, get a monthly digest or pause" in message.body
    assert ">Your preferences</a>" in html
    response = client.get(urlparse(link).path)
    assert response.status_code == 200
    assert subscriber.email in response.text
    other_message = emails.issue_message(rendered=rendered, subscriber=other)
    assert preferences_link_in(other_message.body) != link


def test_the_smtp_payload_carries_the_same_preference_link():
    subscriber = make_subscriber(status="confirmed")
    rendered = emails.render_issue(make_issue())

    payload = emails.issue_payload(rendered=rendered, subscriber=subscriber)

    assert emails.PREFERENCES_URL.encode() not in payload
    assert b"/newsletter/preferences/" in payload.replace(b"=\r\n", b"")


def test_the_confirmation_email_links_to_the_preference_page():
    subscriber = make_subscriber()

    message = emails.confirmation_message(subscriber=subscriber)

    assert "/newsletter/preferences/" in message.body
    assert "/newsletter/preferences/" in message.alternatives[0][0]


def test_a_test_issue_has_an_inert_preference_link():
    message = emails.test_issue_message(issue=make_issue(), to="ed@example.com")

    assert "/newsletter/preferences/" not in message.body
    assert emails.PREFERENCES_URL not in message.body
    assert mail.outbox == []


# Topics at sign-up ------------------------------------------------------------------


def test_the_newsletter_page_offers_topics_folded_away_and_the_footer_does_not(
    client, topics
):
    html = client.get(reverse("newsletter:subscribe")).text
    footer = footer_form()

    assert '<details class="signup__topics">' in html
    assert "<summary>Choose topics (optional)</summary>" in html
    assert html.count('name="topics"') == 3
    assert 'name="topics"' not in footer
    assert "<details" not in footer


def test_topics_chosen_at_sign_up_are_kept_for_a_new_subscriber(client, topics):
    response = client.post(
        reverse("newsletter:subscribe"),
        {
            "email": "new@example.com",
            "consent": "on",
            "source": "page",
            "topics": [topics[0].pk, topics[2].pk],
        },
    )

    assert response.status_code == 302
    subscriber = Subscriber.objects.get(email="new@example.com")
    assert subscriber.status == Subscriber.Status.PENDING
    assert set(subscriber.topics.all()) == {topics[0], topics[2]}


def test_signing_up_again_never_changes_a_confirmed_subscribers_topics(client, topics):
    subscriber = make_subscriber(status="confirmed", email="known@example.com")
    subscriber.topics.set([topics[1]])

    client.post(
        reverse("newsletter:subscribe"),
        {
            "email": "known@example.com",
            "consent": "on",
            "source": "footer",
            "topics": [topics[0].pk],
        },
    )

    assert list(subscriber.topics.all()) == [topics[1]]


def test_a_sign_up_with_a_vanished_topic_shows_the_form_again_open(client, topics):
    response = client.post(
        reverse("newsletter:subscribe"),
        {
            "email": "new@example.com",
            "consent": "on",
            "source": "page",
            "topics": ["999999"],
        },
    )

    assert response.status_code == 200
    assert '<details class="signup__topics" open>' in response.text
    assert "One of the topics no longer exists" in response.text
    assert 'value="new@example.com"' in response.text
    assert not Subscriber.objects.exists()


def test_staff_see_a_subscribers_choices_but_cannot_change_them(staff_client, topics):
    subscriber = make_subscriber(status="confirmed", frequency=Frequency.MONTHLY_DIGEST)
    subscriber.topics.set([topics[2], topics[0]])
    url = reverse("admin:newsletter_subscriber_change", args=[subscriber.pk])

    page = staff_client.get(url).text
    staff_client.post(url, {"first_name": "Ada", "frequency": "every_issue"})

    assert "Acne, Sun care" in page
    assert "A monthly digest" in page
    assert 'name="frequency"' not in page
    subscriber.refresh_from_db()
    assert subscriber.frequency == Frequency.MONTHLY_DIGEST
