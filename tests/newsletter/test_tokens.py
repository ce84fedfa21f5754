"""Tokens signed with the site's key but carrying an unexpected payload are bad
links like any other: a 404 page on every view that takes a token, never a 500."""

from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Subscriber
from newsletter.subscribers.tokens import Purpose, TokenInvalid, _digest, read_token
from tests.factories import make_subscriber
from tests.newsletter.test_pages import FrozenTime

pytestmark = pytest.mark.django_db


def shapes(subscriber: Subscriber, first: Subscriber) -> dict[str, object]:
    """Payloads make_token() never writes, each signed as it would be."""
    pk, digest = subscriber.pk, _digest(subscriber.email)
    return {
        "s_string": {"s": "abc", "e": digest},
        "s_numeric_string": {"s": str(pk), "e": digest},
        "s_list": {"s": [pk], "e": digest},
        "s_dict": {"s": {"pk": pk}, "e": digest},
        "s_none": {"s": None, "e": digest},
        "s_true": {"s": True, "e": _digest(first.email)},
        "s_float": {"s": float(pk), "e": digest},
        "s_zero": {"s": 0, "e": digest},
        "s_negative": {"s": -pk, "e": digest},
        "s_huge": {"s": 10**30, "e": digest},
        "s_over_64_bits": {"s": 2**63, "e": digest},
        "no_s": {"e": digest},
        "no_e": {"s": pk},
        "e_list": {"s": pk, "e": [digest]},
        "e_int": {"s": pk, "e": 12},
        "e_none": {"s": pk, "e": None},
        "empty_dict": {},
        "list": [pk, digest],
        "int": pk,
        "string": "hello",
        "null": None,
        "true": True,
        "float": 1.5,
    }


_example = Subscriber(pk=1, email="x@example.com")
SHAPE_NAMES = list(shapes(_example, _example))

# (URL name, purpose, method, data) for every request a token view answers.
REQUESTS = [
    ("confirm", Purpose.CONFIRM, "get", None),
    ("confirm", Purpose.CONFIRM, "post", {}),
    ("confirm_resend", Purpose.CONFIRM, "get", None),
    ("confirm_resend", Purpose.CONFIRM, "post", {}),
    ("unsubscribe", Purpose.UNSUBSCRIBE, "get", None),
    ("unsubscribe", Purpose.UNSUBSCRIBE, "post", {}),
    ("unsubscribe", Purpose.UNSUBSCRIBE, "post", {"List-Unsubscribe": "One-Click"}),
    ("preferences", Purpose.PREFERENCES, "get", None),
    ("preferences", Purpose.PREFERENCES, "post", {"action": "pause"}),
    ("data", Purpose.DATA, "get", None),
    ("data", Purpose.DATA, "post", {"action": "export"}),
    ("data", Purpose.DATA, "post", {"action": "delete"}),
    ("data_delete", Purpose.DELETE, "get", None),
    ("data_delete", Purpose.DELETE, "post", {}),
]
REQUEST_IDS = [
    f"{r[0]}-{r[2]}-{'-'.join(map(str, (r[3] or {}).values()))}" for r in REQUESTS
]


@pytest.fixture
def subscribers():
    # Subscriber 1 exists, so a payload naming it by accident (True == 1) would
    # find someone. Explicit keys: the same on SQLite and PostgreSQL.
    return make_subscriber(pk=1), make_subscriber(pk=2, status="confirmed")


@pytest.mark.parametrize("shape", SHAPE_NAMES)
@pytest.mark.parametrize(
    ("name", "purpose", "method", "data"), REQUESTS, ids=REQUEST_IDS
)
def test_a_signed_token_with_an_unexpected_payload_is_a_404_page(
    client, mailoutbox, subscribers, shape, name, purpose, method, data
):
    first, subscriber = subscribers
    token = signing.dumps(
        shapes(subscriber, first)[shape], salt=f"newsletter.{purpose}"
    )
    path = reverse(f"newsletter:{name}", kwargs={"token": token})

    response = (
        getattr(client, method)(path, data) if data is not None else (client.get(path))
    )

    assert response.status_code == 404
    assert "This link is not valid" in response.text
    assert "no-store" in response["Cache-Control"]
    assert Subscriber.objects.count() == 2
    assert set(Subscriber.objects.values_list("status", flat=True)) == {
        Subscriber.Status.PENDING,
        Subscriber.Status.CONFIRMED,
    }
    assert mailoutbox == []


@pytest.mark.parametrize("shape", SHAPE_NAMES)
@pytest.mark.parametrize("purpose", [Purpose.CONFIRM, Purpose.DELETE])
def test_an_expired_token_with_an_unexpected_payload_is_invalid_too(
    subscribers, monkeypatch, shape, purpose
):
    first, subscriber = subscribers
    past = (timezone.now() - timedelta(days=400)).timestamp()
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", FrozenTime(past))
        token = signing.dumps(
            shapes(subscriber, first)[shape], salt=f"newsletter.{purpose}"
        )
    with pytest.raises(TokenInvalid):
        read_token(token, purpose=purpose)


def test_an_expired_confirm_link_with_a_bad_payload_is_a_404_page(
    client, subscribers, monkeypatch
):
    past = (timezone.now() - timedelta(days=400)).timestamp()
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", FrozenTime(past))
        token = signing.dumps({"s": "abc", "e": 5}, salt="newsletter.confirm")
    for name in ("confirm", "confirm_resend"):
        path = reverse(f"newsletter:{name}", kwargs={"token": token})
        assert client.post(path).status_code == 404


def test_the_well_formed_payload_still_reads(subscribers):
    _, subscriber = subscribers
    payload = {"s": subscriber.pk, "e": _digest(subscriber.email)}
    for purpose in Purpose:
        token = signing.dumps(payload, salt=f"newsletter.{purpose}")
        assert read_token(token, purpose=purpose) == subscriber
