"""Expiring subscribers' operational history (newsletter/subscribers/retention.py):
proof of consent and of leaving stays, operational records go after
NEWSLETTER_EVENTS_KEEP_DAYS."""

from datetime import timedelta

import pytest
from django.utils import timezone

from newsletter.models import SubscriberEvent
from newsletter.subscribers import retention, subscriptions
from tests.factories import make_subscriber, make_topic

pytestmark = pytest.mark.django_db

Kind = SubscriberEvent.Kind
OLD = timedelta(days=400)


@pytest.fixture(autouse=True)
def keep_a_year(settings):
    settings.NEWSLETTER_EVENTS_KEEP_DAYS = 365


def aged(age: timedelta) -> None:
    """Every event recorded so far happened `age` ago."""
    SubscriberEvent.objects.update(at=timezone.now() - age)


def kinds_left(subscriber) -> list[str]:
    return sorted(subscriber.events.values_list("kind", flat=True))


def test_every_kind_of_event_is_either_proof_of_consent_or_operational():
    consent, operational = (
        set(retention.CONSENT_RECORDS),
        set(retention.OPERATIONAL_RECORDS),
    )
    assert not consent & operational
    assert consent | operational == set(Kind.values)


def test_old_consent_and_leaving_records_stay_and_old_operational_ones_go():
    subscriber = make_subscriber(status="unsubscribed")
    for kind in Kind.values:
        subscriptions.record_event(subscriber, kind, ip="198.51.100.7")
    aged(OLD)
    assert retention.expire_subscriber_events(dry_run=False) == 3
    assert kinds_left(subscriber) == sorted(retention.CONSENT_RECORDS)


def test_operational_records_younger_than_the_setting_stay():
    subscriber = make_subscriber(status="confirmed")
    subscriptions.record_event(subscriber, Kind.CONFIRMATION_SENT)
    aged(timedelta(days=364))
    assert retention.expire_subscriber_events(dry_run=False) == 0
    assert kinds_left(subscriber) == [Kind.CONFIRMATION_SENT]


def test_a_pause_expires_but_a_change_of_topics_is_kept():
    subscriber = make_subscriber(status="confirmed")
    subscriptions.pause(subscriber=subscriber, ip=None)
    subscriptions.resume(subscriber=subscriber, ip=None)
    subscriptions.update_preferences(
        subscriber=subscriber,
        topics=[make_topic(name="Acne")],
        frequency=subscriber.frequency,
        ip=None,
    )
    aged(OLD)
    assert retention.expire_subscriber_events(dry_run=False) == 2
    [kept] = subscriber.events.values_list("detail", flat=True)
    assert kept.startswith("topics: ")


def test_a_dry_run_deletes_nothing_and_a_second_run_finds_nothing():
    subscriber = make_subscriber(status="confirmed")
    for _ in range(3):
        subscriptions.record_event(subscriber, Kind.CONFIRMATION_SENT)
    subscriptions.record_event(subscriber, Kind.CONFIRMED)
    aged(OLD)
    assert retention.expire_subscriber_events(dry_run=True) == 3
    assert subscriber.events.count() == 4
    assert retention.expire_subscriber_events(dry_run=False) == 3
    assert retention.expire_subscriber_events(dry_run=False) == 0
    assert kinds_left(subscriber) == [Kind.CONFIRMED]
