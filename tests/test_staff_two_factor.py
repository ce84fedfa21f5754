"""The second factor for staff who can publish or review (staff/): enrolment, the
code on each sign-in, throttled wrong codes, and who is asked."""

import io
import os
import subprocess
import sys
from base64 import b32encode
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from articles.models import Topic
from tests.browser_fixtures import PHONE, current_code
from tests.factories import make_reviewer, make_role_user, make_staff, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "/admin/"
ENROL = "/admin/second-factor/enrol/"
VERIFY = "/admin/second-factor/verify/"


def enrol_url(next_path: str = ADMIN) -> str:
    return f"{ENROL}?next={next_path.replace('/', '%2F')}"


def verify_url(next_path: str = ADMIN) -> str:
    return f"{VERIFY}?next={next_path.replace('/', '%2F')}"


def signed_in(client, user):
    """A client past the password, not yet past the second factor."""
    client.force_login(user)
    return client


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(current_code(device)) + 1) % 1_000_000:06d}"


def let_wait_pass(device: TOTPDevice) -> None:
    """Move the last failure back a day, as if the throttle's wait were over."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(days=1)
    )


def error_of(response) -> str:
    return response.context["form"].errors["token"][0]


# Who is asked -------------------------------------------------------------------


@pytest.mark.parametrize("make_user", ["Editor", "Medical reviewer", "superuser"])
def test_staff_who_can_publish_or_review_are_sent_to_enrolment_first(
    unverified_client, make_user
):
    user = (
        make_staff(username="boss")
        if make_user == "superuser"
        else make_role_user(make_user)
    )
    client = signed_in(unverified_client, user)
    response = client.get(ADMIN)
    assert response.status_code == 302
    assert response["Location"] == enrol_url()


def test_an_editor_without_a_device_reaches_no_admin_page(unverified_client):
    client = signed_in(unverified_client, make_role_user("Editor"))
    for name in [
        "admin:articles_article_changelist",
        "admin:articles_article_add",
        "admin:articles_topic_add",
        "admin:password_change",
    ]:
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"] == enrol_url(url)


def test_a_post_to_an_admin_url_before_the_code_changes_nothing_and_says_why(
    unverified_client,
):
    client = signed_in(unverified_client, make_role_user("Editor"))
    url = reverse("admin:articles_topic_add")
    response = client.post(
        url, {"name": "Acne", "slug": "acne", "review_interval_months": 12}
    )
    assert response.status_code == 302
    assert response["Location"] == enrol_url(url)
    assert not Topic.objects.filter(slug="acne").exists()
    [message] = get_messages(response.wsgi_request)
    assert str(message).startswith("Nothing was saved: your account can publish")


def test_a_post_from_an_enrolled_but_unverified_editor_is_sent_to_the_code(
    unverified_client,
):
    editor = make_role_user("Editor")
    confirmed_device(editor)
    client = signed_in(unverified_client, editor)
    url = reverse("admin:articles_topic_add")
    response = client.post(url, {"name": "Acne", "slug": "acne"})
    assert response["Location"] == verify_url(url)
    assert not Topic.objects.filter(slug="acne").exists()


def test_a_writer_is_not_asked_for_a_code(unverified_client):
    client = signed_in(unverified_client, make_role_user("Writer"))
    assert client.get(ADMIN).status_code == 200
    assert client.get(ENROL)["Location"] == ADMIN
    assert not TOTPDevice.objects.exists()


def test_with_the_second_factor_off_nobody_is_asked(unverified_client, settings):
    settings.STAFF_TWO_FACTOR = False
    client = signed_in(unverified_client, make_role_user("Editor"))
    assert client.get(ADMIN).status_code == 200
    assert client.get(reverse("admin:articles_topic_add")).status_code == 200
    assert client.get(VERIFY)["Location"] == ADMIN


def test_sign_in_and_sign_out_stay_open_before_the_code(unverified_client):
    client = signed_in(unverified_client, make_role_user("Editor"))
    assert client.get(enrol_url()).status_code == 200
    response = client.post(reverse("admin:logout"))
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:login")).status_code == 200


def test_visitors_are_sent_to_the_admin_sign_in_not_to_a_code(unverified_client):
    for url in [ENROL, VERIFY]:
        response = unverified_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


# Enrolment ----------------------------------------------------------------------


def test_the_enrolment_page_shows_a_qr_code_and_the_key_made_here(unverified_client):
    editor = make_role_user("Editor")
    text = signed_in(unverified_client, editor).get(enrol_url()).text
    device = TOTPDevice.objects.get(user=editor)
    assert not device.confirmed
    assert '<svg role="img" class="staff-qr"' in text
    assert "<title>QR code to scan with your authenticator app</title>" in text
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in text
    # Drawn on the server: no script, no image from anywhere, the secret stays here.
    assert "<img" not in text
    assert "otpauth://" not in text
    assert '<script src="http' not in text


def test_reloading_the_enrolment_page_keeps_the_same_key(unverified_client):
    editor = make_role_user("Editor")
    client = signed_in(unverified_client, editor)
    client.get(ENROL)
    key = TOTPDevice.objects.get(user=editor).key
    client.get(ENROL)
    assert list(TOTPDevice.objects.values_list("key", flat=True)) == [key]


def test_enrolment_with_a_wrong_code_fails_and_leaves_the_device_unconfirmed(
    unverified_client,
):
    editor = make_role_user("Editor")
    client = signed_in(unverified_client, editor)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=editor)
    response = client.post(enrol_url(), {"token": wrong_code(device)})
    assert response.status_code == 200
    assert error_of(response).startswith("That code is not right.")
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get(ADMIN)["Location"] == enrol_url()


def test_enrolment_refuses_what_is_not_six_digits_without_counting_it(
    unverified_client,
):
    editor = make_role_user("Editor")
    client = signed_in(unverified_client, editor)
    client.get(ENROL)
    response = client.post(ENROL, {"token": "12a456"})
    assert error_of(response) == "Enter the 6 digits your authenticator app shows."
    assert TOTPDevice.objects.get(user=editor).throttling_failure_count == 0


def test_enrolment_with_the_right_code_confirms_the_device_and_verifies_the_session(
    unverified_client,
):
    editor = make_role_user("Editor")
    client = signed_in(unverified_client, editor)
    client.get(ENROL)
    session_key = client.session.session_key
    device = TOTPDevice.objects.get(user=editor)
    changelist = reverse("admin:articles_article_changelist")
    # Apps show the code in two groups; people type it so.
    code = current_code(device)
    response = client.post(
        ENROL, {"token": f"{code[:3]} {code[3:]}", "next": changelist}
    )
    assert response.status_code == 302
    assert response["Location"] == changelist
    device.refresh_from_db()
    assert device.confirmed
    assert client.session.session_key != session_key  # a fresh key once verified
    assert client.get(changelist).status_code == 200


def test_an_account_with_a_confirmed_device_cannot_enrol_another(unverified_client):
    editor = make_role_user("Editor")
    confirmed_device(editor)
    client = signed_in(unverified_client, editor)
    assert client.get(ENROL)["Location"] == verify_url()
    assert client.post(ENROL, {"token": "123456"})["Location"] == verify_url()
    assert TOTPDevice.objects.filter(user=editor).count() == 1


def test_only_admin_addresses_are_followed_after_the_code(unverified_client):
    editor = make_role_user("Editor")
    device = confirmed_device(editor)
    client = signed_in(unverified_client, editor)
    response = client.post(
        VERIFY, {"token": current_code(device), "next": "https://evil.example/admin/"}
    )
    assert response["Location"] == ADMIN


# Each sign-in -------------------------------------------------------------------


def test_a_verified_editor_reaches_the_admin(unverified_client):
    editor = make_role_user("Editor")
    device = confirmed_device(editor)
    client = signed_in(unverified_client, editor)
    assert client.get(ADMIN)["Location"] == verify_url()
    page = client.get(verify_url())
    assert page.status_code == 200
    assert "Enter your sign-in code" in page.text
    response = client.post(verify_url(), {"token": current_code(device)})
    assert response["Location"] == ADMIN
    assert client.get(ADMIN).status_code == 200
    response = client.post(
        reverse("admin:articles_topic_add"),
        {"name": "Acne", "slug": "acne", "review_interval_months": 12},
    )
    assert response.status_code == 302, response.context["adminform"].errors
    assert Topic.objects.filter(name="Acne").exists()


def test_the_same_code_does_not_open_a_second_session(unverified_client):
    editor = make_role_user("Editor")
    device = confirmed_device(editor)
    code = current_code(device)
    first = signed_in(unverified_client, editor)
    assert first.post(VERIFY, {"token": code})["Location"] == ADMIN
    second = signed_in(Client(), editor)
    response = second.post(VERIFY, {"token": code})
    assert response.status_code == 200
    assert error_of(response).startswith("That code is not right.")


def test_an_editor_whose_device_is_removed_sets_up_a_new_one(unverified_client):
    editor = make_role_user("Editor")
    device = confirmed_device(editor)
    client = signed_in(unverified_client, editor)
    client.post(VERIFY, {"token": current_code(device)})
    assert client.get(ADMIN).status_code == 200
    out = io.StringIO()
    call_command("remove_second_factor", editor.username, stdout=out)
    assert f"Removed 1 authenticator app(s) from {editor.username}" in out.getvalue()
    assert client.get(ADMIN)["Location"] == enrol_url()


def test_removing_the_second_factor_of_an_unknown_account_says_so():
    with pytest.raises(CommandError, match="No account with the username 'nobody'"):
        call_command("remove_second_factor", "nobody", stdout=io.StringIO())


def test_the_device_admin_never_shows_a_secret_again(client):
    boss = make_staff(username="boss")
    client.force_login(boss)
    device = TOTPDevice.objects.get(user=boss)
    change = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert change.status_code == 200
    assert device.key not in change.text
    config = reverse("admin:otp_totp_totpdevice_config", args=[device.pk])
    assert client.get(config).status_code == 403


def test_the_test_client_signs_staff_in_with_their_second_factor(client):
    reviewer = make_reviewer()
    client.force_login(reviewer)
    assert client.get(ADMIN).status_code == 200
    assert TOTPDevice.objects.get(user=reviewer).confirmed


# Throttling wrong codes ---------------------------------------------------------


def test_wrong_codes_are_throttled_and_a_right_one_then_waits_too(unverified_client):
    editor = make_role_user("Editor")
    device = confirmed_device(editor)
    client = signed_in(unverified_client, editor)

    first = client.post(VERIFY, {"token": wrong_code(device)})
    assert error_of(first).startswith("That code is not right.")
    # Straight after a wrong code even the right one is refused, and not counted.
    refused = client.post(VERIFY, {"token": current_code(device)})
    assert error_of(refused).startswith("Too many wrong codes in a row. Wait 1 second,")
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert client.get(ADMIN)["Location"] == verify_url()

    for _ in range(3):
        let_wait_pass(device)
        client.post(VERIFY, {"token": wrong_code(device)})
    device.refresh_from_db()
    assert device.throttling_failure_count == 4
    refused = client.post(VERIFY, {"token": current_code(device)})
    assert "Wait 8 seconds" in error_of(refused)


def test_a_right_code_after_the_wait_gets_in_and_clears_the_count(unverified_client):
    editor = make_role_user("Editor")
    device = confirmed_device(editor)
    client = signed_in(unverified_client, editor)
    for _ in range(5):
        client.post(VERIFY, {"token": wrong_code(device)})
        let_wait_pass(device)
    device.refresh_from_db()
    assert device.throttling_failure_count == 5
    assert client.post(VERIFY, {"token": current_code(device)})["Location"] == ADMIN
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_wrong_codes_at_enrolment_are_throttled_too(unverified_client):
    editor = make_role_user("Editor")
    client = signed_in(unverified_client, editor)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=editor)
    client.post(ENROL, {"token": wrong_code(device)})
    response = client.post(ENROL, {"token": current_code(device)})
    assert error_of(response).startswith("Too many wrong codes in a row.")
    device.refresh_from_db()
    assert not device.confirmed


# Settings -----------------------------------------------------------------------


def setting_with(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.pop("DATABASE_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.STAFF_TWO_FACTOR)",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SECRET_KEY": "k" * 50, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_second_factor_is_on_in_production_and_off_in_make_run():
    assert setting_with() == "True"
    assert setting_with(DJANGO_DEBUG="1") == "False"
    assert setting_with(DJANGO_DEBUG="1", DJANGO_STAFF_TWO_FACTOR="1") == "True"
    assert setting_with(DJANGO_STAFF_TWO_FACTOR="0") == "False"


# In the browser -----------------------------------------------------------------


@pytest.mark.browser
def test_an_editor_enrols_and_verifies_in_the_browser(page, live_server, artifacts_dir):
    # Given the permission directly: browser tests run after the others, once an
    # earlier one has flushed the roles a migration made.
    editor = make_user(username="editor")
    editor.is_staff = True
    editor.save()
    editor.user_permissions.add(Permission.objects.get(codename="publish_article"))
    shots = artifacts_dir
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(editor.username)
    page.get_by_label("Password").fill(editor.raw_password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    assert page.locator("svg.staff-qr").is_visible()
    page.screenshot(path=shots / "staff-enrol-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=shots / "staff-enrol-phone.png", full_page=True)
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    device = TOTPDevice.objects.get(user=editor)
    page.get_by_label("6-digit code from the app").fill(wrong_code(device))
    page.get_by_role("button", name="Confirm and continue").click()
    page.get_by_text("That code is not right.").wait_for()
    page.screenshot(path=shots / "staff-enrol-wrong-phone.png", full_page=True)
    let_wait_pass(device)
    page.get_by_label("6-digit code from the app").fill(current_code(device))
    page.get_by_role("button", name="Confirm and continue").click()
    page.locator("#user-tools").get_by_text(editor.username).wait_for()

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(editor.username)
    page.get_by_label("Password").fill(editor.raw_password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Enter your sign-in code").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=shots / "staff-verify-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=shots / "staff-verify-desktop.png", full_page=True)
