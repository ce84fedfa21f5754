"""The welcome series: the steps after the welcome email, each sent once per
subscription on its day, over a real SMTP server on loopback, whatever the
worker does (newsletter/delivery/series.py)."""

import email
import email.policy
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from newsletter import emails, recovery, tasks
from newsletter.delivery import series, welcome
from newsletter.delivery.transport import Transport
from newsletter.issues import review
from newsletter.issues import series as series_services
from newsletter.models import (
    LawfulBasis,
    Subscriber,
    SubscriberImport,
    WelcomeStep,
    WelcomeStepDelivery,
)
from newsletter.subscribers import imports, subscriptions
from tests.factories import (
    make_subscriber,
    make_welcome_step,
    newsletter_reviewer,
    newsletter_sender,
)

# The sink fixture comes from test_welcome.py: a test taking it redefines its name.
# ruff: noqa: F811
from tests.newsletter.test_welcome import Killed, parsed, past_lease, sink  # noqa: F401
from tests.smtp_sink import Rule

pytestmark = pytest.mark.django_db

W = WelcomeStepDelivery.Status
Outcome = series.Outcome


def confirmed_days_ago(days: float, **fields) -> Subscriber:
    return make_subscriber(
        status=Subscriber.Status.CONFIRMED,
        confirmed_at=timezone.now() - timedelta(days=days),
        **fields,
    )


def subjects(sink) -> list[str]:
    return [parsed(item.raw)["Subject"] for item in sink.handler.accepted]


def time_passes(subscriber: Subscriber, *, days: float) -> None:
    """Days pass for a subscription (its confirmation moves back, with its rows)
    without a timed test."""
    since = Subscriber.objects.get(pk=subscriber.pk).confirmed_at
    earlier = since - timedelta(days=days)
    Subscriber.objects.filter(pk=subscriber.pk).update(confirmed_at=earlier)
    WelcomeStepDelivery.objects.filter(
        subscriber=subscriber, confirmed_at=since
    ).update(confirmed_at=earlier)


def age_claim(subscriber: Subscriber, *, by: timedelta) -> None:
    """Time passes for the row (the lease runs out) without a timed test."""
    WelcomeStepDelivery.objects.filter(subscriber=subscriber).update(
        claimed_at=timezone.now() - by
    )


# On its day, once --------------------------------------------------------------------


def test_a_step_goes_out_on_its_day_once_and_not_before(sink):
    make_welcome_step(position=2, delay_days=3, subject="KP basics: what it is")
    early = confirmed_days_ago(2, email="early@example.com")
    due = confirmed_days_ago(3.1, email="due@example.com")

    assert series.run_due() == {Outcome.SENT: 1}
    assert series.run_due() == {}

    assert sink.handler.recipients() == {"due@example.com": 1}
    assert subjects(sink) == ["KP basics: what it is"]
    row = WelcomeStepDelivery.objects.get()
    assert (row.subscriber, row.status) == (due, W.SENT)
    assert not WelcomeStepDelivery.objects.filter(subscriber=early).exists()


def test_each_step_of_the_series_goes_out_once_in_its_own_time(sink):
    second = make_welcome_step(position=2, delay_days=3, subject="Second")
    third = make_welcome_step(position=3, delay_days=7, subject="Third")
    confirmed_days_ago(8, email="ada@example.com")
    confirmed_days_ago(4, email="bo@example.com")

    assert series.run_due() == {Outcome.SENT: 3}
    tasks.send_welcome_steps.enqueue()  # the task, run again: nothing more

    assert sink.handler.recipients() == {"ada@example.com": 2, "bo@example.com": 1}
    sent = set(WelcomeStepDelivery.objects.values_list("subscriber__email", "step"))
    assert sent == {
        ("ada@example.com", second.pk),
        ("ada@example.com", third.pk),
        ("bo@example.com", second.pk),
    }


def test_one_row_per_step_of_a_subscription_is_enforced_by_the_database(sink):
    step = make_welcome_step()
    subscriber = confirmed_days_ago(4)
    assert series.send_step(subscriber_id=subscriber.pk, step_id=step.pk) == "sent"
    with pytest.raises(IntegrityError), transaction.atomic():
        WelcomeStepDelivery.objects.create(
            subscriber=subscriber, step=step, confirmed_at=subscriber.confirmed_at
        )


# Approval ------------------------------------------------------------------------


