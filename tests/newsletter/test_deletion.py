"""Deleting a subscriber's data takes a link emailed to their address at that moment:
the data page (reached from unsubscribe links, which travel in headers and forwarded
emails) only asks for that link."""

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Subscriber, SubscriberEvent
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import make_subscriber
from tests.newsletter.test_pages import (
    FrozenTime,
    assert_private,
    confirm_url,
    data_url,
    page_of,
    post_form,
    unsubscribe_url,
)

pytestmark = pytest.mark.django_db

Kind = SubscriberEvent.Kind


def ask_for_deletion(client, subscriber, capture, **extra):
    with capture(execute=True):
        return client.post(data_url(subscriber), {"action": "delete"}, **extra)


def delete_link(message) -> str:
    """The deletion link from an email, as a path on this site."""
    found = re.findall(
        r"https?://[^/\s]+(/newsletter/data/[^\s\"<]+/delete/)", message.body
    )
    assert len(found) == 1, message.body
    return found[0]


def delete_url(subscriber) -> str:
    token = make_token(subscriber=subscriber, purpose=Purpose.DELETE)
    return reverse("newsletter:data_delete", kwargs={"token": token})


def test_asking_on_the_data_page_emails_a_link_and_deletes_nothing(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(email="ada@example.com", status="confirmed")
    response = ask_for_deletion(
        client, subscriber, django_capture_on_commit_callbacks, REMOTE_ADDR="192.0.2.5"
    )

    assert response.status_code == 200
    assert "we emailed a link that deletes your data to" in response.text
    assert "ada@example.com" in response.text
    assert "within 24 hours" in response.text
    assert_private(response)
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    event = subscriber.events.get(kind=Kind.DELETION_REQUESTED)
    assert event.ip == "192.0.2.5"
    assert [m.to for m in mailoutbox] == [["ada@example.com"]]


def test_the_email_says_what_it_does_in_text_and_html_with_the_link(
    client, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://skincare.example"
    subscriber = make_subscriber(
        email="ada@example.com", first_name="Ada", status="confirmed"
    )
    ask_for_deletion(client, subscriber, django_capture_on_commit_callbacks)

    message = mailoutbox[0]
    assert message.subject == "Delete your data at the Skincare newsletter"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    link = delete_link(message)
    assert f"https://skincare.example{link}" in html
    for part in (message.body, html):
        assert "Hi Ada," in part
        assert "ada@example.com" in part
        assert "works for 24 hours" in part
        assert "If you did not ask for this, ignore this email" in part
        assert "/newsletter/unsubscribe/" in part
    assert "Skincare newsletter" in html  # the shared email layout


def test_the_emailed_link_shows_a_button_and_its_post_deletes_everything(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(email="ada@example.com", status="confirmed")
    other = make_subscriber()
    SubscriberEvent.objects.create(subscriber=other, kind=Kind.SIGNED_UP)
    old_links = [
        data_url(subscriber),
        unsubscribe_url(subscriber),
        confirm_url(subscriber),
    ]
    ask_for_deletion(client, subscriber, django_capture_on_commit_callbacks)
    link = delete_link(mailoutbox[0])

    opened = client.get(link)
    assert opened.status_code == 200
    assert "<h1>Delete your data?</h1>" in opened.text
    page = page_of(opened)
    assert "Yes, delete everything" in page.buttons
    assert any(form.get("action") == link for form in page.forms)
    assert_private(opened)
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()

    deleted = post_form(client, link)
    assert deleted.status_code == 200
    assert "<h1>Your data is deleted</h1>" in deleted.text
    assert "ada@example.com" in deleted.text
    assert_private(deleted)
    assert not Subscriber.objects.filter(pk=subscriber.pk).exists()
    assert not SubscriberEvent.objects.filter(subscriber_id=subscriber.pk).exists()
    assert other.events.count() == 1
    for old in [*old_links, link]:
        assert client.get(old).status_code == 404, old
        assert client.post(old, {"action": "export"}).status_code == 404, old


def test_opening_the_link_many_times_changes_nothing(client):
    subscriber = make_subscriber(status="confirmed")
    link = delete_url(subscriber)
    for _ in range(3):
        assert client.get(link).status_code == 200
        assert client.head(link).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def test_the_old_one_step_delete_through_the_data_page_deletes_nothing(
    client, mailoutbox
):
    subscriber = make_subscriber(status="confirmed")
    response = client.post(data_url(subscriber), {"action": "delete-confirmed"})
    assert response.status_code == 400
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    assert mailoutbox == []


def test_the_data_token_cannot_open_the_deletion_page_nor_the_reverse(client):
    subscriber = make_subscriber(status="confirmed")
    data_token = make_token(subscriber=subscriber, purpose=Purpose.DATA)
    as_delete = reverse("newsletter:data_delete", kwargs={"token": data_token})
    assert client.post(as_delete).status_code == 404
    delete_token = make_token(subscriber=subscriber, purpose=Purpose.DELETE)
    as_data = reverse("newsletter:data", kwargs={"token": delete_token})
    assert client.get(as_data).status_code == 404
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_a_link_older_than_24_hours_deletes_nothing_and_offers_a_new_one(
    client, monkeypatch, settings
):
    subscriber = make_subscriber(status="confirmed")
    hours = settings.NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS
    past = (timezone.now() - timedelta(hours=hours, minutes=1)).timestamp()
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", FrozenTime(past))
        link = delete_url(subscriber)

    for response in (client.get(link), client.post(link)):
        assert response.status_code == 410
        assert "This deletion link has expired" in response.text
        assert "Nothing was deleted." in response.text
        data_links = [h for h in page_of(response).hrefs if "/newsletter/data/" in h]
        assert len(data_links) == 1
        assert client.get(data_links[0]).status_code == 200
        assert_private(response)
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_a_link_just_inside_24_hours_still_works(client, monkeypatch, settings):
    subscriber = make_subscriber(status="confirmed")
    hours = settings.NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS
    past = (timezone.now() - timedelta(hours=hours, minutes=-5)).timestamp()
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", FrozenTime(past))
        link = delete_url(subscriber)
    assert client.post(link).status_code == 200
    assert not Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_an_address_change_kills_the_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(email="old@example.com", status="confirmed")
    ask_for_deletion(client, subscriber, django_capture_on_commit_callbacks)
    link = delete_link(mailoutbox[0])
    subscriber.email = "new@example.com"
    subscriber.save()

    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_the_link_goes_to_the_address_held_when_asked(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(email="old@example.com", status="confirmed")
    data_link = data_url(subscriber)
    subscriber.email = "new@example.com"
    subscriber.save()
    # The old data link died with the old address; a new one asks for the new.
    assert client.post(data_link, {"action": "delete"}).status_code == 404
    ask_for_deletion(client, subscriber, django_capture_on_commit_callbacks)
    assert [m.to for m in mailoutbox] == [["new@example.com"]]


def test_deletion_links_are_sent_at_most_three_times_a_day_and_it_says_so(
    client, mailoutbox, django_capture_on_commit_callbacks, settings
):
    subscriber = make_subscriber(status="confirmed")
    answers = [
        ask_for_deletion(client, subscriber, django_capture_on_commit_callbacks)
        for _ in range(settings.NEWSLETTER_CONFIRMATIONS_PER_DAY + 1)
    ]
    assert len(mailoutbox) == settings.NEWSLETTER_CONFIRMATIONS_PER_DAY
    assert all("we emailed a link" in a.text for a in answers[:-1])
    assert "We already emailed a deletion link 3 times today" in answers[-1].text
    assert "we emailed a link" not in answers[-1].text
    assert (
        subscriber.events.filter(kind=Kind.DELETION_REQUESTED).count()
        == settings.NEWSLETTER_CONFIRMATIONS_PER_DAY
    )


def test_the_daily_limit_counts_the_last_24_hours_only(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(status="confirmed")
    for _ in range(3):
        SubscriberEvent.objects.create(
            subscriber=subscriber, kind=Kind.DELETION_REQUESTED
        )
    SubscriberEvent.objects.filter(subscriber=subscriber).update(
        at=timezone.now() - timedelta(days=1, minutes=1)
    )
    ask_for_deletion(client, subscriber, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1


def test_the_deletion_page_needs_the_form_s_csrf_token():
    subscriber = make_subscriber(status="confirmed")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(delete_url(subscriber)).status_code == 403
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
