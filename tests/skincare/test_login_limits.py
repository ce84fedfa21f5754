"""Password guessing on the admin sign-in (django-axes with staff/sign_in_limits.py):
at most 10 guesses per account per hour from any number of addresses, at most 30
failed sign-ins per hour from one IPv4 address or IPv6 /64 across accounts, and the
owner of a locked account still gets in with a passkey or an emailed unlock link."""

import logging
import re
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from staff import sign_in_limits
from staff.models import SignInLockout, UnlockLink
from tests.factories import make_role_user, make_staff

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
UNLOCK = "/admin/second-factor/unlock/"
HOME = "192.0.2.10"
ELSEWHERE = "198.51.100.20"
ACCOUNT_LIMIT = 10
NETWORK_LIMIT = 30


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Dozens of attempts per test: a cheap hasher keeps them quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def attempt(client, username: str, *, password: str, ip: str = HOME, **headers):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
        **headers,
    )


def fail(client, username: str, times: int, *, ip: str = HOME) -> list[int]:
    return [
        attempt(client, username, password="wrong-password", ip=ip).status_code
        for _ in range(times)
    ]


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_limits_are_the_ones_promised():
    assert settings.STAFF_SIGN_IN_ACCOUNT_LIMIT == ACCOUNT_LIMIT
    assert settings.STAFF_SIGN_IN_NETWORK_LIMIT == NETWORK_LIMIT
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 3600


# The account limit -----------------------------------------------------------------


def test_guesses_from_many_addresses_lock_the_account_everywhere(client):
    """The hole: 20 guesses from 5 addresses, then the right password, got in."""
    user = make_staff()
    for n in range(ACCOUNT_LIMIT):
        assert fail(client, user.username, 1, ip=f"203.0.113.{n}") == [
            429 if n == ACCOUNT_LIMIT - 1 else 200
        ]
    response = attempt(client, user.username, password=user.raw_password, ip=ELSEWHERE)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    text = response.content.decode()
    assert "Too many wrong passwords for this account in the last hour." in text
    assert "Skincare admin" in text  # the admin's own page
    assert response["Retry-After"] == "3600"


def test_nine_guesses_from_anywhere_still_let_the_right_password_in(client):
    user = make_staff()
    for n in range(ACCOUNT_LIMIT - 1):
        fail(client, user.username, 1, ip=f"203.0.113.{n}")
    assert logged_in(attempt(client, user.username, password=user.raw_password))


def test_another_account_from_the_same_address_still_gets_in(client):
    victim = make_staff(username="victim")
    other = make_staff(username="colleague")
    fail(client, victim.username, ACCOUNT_LIMIT + 2)
    assert logged_in(attempt(client, other.username, password=other.raw_password))


def test_x_forwarded_for_cannot_move_a_client_to_fresh_addresses(client):
    user = make_staff()
    for n in range(NETWORK_LIMIT):
        attempt(
            client,
            f"someone-{n}",
            password="wrong",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    response = attempt(
        client,
        user.username,
        password=user.raw_password,
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HOME}


def test_the_lockout_ends_an_hour_after_the_last_failure(client):
    user = make_staff()
    fail(client, user.username, ACCOUNT_LIMIT)
    assert attempt(client, user.username, password=user.raw_password).status_code == 429
    # As if the hour had passed since the last attempt.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME
    )
    assert logged_in(attempt(client, user.username, password=user.raw_password))


def test_a_success_does_not_clear_earlier_failures_axes_default(client):
    """AXES_RESET_ON_SUCCESS is off: failures expire only with the hour, so nine
    guesses, a real login and one more guess lock the account."""
    user = make_staff()
    fail(client, user.username, ACCOUNT_LIMIT - 1)
    assert logged_in(attempt(client, user.username, password=user.raw_password))
    client.logout()
    fail(client, user.username, 1, ip=ELSEWHERE)
    assert attempt(client, user.username, password=user.raw_password).status_code == 429


# The network limit -----------------------------------------------------------------


def test_spraying_one_password_over_many_accounts_is_stopped(client):
    """The hole: one password tried on every account was not limited at all."""
    victim = make_staff(username="victim")
    statuses = fail(client, "user-0", 1)
    for n in range(1, NETWORK_LIMIT):
        statuses += fail(client, f"user-{n}", 1)
    assert statuses == [200] * (NETWORK_LIMIT - 1) + [429]
    response = attempt(client, victim.username, password=victim.raw_password)
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed sign-ins from your network" in text
    # The unlock link lifts the account limit only, so it is not offered here.
    assert "Email me an unlock link" not in text
    # Another network is not affected.
    assert logged_in(
        attempt(client, victim.username, password=victim.raw_password, ip=ELSEWHERE)
    )


