"""Passkeys in Chromium, with the DevTools virtual authenticator standing in for a
phone or security key: enrolment at first sign-in, then the passkey as second
factor, on its own, and past a lockout."""

import pytest
from django.contrib.auth import get_user_model
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from staff.models import BackupCode, SignInLockout
from tests.browser_fixtures import PHONE
from tests.factories import make_role_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def passkey_site(settings, live_server):
    """The live server's origin is the one passkeys are made for (SITE_URL's in
    production); WebAuthn treats http://localhost as a secure context."""
    assert live_server.url.startswith("http://localhost:")
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return live_server


def add_virtual_authenticator(page) -> tuple:
    """A platform authenticator with discoverable credentials and a fingerprint
    check that always passes (CDP WebAuthn domain)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def password_sign_in(page, url: str, user, password: str | None = None) -> None:
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password or user.raw_password)
    page.get_by_role("button", name="Log in").click()


def log_out(page) -> None:
    page.locator("#logout-form").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Logged out")).to_be_visible()


def expect_admin(page, user) -> None:
    expect(page.locator("#user-tools")).to_contain_text(f"Welcome, {user.username}")


def test_a_writer_enrols_a_passkey_and_signs_in_with_it(
    page, passkey_site, artifacts_dir
):
    url = passkey_site.url
    writer = make_role_user("Writer")
    cdp, authenticator = add_virtual_authenticator(page)

    # First sign-in: the password, then a passkey made on the spot.
    password_sign_in(page, url, writer)
    expect(
        page.get_by_role("heading", name="Set up your second factor")
    ).to_be_visible()
    page.screenshot(path=artifacts_dir / "staff-enrol-passkey-desktop.png")
    page.get_by_role("button", name="Make a passkey").click()
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    assert page.locator(".backup-codes li").count() == 10
    page.screenshot(path=artifacts_dir / "staff-backup-codes-desktop.png")
    passkey = WebAuthnCredential.objects.get(user=writer)
    assert passkey.discoverable is True
    assert BackupCode.objects.filter(device__user=writer).count() == 10
    credentials = cdp.send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator}
    )
    assert len(credentials["credentials"]) == 1
    page.get_by_role("link", name="I have saved them: continue").click()
    expect_admin(page, writer)

    # Password, then the passkey as the second factor.
    log_out(page)
    password_sign_in(page, url, writer)
    expect(page.get_by_role("heading", name="Give your second factor")).to_be_visible()
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts_dir / "staff-verify-passkey-phone.png")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Use my passkey").click()
    expect_admin(page, writer)

    # The passkey alone: it is both factors (held, and unlocked by fingerprint).
    log_out(page)
    page.goto(f"{url}/admin/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect_admin(page, writer)
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None


def test_the_owner_of_a_locked_account_gets_in_with_a_passkey(page, passkey_site):
    url = passkey_site.url
    editor = make_role_user("Editor")
    add_virtual_authenticator(page)
    password_sign_in(page, url, editor)
    page.get_by_role("button", name="Make a passkey").click()
    page.get_by_role("link", name="I have saved them: continue").click()
    expect_admin(page, editor)
    log_out(page)

    # Someone guesses at the account until it locks.
    for _ in range(10):
        password_sign_in(page, url, editor, password="a-wrong-guess")
    expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
    assert SignInLockout.objects.filter(username=editor.username).exists()
    # Even the right password is refused now ...
    password_sign_in(page, url, editor)
    expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
    # ... but the passkey, which cannot be guessed, still opens the admin.
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect_admin(page, editor)
    assert get_user_model().objects.get(pk=editor.pk).last_login is not None