def test_a_step_without_approved_text_is_not_sent_and_the_next_keeps_its_day(sink):
    make_welcome_step(position=2, delay_days=3, approved=False, subject="Unread")
    make_welcome_step(position=3, delay_days=7, subject="Approved")
    confirmed_days_ago(8, email="ada@example.com")

    assert series.run_due() == {Outcome.SENT: 1}

    assert subjects(sink) == ["Approved"]
    assert WelcomeStepDelivery.objects.get().step.subject == "Approved"


def test_an_edited_step_sends_its_approved_text_until_the_new_one_is_approved(sink):
    step = make_welcome_step(subject="Approved subject")
    step.subject = "Edited, not yet reviewed"
    series_services.save_welcome_step(step=step, user=newsletter_sender())
    confirmed_days_ago(4, email="ada@example.com")

    series.run_due()
    assert subjects(sink) == ["Approved subject"]

    series_services.approve_welcome_step(
        step=step,
        user=newsletter_reviewer(),
        verdict="approved",
        seen_hash=review.welcome_hash(step),
    )
    confirmed_days_ago(4, email="bo@example.com")
    series.run_due()
    assert subjects(sink) == ["Approved subject", "Edited, not yet reviewed"]


def test_an_approval_of_a_text_changed_since_it_was_shown_records_nothing():
    step = make_welcome_step(approved=False)
    shown = review.welcome_hash(step)
    step.body = "<p>Changed meanwhile.</p>"
    series_services.save_welcome_step(step=step, user=newsletter_sender())

    with pytest.raises(series_services.ReviewRefused, match="changed after you"):
        series_services.approve_welcome_step(
            step=step, user=newsletter_reviewer(), verdict="approved", seen_hash=shown
        )
    assert not step.approvals.exists()
    step.refresh_from_db()
    assert step.sending_since is None


# Pause, leaving, late steps ------------------------------------------------------


def test_a_step_due_during_a_pause_is_skipped_and_the_next_one_still_comes(sink):
    make_welcome_step(position=2, delay_days=3, subject="Second")
    third = make_welcome_step(position=3, delay_days=7, subject="Third")
    subscriber = confirmed_days_ago(
        4, email="ada@example.com", paused_until=timezone.now() + timedelta(days=2)
    )

    assert series.run_due() == {Outcome.SKIPPED: 1}
    assert sink.handler.count() == 0
    skipped = WelcomeStepDelivery.objects.get()
    assert skipped.status == W.SKIPPED
    assert "Paused" in skipped.error

    # The pause ends; step 2 is not saved up for now, step 3 comes on its day.
    Subscriber.objects.filter(pk=subscriber.pk).update(paused_until=None)
    assert series.run_due() == {}
    time_passes(subscriber, days=3.1)
    assert series.run_due() == {Outcome.SENT: 1}
    assert subjects(sink) == ["Third"]
    assert WelcomeStepDelivery.objects.get(step=third).status == W.SENT
    assert WelcomeStepDelivery.objects.count() == 2


def test_a_subscriber_who_pauses_after_the_step_was_taken_is_skipped(sink, monkeypatch):
    step = make_welcome_step()
    subscriber = confirmed_days_ago(4)
    real_is_due = series.StepSend.is_due

    def pause_first(self, row):
        Subscriber.objects.filter(pk=subscriber.pk).update(
            paused_until=timezone.now() + timedelta(days=9)
        )
        return real_is_due(self, row)

    monkeypatch.setattr(series.StepSend, "is_due", pause_first)
    assert series.send_step(subscriber_id=subscriber.pk, step_id=step.pk) == "skipped"
    assert sink.handler.count() == 0
    assert WelcomeStepDelivery.objects.get().status == W.SKIPPED


def test_a_subscriber_who_left_gets_nothing_more_of_the_series(sink):
    make_welcome_step(position=2, delay_days=3)
    make_welcome_step(position=3, delay_days=7)
    subscriber = confirmed_days_ago(4)
    assert series.run_due() == {Outcome.SENT: 1}

    subscriptions.unsubscribe(subscriber=subscriber, how=Subscriber.LeftHow.LINK)
    Subscriber.objects.filter(pk=subscriber.pk).update(
        confirmed_at=timezone.now() - timedelta(days=30)
    )

    assert series.run_due() == {}
    assert sink.handler.count() == 1


