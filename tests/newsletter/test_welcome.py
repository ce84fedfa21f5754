"""The welcome email: sent once per subscription when a subscriber confirms, over
a real SMTP server on loopback, whatever the worker does."""

import email
import email.policy
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from newsletter import tasks
from newsletter.delivery import welcome
from newsletter.delivery.transport import Transport
from newsletter.models import Subscriber, WelcomeDelivery, WelcomeEmail
from newsletter.subscribers import services, subscriptions
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import (
    approve_welcome,
    make_subscriber,
    make_user,
    make_welcome_email,
)
from tests.smtp_sink import Rule, SMTPSink

pytestmark = pytest.mark.django_db

W = WelcomeDelivery.Status
Outcome = welcome.Outcome


class Killed(BaseException):
    """The worker process dying: nothing after it runs, no handler catches it."""


@pytest.fixture
def sink(settings):
    with SMTPSink() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.NEWSLETTER_RETRY_BASE_SECONDS = 0
        settings.NEWSLETTER_RATE_PER_SECOND = 0
        settings.SITE_URL = "https://skincare.example"
        yield server


@pytest.fixture
def welcome_email(db) -> WelcomeEmail:
    return make_welcome_email()


def confirm_by_link(client, subscriber: Subscriber):
    """What a reader does: opens the emailed link and presses the button."""
    token = make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)
    return client.post(reverse("newsletter:confirm", kwargs={"token": token}))


def confirmed_subscriber(**fields) -> Subscriber:
    return make_subscriber(status=Subscriber.Status.CONFIRMED, **fields)


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def age_claim(subscriber: Subscriber, *, by: timedelta) -> None:
    """Time passes for the row (the lease runs out) without a timed test."""
    WelcomeDelivery.objects.filter(subscriber=subscriber).update(
        claimed_at=timezone.now() - by
    )


def past_lease(settings) -> timedelta:
    return timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS + 1)


# Sent once -------------------------------------------------------------------------


def test_confirming_sends_one_welcome_email_with_the_staff_subject(
    client, sink, welcome_email
):
    subscriber = make_subscriber(email="ada@example.com", first_name="Ada")

    response = confirm_by_link(client, subscriber)

    assert response.status_code == 200
    assert [item.recipient for item in sink.handler.accepted] == ["ada@example.com"]
    message = parsed(sink.handler.accepted[0].raw)
    assert message["Subject"] == "Welcome to the Skincare newsletter"
    row = WelcomeDelivery.objects.get()
    subscriber.refresh_from_db()
    assert (row.subscriber, row.status) == (subscriber, W.SENT)
    assert row.confirmed_at == subscriber.confirmed_at
    assert row.sent_at is not None and row.smtp_code == 250


def test_confirming_twice_and_running_the_task_again_send_one_welcome(
    client, sink, welcome_email
):
    subscriber = make_subscriber(email="ada@example.com")

    confirm_by_link(client, subscriber)
    confirm_by_link(client, subscriber)
    again = tasks.send_welcome_email.call(subscriber.pk)

    assert again == Outcome.NOT_DUE
    assert sink.handler.recipients() == {"ada@example.com": 1}
    assert WelcomeDelivery.objects.count() == 1


def test_no_welcome_when_it_is_turned_off(client, sink):
    make_welcome_email(enabled=False)
    subscriber = make_subscriber()

    confirm_by_link(client, subscriber)

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert sink.handler.count() == 0
    assert not WelcomeDelivery.objects.exists()


def test_no_welcome_for_someone_who_left_before_the_task_ran(sink, welcome_email):
    subscriber = make_subscriber(status=Subscriber.Status.UNSUBSCRIBED)

    assert tasks.send_welcome_email.call(subscriber.pk) == Outcome.NOT_SUBSCRIBED
    assert sink.handler.count() == 0


def test_a_new_subscription_after_leaving_is_welcomed_again(
    client, sink, welcome_email
):
    subscriber = make_subscriber(email="ada@example.com")
    confirm_by_link(client, subscriber)
    subscriber.refresh_from_db()
    subscriptions.unsubscribe(subscriber=subscriber, how=Subscriber.LeftHow.LINK)
    services.subscribe(email="ada@example.com", source="page", ip=None)
    subscriber.refresh_from_db()

    confirm_by_link(client, subscriber)

    assert sink.handler.recipients()["ada@example.com"] == 2
    assert WelcomeDelivery.objects.filter(status=W.SENT).count() == 2


