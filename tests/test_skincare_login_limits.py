"""Password guessing on the admin sign-in: django-axes, per account and address."""

import logging

import pytest
from axes.models import AccessAttempt
from django.conf import settings

from tests.factories import make_staff

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
HOME = "192.0.2.10"
ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Dozens of attempts per test: a cheap hasher keeps them quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def attempt(client, user, *, password: str, ip: str = HOME, **headers):
    return client.post(
        LOGIN,
        {"username": user.username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
        **headers,
    )


def fail(client, user, times: int, *, ip: str = HOME) -> list[int]:
    return [
        attempt(client, user, password="wrong-password", ip=ip).status_code
        for _ in range(times)
    ]


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_right_password_after_five_failures_is_refused_with_a_clear_429(client):
    user = make_staff()
    # The form again for the first four; the fifth failure locks the pair at once.
    assert fail(client, user, settings.AXES_FAILURE_LIMIT) == [200, 200, 200, 200, 429]
    response = attempt(client, user, password=user.raw_password)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    text = response.content.decode()
    assert "Too many failed sign-in attempts" in text
    assert "Try again in 15 minutes." in text
    assert "Skincare admin" in text  # the admin's own page
    assert response["Retry-After"] == "900"


def test_four_failures_still_let_the_right_password_in(client):
    user = make_staff()
    fail(client, user, settings.AXES_FAILURE_LIMIT - 1)
    assert logged_in(attempt(client, user, password=user.raw_password))


def test_thirty_wrong_passwords_then_the_right_one_stays_locked(client):
    user = make_staff()
    for _ in range(30):
        attempt(client, user, password="wrong-password")
    response = attempt(client, user, password=user.raw_password)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_logged(client, caplog):
    user = make_staff()
    with caplog.at_level(logging.INFO, logger="axes"):
        fail(client, user, settings.AXES_FAILURE_LIMIT)
    locked = [r for r in caplog.records if "Locking out" in r.getMessage()]
    assert len(locked) == 1
    assert locked[0].levelno == logging.WARNING
    assert user.username in locked[0].getMessage()
    assert HOME in locked[0].getMessage()


def test_the_same_account_from_another_address_still_gets_in(client):
    user = make_staff()
    fail(client, user, settings.AXES_FAILURE_LIMIT + 2)
    assert logged_in(attempt(client, user, password=user.raw_password, ip=ELSEWHERE))


def test_another_account_from_the_same_address_still_gets_in(client):
    victim = make_staff(username="victim")
    other = make_staff(username="colleague")
    fail(client, victim, settings.AXES_FAILURE_LIMIT + 2)
    assert logged_in(attempt(client, other, password=other.raw_password))


def test_x_forwarded_for_cannot_move_a_locked_client_to_a_fresh_address(client):
    user = make_staff()
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, user, password="wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = attempt(
        client,
        user,
        password=user.raw_password,
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HOME}


def test_the_lockout_ends_after_the_cool_off(client, settings):
    user = make_staff()
    fail(client, user, settings.AXES_FAILURE_LIMIT)
    assert attempt(client, user, password=user.raw_password).status_code == 429
    # As if the cool-off had passed since the last attempt.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - settings.AXES_COOLOFF_TIME
    )
    assert logged_in(attempt(client, user, password=user.raw_password))


def test_a_success_elsewhere_does_not_unlock_the_locked_address(client):
    user = make_staff()
    fail(client, user, settings.AXES_FAILURE_LIMIT)
    assert logged_in(attempt(client, user, password=user.raw_password, ip=ELSEWHERE))
    client.logout()
    assert attempt(client, user, password=user.raw_password).status_code == 429


def test_a_success_does_not_clear_earlier_failures_axes_default(client):
    """AXES_RESET_ON_SUCCESS is off (axes' default): failures expire only with the
    cool-off, so four guesses, a real login and one more guess lock the pair."""
    user = make_staff()
    fail(client, user, settings.AXES_FAILURE_LIMIT - 1)
    assert logged_in(attempt(client, user, password=user.raw_password))
    client.logout()
    fail(client, user, 1)
    assert attempt(client, user, password=user.raw_password).status_code == 429