def test_every_address_of_an_ipv6_64_shares_one_budget(client):
    """The hole: each address of a /64 had its own budget."""
    user = make_staff()
    for n in range(NETWORK_LIMIT):
        fail(client, f"user-{n}", 1, ip=f"2001:db8:1:2::{n + 1:x}")
    response = attempt(
        client, user.username, password=user.raw_password, ip="2001:db8:1:2:ffff::9"
    )
    assert response.status_code == 429
    assert logged_in(
        attempt(client, user.username, password=user.raw_password, ip="2001:db8:1:3::1")
    )


@pytest.mark.parametrize(
    ("remote_addr", "network"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("::ffff:192.0.2.10", "192.0.2.10"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::"),
        ("fe80::1%eth0", "fe80::"),
        ("not an address", None),
        ("", None),
    ],
)
def test_the_client_network_is_the_ipv4_address_or_the_ipv6_64(remote_addr, network):
    request = RequestFactory().get("/", REMOTE_ADDR=remote_addr)
    assert sign_in_limits.client_network(request) == network


def test_ipv4_mapped_ipv6_counts_against_the_ipv4_address(client):
    user = make_staff()
    for n in range(NETWORK_LIMIT):
        fail(client, f"user-{n}", 1, ip="::ffff:192.0.2.10" if n % 2 else HOME)
    assert attempt(client, user.username, password=user.raw_password).status_code == 429


# Logged and shown -----------------------------------------------------------------


def test_each_lockout_is_logged_and_stored_once(client, caplog):
    user = make_staff()
    with caplog.at_level(logging.INFO):
        fail(client, user.username, ACCOUNT_LIMIT + 3)
    [lockout] = SignInLockout.objects.all()
    assert lockout.limit == SignInLockout.Limit.ACCOUNT
    assert lockout.username == user.username
    assert lockout.network == HOME
    assert lockout.failures == ACCOUNT_LIMIT
    ours = [r for r in caplog.records if r.name == "staff.sign_in_limits"]
    assert len(ours) == 1
    assert ours[0].levelno == logging.WARNING
    assert user.username in ours[0].getMessage()
    assert HOME in ours[0].getMessage()
    assert "password" not in ours[0].getMessage().replace("password guesses", "")


def test_a_network_lockout_is_stored_too(client):
    for n in range(NETWORK_LIMIT):
        fail(client, f"user-{n}", 1)
    [lockout] = SignInLockout.objects.all()
    assert lockout.limit == SignInLockout.Limit.NETWORK
    assert lockout.network == HOME
    assert lockout.failures == NETWORK_LIMIT


def test_superusers_see_recent_lockouts_on_the_admin_home(client):
    fail(Client(), "victim", ACCOUNT_LIMIT)
    boss = make_staff(username="boss")
    client.force_login(boss)
    page = client.get("/admin/").content.decode()
    assert "Sign-in lockouts, last 7 days" in page
    assert "Password guesses at one account" in page
    assert "victim" in page
    assert reverse("admin:staff_signinlockout_changelist") in page


def test_editors_do_not_see_the_lockouts(client):
    fail(Client(), "victim", ACCOUNT_LIMIT)
    client.force_login(make_role_user("Editor"))
    page = client.get("/admin/").content.decode()
    assert "Sign-in lockouts" not in page


# The owner still gets in -----------------------------------------------------------


def test_the_lockout_page_offers_a_passkey_and_an_unlock_link(client):
    user = make_staff()
    response = fail(client, user.username, ACCOUNT_LIMIT) and attempt(
        client, user.username, password=user.raw_password
    )
    text = response.content.decode()
    assert 'id="passkey-verification-placeholder"' in text
    assert "Sign in with a passkey" in text
    assert f'action="{UNLOCK}"' in text
    assert f'value="{user.username}"' in text


def test_a_passkey_signs_in_to_a_locked_account_from_a_locked_network(rf):
    user = make_staff()
    # Both limits spent: the account's, and the network's the owner is on.
    fail(Client(), user.username, NETWORK_LIMIT)
    passkey = WebAuthnCredential.objects.create(
        user=user,
        credential_id=b"credential",
        public_key=b"key",
        aaguid="00000000-0000-0000-0000-000000000000",
        confirmed=True,
    )
    request = rf.post("/admin/passkeys/sign-in/complete/", REMOTE_ADDR=HOME)
    assert authenticate(request, webauthn_credential=passkey) == user
    # While the password is refused unchecked.
    assert authenticate(
        request, username=user.username, password=user.raw_password
    ) is (None)


def ask_for_unlock(client, username: str, *, on_commit, ip: str = HOME):
    """Ask for an unlock link, running the email task the request queues."""
    with on_commit(execute=True):
        return client.post(UNLOCK, {"username": username}, REMOTE_ADDR=ip)


def emailed_link() -> str:
    """The path of the unlock link in the one email sent."""
    [message] = mail.outbox
    return urlsplit(re.search(r"http\S+/unlock/\S+/", message.body).group(0)).path


def test_an_unlock_link_lets_the_owner_sign_in_once_with_password_and_factor(
    client, unverified_client, django_capture_on_commit_callbacks
):
    user = make_staff()
    fail(unverified_client, user.username, ACCOUNT_LIMIT)
    response = ask_for_unlock(
        unverified_client,
        user.username,
        on_commit=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert mail.outbox[0].to == [user.email]
    link = emailed_link()

    owner = Client()
    # Opening the link (a mail scanner does too) spends nothing.
    page = owner.get(link)
    assert page.status_code == 200
    assert "Unlock and go to sign-in" in page.content.decode()
    assert UnlockLink.objects.get().used_at is None
    assert owner.post(link)["Location"] == reverse("admin:login")
    assert UnlockLink.objects.get().used_at is not None

    # The password alone still meets the second factor.
    response = attempt(owner, user.username, password=user.raw_password)
    assert logged_in(response)
    assert sign_in_limits.UNLOCK_PASS_KEY not in owner.session
    assert owner.get("/admin/")["Location"].startswith("/admin/second-factor/")
    # Once: signed out, the pass is gone and the account is still locked.
    owner.logout()
    assert attempt(owner, user.username, password=user.raw_password).status_code == (
        429
    )
    # The link works once.
    assert Client().post(link).status_code == 410


def test_an_unlock_pass_does_not_open_another_account_or_lift_the_network_limit(
    client, django_capture_on_commit_callbacks
):
    user = make_staff(username="owner")
    other = make_staff(username="other")
    fail(client, other.username, ACCOUNT_LIMIT)
    fail(client, user.username, ACCOUNT_LIMIT)
    ask_for_unlock(client, user.username, on_commit=django_capture_on_commit_callbacks)
    owner = Client()
    owner.post(emailed_link())
    assert attempt(owner, other.username, password=other.raw_password).status_code == (
        429
    )
    for n in range(NETWORK_LIMIT):
        fail(owner, f"user-{n}", 1)
    assert attempt(owner, user.username, password=user.raw_password).status_code == 429


def test_asking_for_an_unlock_link_says_the_same_for_unknown_accounts(
    client, django_capture_on_commit_callbacks
):
    make_staff(username="owner")
    known = ask_for_unlock(
        client, "owner", on_commit=django_capture_on_commit_callbacks
    )
    unknown = ask_for_unlock(
        client, "nobody", on_commit=django_capture_on_commit_callbacks
    )
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", known.content.decode()) == strip.sub(
        "", unknown.content.decode()
    )
    assert len(mail.outbox) == 1


def test_unlock_links_go_only_to_staff_with_an_address_and_three_an_hour(
    client, django_capture_on_commit_callbacks
):
    make_staff(username="owner")
    reader = make_role_user("Writer", username="reader")
    reader.is_staff = False
    reader.save()
    for _ in range(5):
        ask_for_unlock(client, "owner", on_commit=django_capture_on_commit_callbacks)
    ask_for_unlock(client, "reader", on_commit=django_capture_on_commit_callbacks)
    assert len(mail.outbox) == settings.STAFF_UNLOCK_LINKS_PER_HOUR
    assert {m.to[0] for m in mail.outbox} == {"owner@example.com"}


def test_one_network_cannot_ask_for_unlock_links_without_end(
    client, settings, django_capture_on_commit_callbacks
):
    settings.STAFF_UNLOCK_REQUESTS_PER_NETWORK = 2
    statuses = [
        ask_for_unlock(
            client, f"user-{n}", on_commit=django_capture_on_commit_callbacks
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]
    other = ask_for_unlock(
        client, "user-9", ip=ELSEWHERE, on_commit=django_capture_on_commit_callbacks
    )
    assert other.status_code == 200


def test_an_expired_unlock_link_is_refused(client, django_capture_on_commit_callbacks):
    user = make_staff()
    ask_for_unlock(client, user.username, on_commit=django_capture_on_commit_callbacks)
    UnlockLink.objects.update(expires_at=timezone.now())
    link = emailed_link()
    response = Client().post(link)
    assert response.status_code == 410
    assert "has expired or has been used" in response.content.decode()
    assert UnlockLink.objects.get().used_at is None


def test_an_unlock_pass_allows_only_a_few_wrong_passwords(
    client, django_capture_on_commit_callbacks
):
    user = make_staff()
    fail(client, user.username, ACCOUNT_LIMIT)
    ask_for_unlock(client, user.username, on_commit=django_capture_on_commit_callbacks)
    owner = Client()
    owner.post(emailed_link())
    tries = sign_in_limits.UNLOCK_PASS_TRIES
    assert fail(owner, user.username, tries + 1, ip=ELSEWHERE) == [200] * tries + [429]
    assert attempt(owner, user.username, password=user.raw_password).status_code == 429