def test_the_confirmation_queues_the_welcome_and_a_check_after_the_lease(
    database_tasks, settings, welcome_email
):
    subscriber = make_subscriber()

    assert services.confirm_subscription(subscriber=subscriber, ip="198.51.100.1")
    assert services.confirm_subscription(subscriber=subscriber, ip="198.51.100.1")

    queued = DBTaskResult.objects.filter(task_path=tasks.send_welcome_email.module_path)
    assert [task.args_kwargs["args"] for task in queued] == [[subscriber.pk]] * 2
    runs = [task.task.run_after for task in queued]
    assert None in runs  # due at once
    # The other is a check for a worker killed before it took the welcome.
    [check] = [at for at in runs if at is not None]
    lease = timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS)
    assert abs(check - (timezone.now() + lease)) < timedelta(seconds=30)


def test_the_run_that_takes_the_welcome_queues_a_follow_up_after_the_lease(
    database_tasks, settings, welcome_email
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscriber = confirmed_subscriber()

    assert tasks.send_welcome_email.call(subscriber.pk) == Outcome.SENT

    follow_up = DBTaskResult.objects.get(task_path=tasks.send_welcome_email.module_path)
    assert follow_up.args_kwargs["args"] == [subscriber.pk]
    expected = timezone.now() + timedelta(
        seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS
    )
    assert abs(follow_up.run_after - expected) < timedelta(seconds=30)


# A worker that dies, or stalls -----------------------------------------------------


def test_a_worker_killed_before_data_is_followed_by_exactly_one_welcome(
    sink, settings, monkeypatch, welcome_email
):
    subscriber = confirmed_subscriber(email="ada@example.com")
    real_send = Transport.send_payload

    def die(self, **kwargs):
        raise Killed

    monkeypatch.setattr(Transport, "send_payload", die)
    with pytest.raises(Killed):
        welcome.send_welcome(subscriber_id=subscriber.pk)
    monkeypatch.setattr(Transport, "send_payload", real_send)
    assert WelcomeDelivery.objects.get().status == W.CLAIMED

    # Before the lease runs out the claim may be alive: nothing is sent.
    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.NOT_DUE
    assert sink.handler.count() == 0
    age_claim(subscriber, by=past_lease(settings))

    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.SENT
    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.NOT_DUE
    assert sink.handler.recipients() == {"ada@example.com": 1}
    assert WelcomeDelivery.objects.get().status == W.SENT


def test_a_worker_killed_after_the_server_took_the_message_never_sends_it_again(
    sink, settings, monkeypatch, welcome_email
):
    subscriber = confirmed_subscriber(email="ada@example.com")
    real_write = welcome._write

    def die_before_recording_sent(row, token, **fields):
        if fields.get("status") == W.SENT:
            raise Killed
        return real_write(row, token, **fields)

    monkeypatch.setattr(welcome, "_write", die_before_recording_sent)
    with pytest.raises(Killed):
        welcome.send_welcome(subscriber_id=subscriber.pk)
    monkeypatch.setattr(welcome, "_write", real_write)
    assert sink.handler.count() == 1
    assert WelcomeDelivery.objects.get().status == W.SENDING
    age_claim(subscriber, by=past_lease(settings))

    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.NOT_DUE
    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.NOT_DUE

    assert sink.handler.recipients() == {"ada@example.com": 1}
    row = WelcomeDelivery.objects.get()
    assert row.status == W.UNCERTAIN
    assert "may or may not have gone out" in row.error


def test_a_stalled_worker_whose_claim_was_taken_over_sends_nothing(
    sink, settings, monkeypatch, welcome_email
):
    subscriber = confirmed_subscriber(email="ada@example.com")
    real_send = Transport.send_payload
    runs = []
    other_run = []

    def stall_then_wake(self, *, before_data, **kwargs):
        runs.append("run")
        if len(runs) > 1:
            return real_send(self, before_data=before_data, **kwargs)

        def wake_up_late():
            # While this worker was stopped its lease ran out, another took over.
            age_claim(subscriber, by=past_lease(settings))
            other_run.append(welcome.send_welcome(subscriber_id=subscriber.pk))
            before_data()

        return real_send(self, before_data=wake_up_late, **kwargs)

    monkeypatch.setattr(Transport, "send_payload", stall_then_wake)

    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.NOT_DUE

    assert other_run == [Outcome.SENT]
    assert sink.handler.recipients() == {"ada@example.com": 1}
    assert WelcomeDelivery.objects.get().status == W.SENT


# SMTP answers ----------------------------------------------------------------------


def test_a_temporary_refusal_is_tried_again_and_sent_once(sink, welcome_email):
    subscriber = confirmed_subscriber(email="ada@example.com")
    sink.handler.rules["ada@example.com"] = Rule("451 4.7.1 Try again later", times=1)

    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.RETRY
    row = WelcomeDelivery.objects.get()
    assert (row.status, row.attempts, row.smtp_code) == (W.QUEUED, 1, 451)

    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.SENT
    assert sink.handler.recipients() == {"ada@example.com": 1}


def test_a_mailbox_that_does_not_exist_fails_and_marks_the_subscriber_bounced(
    sink, welcome_email
):
    subscriber = confirmed_subscriber(email="gone@example.com")
    sink.handler.rules["gone@example.com"] = Rule("550 5.1.1 No such user")

    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.FAILED

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.BOUNCED
    assert WelcomeDelivery.objects.get().status == W.FAILED
    assert welcome.send_welcome(subscriber_id=subscriber.pk) == Outcome.NOT_SUBSCRIBED


# The message -----------------------------------------------------------------------


def test_welcome_carries_the_same_unsubscribe_headers_and_link_as_an_issue(
    client, sink, welcome_email
):
    subscriber = make_subscriber(email="ada@example.com")
    confirm_by_link(client, subscriber)
    message = parsed(sink.handler.accepted[0].raw)

    unsubscribe = message["List-Unsubscribe"].strip()
    assert unsubscribe.startswith("<https://skincare.example/newsletter/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "Skincare newsletter <newsletter.example.com>"
    assert message["Message-ID"].startswith(f"<welcome{subscriber.pk}.")
    url = unsubscribe.strip("<>")
    text = text_of(message)
    html = message.get_body(("html",)).get_content()
    assert f"Unsubscribe (one click): {url}" in text
    assert f'href="{url}"' in html

    # A mail provider's one-click POST to that link unsubscribes at once.
    response = client.post(urlsplit(url).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_text_part_is_readable_with_the_name_and_links_spelled_out(
    client, sink, welcome_email
):
    subscriber = make_subscriber(email="ada@example.com", first_name="Ada")
    confirm_by_link(client, subscriber)
    message = parsed(sink.handler.accepted[0].raw)
    text = text_of(message)

    assert text.startswith("Hi Ada,\n\nThank you for confirming.\n\n")
    assert "archive (https://skincare.example/newsletter/archive/)" in text
    assert "Past issues: https://skincare.example/newsletter/archive/" in text
    assert "<" not in text.replace("<https", "")
    html = message.get_body(("html",)).get_content()
    assert "Hi Ada," in html
    assert "What to expect from us." in html  # the preheader


def test_the_greeting_leaves_the_name_out_when_we_do_not_know_it(
    client, sink, welcome_email
):
    confirm_by_link(client, make_subscriber(first_name=""))
    text = text_of(parsed(sink.handler.accepted[0].raw))
    assert text.startswith("Hi,\n")


def test_the_default_welcome_says_what_the_newsletter_is_and_how_often():
    # Made by the migration: the same promise as the sign-up form, nothing more.
    default = WelcomeEmail.objects.get()
    assert default.enabled
    assert default.subject == "Welcome to the Skincare newsletter"
    assert "beauty resources, tips, and news" in default.body
    assert "about twice a month" in default.body
    assert "unsubscribe" in default.body


# The admin -------------------------------------------------------------------------


def change_form(**overrides) -> dict:
    return {
        "enabled": "on",
        "subject": "Welcome aboard",
        "preheader": "",
        "greeting": "Hi {first_name},",
        "body": "<p>Glad you are here.</p>",
        **overrides,
    }


def test_staff_body_is_sanitised_when_saved_and_the_email_has_no_script(
    staff_client, sink, client, welcome_email
):
    url = reverse("admin:newsletter_welcomeemail_change", args=[1])
    body = '<p onclick="steal()">Welcome!</p><script>alert("x")</script>'

    response = staff_client.post(url, change_form(body=body))

    assert response.status_code == 302
    saved = WelcomeEmail.objects.get()
    assert saved.body == "<p>Welcome!</p>"
    approve_welcome()
    confirm_by_link(client, make_subscriber())
    raw = sink.handler.accepted[0].raw.decode()
    assert "script" not in raw and "alert" not in raw and "onclick" not in raw
    assert "Welcome!" in raw


def test_a_greeting_with_an_unknown_placeholder_is_refused_and_nothing_changes(
    staff_client, welcome_email
):
    url = reverse("admin:newsletter_welcomeemail_change", args=[1])

    response = staff_client.post(url, change_form(greeting="Hi {name},"))

    assert response.status_code == 200
    assert "The greeting can only use {first_name}" in response.content.decode()
    assert WelcomeEmail.objects.get().subject == welcome_email.subject


def test_the_admin_list_opens_the_one_welcome_email_which_cannot_be_deleted(
    staff_client, welcome_email, django_assert_max_num_queries
):
    response = staff_client.get(reverse("admin:newsletter_welcomeemail_changelist"))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:newsletter_welcomeemail_change", args=[1]
    )
    with django_assert_max_num_queries(15):
        page = staff_client.get(response["Location"])
    assert page.status_code == 200
    assert 'name="body"' in page.content.decode()
    delete = reverse("admin:newsletter_welcomeemail_delete", args=[1])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert WelcomeEmail.objects.exists()


def test_non_staff_cannot_change_the_welcome_email(client, welcome_email):
    client.force_login(make_user())
    url = reverse("admin:newsletter_welcomeemail_change", args=[1])

    response = client.post(url, change_form(subject="Hacked"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert WelcomeEmail.objects.get().subject == welcome_email.subject


def test_staff_see_each_welcome_and_its_outcome_but_cannot_change_it(
    staff_client, welcome_email, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscriber = confirmed_subscriber(email="ada@example.com")
    welcome.send_welcome(subscriber_id=subscriber.pk)
    row = WelcomeDelivery.objects.get()

    listing = staff_client.get(reverse("admin:newsletter_welcomedelivery_changelist"))

    assert listing.status_code == 200
    assert "ada@example.com" in listing.content.decode()
    change = reverse("admin:newsletter_welcomedelivery_change", args=[row.pk])
    staff_client.post(change, {"status": W.QUEUED})
    row.refresh_from_db()
    assert row.status == W.SENT


def test_staff_can_send_themselves_a_test_of_the_saved_welcome(
    staff_client, staff, mailoutbox, django_capture_on_commit_callbacks, welcome_email
):
    url = reverse("admin:newsletter_welcomeemail_send_test", args=[1])
    change = reverse("admin:newsletter_welcomeemail_change", args=[1])
    assert url in staff_client.get(change).content.decode()
    assert staff_client.get(url).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url)

    assert response.status_code == 302
    [message] = mailoutbox
    assert message.to == [staff.email]
    assert message.subject == "[Test] Welcome to the Skincare newsletter"
    assert message.body.startswith("Hi,\n\nThank you for confirming.")
    # Nobody's personal links: the test unsubscribes no one.
    assert "/newsletter/unsubscribe/" not in message.body
    assert "List-Unsubscribe" not in message.extra_headers
    assert not WelcomeDelivery.objects.exists()


def test_staff_without_the_change_permission_cannot_send_a_test(
    client, mailoutbox, django_capture_on_commit_callbacks, welcome_email
):
    viewer = make_user(username="viewer")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:newsletter_welcomeemail_send_test", args=[1])
        )

    assert response.status_code == 403
    assert mailoutbox == []
