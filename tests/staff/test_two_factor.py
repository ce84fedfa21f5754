"""The second factor every staff account gives (staff/): who is asked, enrolment,
the code on each sign-in, backup codes, adding and removing factors, throttled
wrong codes. Passkeys in the browser: tests/staff/test_passkeys_browser.py."""

import io
import os
import re
import subprocess
import sys
import time
from base64 import b32encode
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from articles.models import Topic
from staff import two_factor
from staff.models import BackupCode, BackupCodeSet
from tests.browser_fixtures import PHONE, current_code
from tests.factories import make_reviewer, make_role_user, make_staff, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
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


def let_wait_pass(device) -> None:
    """Move the last failure back a day, as if the throttle's wait were over."""
    type(device).objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(days=1)
    )


def error_of(response) -> str:
    return response.context["form"].errors["token"][0]


# Who is asked -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_user", ["Writer", "Editor", "Medical reviewer", "superuser"]
)
def test_every_staff_account_is_sent_to_enrolment_first(unverified_client, make_user):
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
    assert str(message).startswith("Nothing was saved: staff accounts give their")


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


def test_a_writer_who_uploads_files_gives_a_code_before_the_upload_page(
    unverified_client,
):
    writer = make_role_user("Writer")
    client = signed_in(unverified_client, writer)
    upload = "/admin/ckeditor/upload/"
    response = client.post(upload, {})
    assert response.status_code == 302
    assert response["Location"] == enrol_url(upload)


def test_an_account_that_is_not_staff_is_not_asked_for_a_code(unverified_client):
    reader = make_user()
    client = signed_in(unverified_client, reader)
    assert client.get(ADMIN)["Location"].startswith(reverse("admin:login"))
    assert client.get(ENROL)["Location"].startswith(reverse("admin:login"))
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