def test_addresses_imported_with_recorded_consent_get_no_series_as_no_welcome(
    sink, staff
):
    make_welcome_step(position=2, delay_days=3)
    subscriber_import = SubscriberImport.objects.create(
        file_name="clinic.csv",
        data="email\nimported@example.com\n",
        basis=LawfulBasis.CONSENTED,
        evidence="Paper forms",
        created_by=staff,
        status=SubscriberImport.Status.IMPORTING,
    )
    assert imports.run_import(import_id=subscriber_import.pk)
    imported = Subscriber.objects.get(email="imported@example.com")
    time_passes(imported, days=4)
    confirmed_days_ago(4, email="ada@example.com")

    assert series.run_due() == {Outcome.SENT: 1}
    assert (
        series.send_step(
            subscriber_id=imported.pk, step_id=WelcomeStep.objects.get(position=2).pk
        )
        == Outcome.NOT_SUBSCRIBED
    )
    assert sink.handler.recipients() == {"ada@example.com": 1}


def test_a_step_added_later_is_not_sent_to_those_already_past_its_day(sink):
    already_past = confirmed_days_ago(10, email="past@example.com")
    not_yet = confirmed_days_ago(2, email="new@example.com")
    step = make_welcome_step(position=2, delay_days=3, live_since=timezone.now())

    assert series.run_due() == {}
    assert (
        series.send_step(subscriber_id=already_past.pk, step_id=step.pk)
        == Outcome.NOT_DUE
    )

    # A day and a bit later it is the newer subscriber's day.
    Subscriber.objects.filter(pk=not_yet.pk).update(
        confirmed_at=timezone.now() - timedelta(days=3, minutes=1)
    )
    WelcomeStep.objects.filter(pk=step.pk).update(
        sending_since=timezone.now() - timedelta(days=1)
    )
    assert series.run_due() == {Outcome.SENT: 1}
    assert sink.handler.recipients() == {"new@example.com": 1}


def test_switching_a_step_on_again_does_not_send_what_came_due_while_it_was_off(sink):
    step = make_welcome_step()
    editor = newsletter_sender()
    series_services.switch_welcome_step(step=step, user=editor, enabled=False)
    confirmed_days_ago(4, email="ada@example.com")
    assert series.run_due() == {}

    step = series_services.switch_welcome_step(step=step, user=editor, enabled=True)

    assert step.sending_since is not None
    assert series.run_due() == {}
    assert sink.handler.count() == 0


def test_a_step_switched_on_before_approval_starts_at_its_approval():
    step = make_welcome_step(approved=False)
    assert step.enabled and step.sending_since is None
    before = timezone.now()
    series_services.approve_welcome_step(
        step=step,
        user=newsletter_reviewer(),
        verdict="no_medical_content",
        seen_hash=review.welcome_hash(step),
    )
    step.refresh_from_db()
    assert step.sending_since >= before


# Worker deaths ----------------------------------------------------------------------


def test_a_worker_killed_before_data_is_followed_by_exactly_one_step_email(
    sink, settings, monkeypatch
):
    step = make_welcome_step()
    subscriber = confirmed_days_ago(4, email="ada@example.com")
    real_send = Transport.send_payload

    def die(self, **kwargs):
        raise Killed

    monkeypatch.setattr(Transport, "send_payload", die)
    with pytest.raises(Killed):
        series.run_due()
    monkeypatch.setattr(Transport, "send_payload", real_send)
    assert WelcomeStepDelivery.objects.get().status == W.CLAIMED

    # Before the lease runs out the claim may be alive: nothing is sent.
    assert series.run_due() == {}
    assert sink.handler.count() == 0
    age_claim(subscriber, by=past_lease(settings))

    assert series.run_due() == {Outcome.SENT: 1}
    assert series.run_due() == {}
    assert series.send_step(subscriber_id=subscriber.pk, step_id=step.pk) == "not_due"
    assert sink.handler.recipients() == {"ada@example.com": 1}
    assert WelcomeStepDelivery.objects.get().status == W.SENT