def test_enrolment_with_the_right_code_confirms_the_app_and_shows_ten_backup_codes(
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
    assert response.status_code == 200
    assert "Save your backup codes" in response.text
    assert len(response.context["codes"]) == 10
    assert f'href="{changelist}"' in response.text
    assert response["Cache-Control"].startswith("max-age=0, no-cache, no-store")
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
    assert "Give your second factor" in page.text
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
    assert f"Removed 1 second factor(s) from {editor.username}" in out.getvalue()
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


# Backup codes -------------------------------------------------------------------

BACKUP = "/admin/second-factor/backup-codes/"
FACTORS = "/admin/second-factor/methods/"
CONFIRM = "/admin/second-factor/confirm/"
REGISTER_BEGIN = "/admin/passkeys/registration/begin/"


def backup_codes_for(client, user) -> list[str]:
    """Ten new backup codes for `user`, made through the page as they would be,
    from a client whose session just gave a factor."""
    response = client.post(BACKUP)
    assert response.status_code == 200, response.get("Location")
    return response.context["codes"]


def with_stale_verification(client) -> None:
    """As if the session's factor had been given long ago."""
    session = client.session
    session[two_factor.VERIFIED_AT_KEY] = time.time() - 3600
    session.save()


def test_backup_codes_are_stored_only_as_salted_hashes(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    codes = backup_codes_for(client, editor)
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}", c) for c in codes)
    stored = list(BackupCode.objects.filter(device__user=editor))
    assert len(stored) == 10
    assert len({code.salt for code in stored}) == 10
    plain = {code.replace("-", "") for code in codes}
    for code in stored:
        assert code.digest not in plain and code.salt not in plain
        assert len(code.digest) == 64


def test_a_backup_code_opens_one_session_and_fails_a_second_time(
    client, unverified_client
):
    editor = make_role_user("Editor")
    client.force_login(editor)
    code = backup_codes_for(client, editor)[3]

    first = signed_in(unverified_client, editor)
    response = first.post(VERIFY, {"code": code.upper().replace("-", " ")})
    assert response["Location"] == ADMIN
    assert first.get(ADMIN).status_code == 200
    assert BackupCode.objects.filter(device__user=editor).count() == 9

    second = signed_in(Client(), editor)
    response = second.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert (
        response.context["code_form"]
        .errors["code"][0]
        .startswith("That backup code is not right, or it has been used")
    )
    assert second.get(ADMIN)["Location"] == verify_url()


def test_a_wrong_backup_code_is_throttled_like_a_wrong_app_code(
    client, unverified_client
):
    editor = make_role_user("Editor")
    client.force_login(editor)
    codes = backup_codes_for(client, editor)
    other = signed_in(unverified_client, editor)
    other.post(VERIFY, {"code": "0000-0000-0000"})
    response = other.post(VERIFY, {"code": codes[0]})
    assert (
        response.context["code_form"]
        .errors["code"][0]
        .startswith("Too many wrong codes in a row.")
    )
    assert BackupCode.objects.filter(device__user=editor).count() == 10


def test_a_backup_code_is_read_as_typed_off_paper():
    assert two_factor.normalise_backup_code(" ABCD-eFg1 OIL0 ") == "abcdefg10110"


def test_what_is_not_a_backup_code_is_refused_without_counting(
    client, unverified_client
):
    editor = make_role_user("Editor")
    client.force_login(editor)
    backup_codes_for(client, editor)
    response = signed_in(unverified_client, editor).post(VERIFY, {"code": "12345"})
    assert (
        response.context["code_form"]
        .errors["code"][0]
        .startswith("Enter one of your backup codes")
    )
    assert BackupCodeSet.objects.get(user=editor).throttling_failure_count == 0


def test_new_backup_codes_need_a_recent_factor_and_replace_the_old_ones(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    old = backup_codes_for(client, editor)
    with_stale_verification(client)
    response = client.post(BACKUP)
    assert response.status_code == 302
    assert response["Location"] == f"{CONFIRM}?next={BACKUP.replace('/', '%2F')}"
    assert BackupCode.objects.filter(device__user=editor).count() == 10

    device = two_factor.confirmed_device(editor)
    let_wait_pass(device)
    confirmed = client.post(CONFIRM, {"token": current_code(device), "next": BACKUP})
    assert confirmed.status_code == 302, confirmed.context["form"].errors
    assert confirmed["Location"] == BACKUP
    new = backup_codes_for(client, editor)
    assert set(new).isdisjoint(old)
    other = signed_in(Client(), editor)
    refused = other.post(VERIFY, {"code": old[0]})
    assert refused.status_code == 200
    let_wait_pass(BackupCodeSet.objects.get(user=editor))
    assert other.post(VERIFY, {"code": new[0]})["Location"] == ADMIN


def test_the_backup_code_page_never_shows_codes_again(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    codes = backup_codes_for(client, editor)
    page = client.get(BACKUP)
    assert "You have <strong>10</strong> unused backup codes" in page.text
    assert not any(code in page.text for code in codes)


# Adding, replacing and removing factors -----------------------------------------


def test_may_add_factor_at_first_sign_in_and_later_only_after_a_recent_factor(
    client, unverified_client
):
    editor = make_role_user("Editor")
    first = signed_in(unverified_client, editor)
    request = first.get(ENROL).wsgi_request
    assert two_factor.may_add_factor(request)

    confirmed_device(editor)
    request = signed_in(Client(), editor).get(ENROL).wsgi_request
    assert not two_factor.may_add_factor(request)  # the password alone

    client.force_login(editor)
    assert two_factor.may_add_factor(client.get(FACTORS).wsgi_request)
    with_stale_verification(client)
    assert not two_factor.may_add_factor(client.get(FACTORS).wsgi_request)


def test_a_password_alone_cannot_start_a_passkey_on_an_enrolled_account(
    unverified_client,
):
    editor = make_role_user("Editor")
    confirmed_device(editor)
    response = signed_in(unverified_client, editor).post(REGISTER_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] in {"user_not_verified", "confirm_first"}
    assert not WebAuthnCredential.objects.exists()


def test_a_session_verified_long_ago_cannot_start_a_passkey(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    with_stale_verification(client)
    response = client.post(REGISTER_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "confirm_first"
    assert "otp_webauthn_register_state" not in client.session


def test_a_recently_verified_session_starts_a_passkey_for_the_site(client, settings):
    editor = make_role_user("Editor")
    client.force_login(editor)
    response = client.post(REGISTER_BEGIN)
    assert response.status_code == 200
    options = response.json()
    assert options["rp"] == {"name": "Skincare", "id": settings.OTP_WEBAUTHN_RP_ID}
    assert options["user"]["name"] == editor.username
    assert options["authenticatorSelection"]["residentKey"] == "required"


def test_a_new_staff_member_may_start_a_passkey_at_first_sign_in(unverified_client):
    writer = make_role_user("Writer")
    response = signed_in(unverified_client, writer).post(REGISTER_BEGIN)
    assert response.status_code == 200


def test_an_account_that_is_not_staff_cannot_make_a_passkey(unverified_client):
    response = signed_in(unverified_client, make_user()).post(REGISTER_BEGIN)
    assert response.status_code == 403
    assert response.json()["code"] == "not_staff"


def test_a_stale_session_is_sent_to_confirm_before_setting_up_another_app(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    with_stale_verification(client)
    response = client.get(ENROL)
    assert response["Location"].startswith(f"{CONFIRM}?next=")
    device = TOTPDevice.objects.get(user=editor)
    with pytest.raises(two_factor.TwoFactorError, match="confirm it is you first"):
        two_factor.confirm_app(
            request=client.get(FACTORS).wsgi_request, token=current_code(device)
        )
    assert list(TOTPDevice.objects.filter(user=editor)) == [device]


def test_a_new_phone_replaces_the_old_app_after_confirming(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    old = TOTPDevice.objects.get(user=editor)
    page = client.get(ENROL)
    assert page.status_code == 200
    assert "Add a sign-in method" in page.text
    new = TOTPDevice.objects.get(user=editor, confirmed=False)
    response = client.post(ENROL, {"token": current_code(new)})
    assert response["Location"] == FACTORS
    assert list(TOTPDevice.objects.filter(user=editor)) == [new]
    new.refresh_from_db()
    assert new.confirmed
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()


def passkey_of(user, name: str = "Laptop") -> WebAuthnCredential:
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        credential_id=os.urandom(16),
        public_key=b"key",
        aaguid="00000000-0000-0000-0000-000000000000",
        confirmed=True,
    )


def test_the_last_factor_cannot_be_removed(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    response = client.post(FACTORS, {"remove_app": "1"}, follow=True)
    assert TOTPDevice.objects.filter(user=editor).count() == 1
    [message] = response.context["messages"]
    assert str(message).startswith(
        "This is your account's only passkey or authenticator app"
    )


def test_a_passkey_is_removed_after_a_recent_factor_and_only_ones_own(client):
    editor = make_role_user("Editor")
    colleague = make_role_user("Writer")
    mine = passkey_of(editor)
    theirs = passkey_of(colleague)
    client.force_login(editor)
    client.post(FACTORS, {"remove_passkey": str(theirs.pk)})
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()

    with_stale_verification(client)
    response = client.post(FACTORS, {"remove_passkey": str(mine.pk)})
    assert response["Location"].startswith(CONFIRM)
    assert WebAuthnCredential.objects.filter(pk=mine.pk).exists()

    client.force_login(editor)
    assert client.post(FACTORS, {"remove_passkey": str(mine.pk)})["Location"] == (
        FACTORS
    )
    assert not WebAuthnCredential.objects.filter(pk=mine.pk).exists()


def test_the_sign_in_methods_page_lists_them_without_secrets(client):
    editor = make_role_user("Editor")
    passkey_of(editor, name="Work laptop")
    client.force_login(editor)
    backup_codes_for(client, editor)
    page = client.get(FACTORS)
    assert page.status_code == 200
    assert "Work laptop" in page.text
    assert "10 of 10 left." in page.text
    assert 'name="remove_app"' in page.text
    assert TOTPDevice.objects.get(user=editor).key not in page.text


def test_remove_second_factor_forgets_passkeys_apps_and_backup_codes(client):
    editor = make_role_user("Editor")
    passkey_of(editor)
    client.force_login(editor)
    backup_codes_for(client, editor)
    out = io.StringIO()
    call_command("remove_second_factor", editor.username, "--dry-run", stdout=out)
    assert "1 passkey(s), 1 authenticator app(s), 10 backup code(s)" in out.getvalue()
    assert WebAuthnCredential.objects.filter(user=editor).exists()
    call_command("remove_second_factor", editor.username, stdout=out)
    assert not WebAuthnCredential.objects.filter(user=editor).exists()
    assert not TOTPDevice.objects.filter(user=editor).exists()
    assert not BackupCode.objects.exists()
    again = io.StringIO()
    call_command("remove_second_factor", editor.username, stdout=again)
    assert "Removed 0 second factor(s)" in again.getvalue()


def test_the_backup_code_admin_shows_how_many_are_left_never_a_code(client):
    boss = make_staff(username="boss")
    client.force_login(boss)
    codes = backup_codes_for(client, boss)
    device = BackupCodeSet.objects.get(user=boss)
    page = client.get(reverse("admin:staff_backupcodeset_change", args=[device.pk]))
    assert page.status_code == 200
    assert not any(code in page.text for code in codes)
    assert not any(code.digest in page.text for code in device.codes.all())


# Settings -----------------------------------------------------------------------


def setting_with(expression: str = "settings.STAFF_TWO_FACTOR", **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.pop("DATABASE_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            f"from django.conf import settings; print({expression})",
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


def test_passkeys_belong_to_the_site_url_and_localhost_stands_for_an_address():
    party = "(settings.OTP_WEBAUTHN_RP_ID, settings.OTP_WEBAUTHN_ALLOWED_ORIGINS)"
    assert setting_with(party, SITE_URL="https://skincare.example") == (
        "('skincare.example', ['https://skincare.example'])"
    )
    assert setting_with(party, DJANGO_DEBUG="1") == (
        "('localhost', ['http://localhost:8000'])"
    )
    assert setting_with(party, DJANGO_DEBUG="1", SITE_URL="http://0.0.0.0:8080") == (
        "('localhost', ['http://localhost:8080'])"
    )


# In the browser -----------------------------------------------------------------


@pytest.mark.browser
def test_a_staff_member_enrols_an_app_and_signs_in_with_a_backup_code_in_the_browser(
    page, live_server, artifacts_dir
):
    editor = make_user(username="editor")
    editor.is_staff = True
    editor.save()
    shots = artifacts_dir
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(editor.username)
    page.get_by_label("Password").fill(editor.raw_password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Set up your second factor").wait_for()
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
    page.get_by_role("heading", name="Save your backup codes").wait_for()
    page.screenshot(path=shots / "staff-backup-codes-phone.png", full_page=True)
    codes = page.locator(".backup-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them: continue").click()
    page.locator("#user-tools").get_by_text(editor.username).wait_for()

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(editor.username)
    page.get_by_label("Password").fill(editor.raw_password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Give your second factor").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=shots / "staff-verify-phone.png", full_page=True)
    page.get_by_text("Use a backup code").click()
    page.get_by_label("Backup code").fill(codes[0])
    page.get_by_role("button", name="Use this backup code").click()
    page.get_by_text("You used a backup code: 9 left.").wait_for()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=shots / "staff-backup-code-used-desktop.png", full_page=True)