def test_a_worker_killed_after_the_server_took_the_step_never_sends_it_again(
    sink, settings, monkeypatch
):
    make_welcome_step()
    subscriber = confirmed_days_ago(4, email="ada@example.com")
    real_write = welcome._write

    def die_before_recording_sent(row, token, **fields):
        if fields.get("status") == W.SENT:
            raise Killed
        return real_write(row, token, **fields)

    monkeypatch.setattr(welcome, "_write", die_before_recording_sent)
    with pytest.raises(Killed):
        series.run_due()
    monkeypatch.setattr(welcome, "_write", real_write)
    assert sink.handler.count() == 1
    assert WelcomeStepDelivery.objects.get().status == W.SENDING
    age_claim(subscriber, by=past_lease(settings))

    assert series.run_due() == {Outcome.NOT_DUE: 1}
    assert series.run_due() == {}

    assert sink.handler.recipients() == {"ada@example.com": 1}
    row = WelcomeStepDelivery.objects.get()
    assert row.status == W.UNCERTAIN
    assert "may or may not have gone out" in row.error


def test_a_stalled_worker_whose_step_was_taken_over_sends_nothing(
    sink, settings, monkeypatch
):
    step = make_welcome_step()
    subscriber = confirmed_days_ago(4, email="ada@example.com")
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
            other_run.append(
                series.send_step(subscriber_id=subscriber.pk, step_id=step.pk)
            )
            before_data()

        return real_send(self, before_data=wake_up_late, **kwargs)

    monkeypatch.setattr(Transport, "send_payload", stall_then_wake)

    assert series.send_step(subscriber_id=subscriber.pk, step_id=step.pk) == "not_due"

    assert other_run == [Outcome.SENT]
    assert sink.handler.recipients() == {"ada@example.com": 1}
    assert WelcomeStepDelivery.objects.get().status == W.SENT


def test_a_temporary_refusal_is_tried_again_by_a_later_run_and_sent_once(sink):
    make_welcome_step()
    confirmed_days_ago(4, email="ada@example.com")
    sink.handler.rules["ada@example.com"] = Rule("451 4.7.1 Try again later", times=1)

    assert series.run_due() == {Outcome.RETRY: 1}
    assert WelcomeStepDelivery.objects.get().status == W.QUEUED
    assert series.run_due() == {Outcome.SENT: 1}
    assert sink.handler.recipients() == {"ada@example.com": 1}


# Scheduling ------------------------------------------------------------------------


def test_every_live_worker_keeps_one_series_run_queued(database_tasks):
    runs = DBTaskResult.objects.filter(task_path=tasks.send_welcome_steps.module_path)

    assert recovery.queue_welcome_steps() is True
    assert recovery.queue_welcome_steps() is False

    run = runs.get()
    assert run.run_after > timezone.now() + timedelta(
        seconds=series.SERIES_CHECK_SECONDS - 5
    )


def test_the_series_run_is_one_of_the_workers_recovery_hooks(settings):
    assert "newsletter.recovery.queue_welcome_steps" in settings.WORKER_RECOVERY


# The emails ------------------------------------------------------------------------


def test_a_step_email_has_the_unsubscribe_headers_and_its_own_message_id(sink):
    make_welcome_step(position=2, delay_days=3)
    make_welcome_step(position=3, delay_days=7)
    confirmed_days_ago(8, email="ada@example.com", first_name="Ada")

    series.run_due()

    messages = [parsed(item.raw) for item in sink.handler.accepted]
    assert len({m["Message-ID"] for m in messages}) == 2
    for message in messages:
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/newsletter/unsubscribe/" in message["List-Unsubscribe"]
        text = message.get_body(("plain",)).get_content()
        assert text.startswith("Hi Ada,")
        assert "Unsubscribe (one click): https://skincare.example/newsletter/" in text


def test_the_launch_steps_are_kp_basics_off_and_unreviewed_until_approved():
    steps = list(WelcomeStep.objects.all())
    assert [(s.position, s.delay_days) for s in steps] == [(2, 3), (3, 7), (4, 14)]
    assert all(s.subject.startswith("KP basics") for s in steps)
    assert not any(s.enabled or s.sending_since for s in steps)
    assert not any(s.approvals.exists() for s in steps)
    assert series.live_steps() == []


def test_the_launch_steps_render_as_emails_with_their_text():
    step = WelcomeStep.objects.get(position=3)
    subscriber = confirmed_days_ago(8, first_name="Ada")
    message = emails.welcome_step_message(
        step=step, position=step.position, subscriber=subscriber
    )
    raw = email.message_from_bytes(
        message.message().as_bytes(), policy=email.policy.default
    )
    assert raw["Subject"] == "KP basics: a gentle routine that tends to help"
    assert "urea, lactic acid" in raw.get_body(("plain",)).get_content()
