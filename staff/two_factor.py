"""The second factor every staff account gives (django-otp): a passkey
(django-otp-webauthn), a code from an authenticator app (TOTP), or one of ten
backup codes.

Staff see unpublished work and upload files, and editors and reviewers change what
readers see, so a password alone opens the admin to nobody: a factor is asked for
once per session, and the session then remembers the device (django_otp.login).
settings.STAFF_TWO_FACTOR switches it on (production) or off (`make run`).

Passkeys and authenticator apps are the "main" factors: an account keeps at least
one. Backup codes are the way in when neither is at hand; each works once.

Adding, replacing or removing a factor, or making new backup codes, needs a factor
given in this session within settings.STAFF_REVERIFY_MINUTES (may_add_factor,
recently_verified), so that someone holding only the password, or a session left
open, cannot add their own phone or passkey.

Wrong codes are slowed down by django-otp's own throttling on the device: after n
wrong codes in a row the next try waits 2**(n-1) seconds (OTP_TOTP_THROTTLE_FACTOR),
and only a right code resets it. Attempts made while waiting are refused unseen,
without counting.
"""

import math
import re
import secrets
import time
from base64 import b32encode
from datetime import datetime

import django_otp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timeuntil
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from staff.models import BackupCode, BackupCodeSet, code_digest

DEVICE_NAME = "Authenticator app"
QR_TITLE = "QR code to scan with your authenticator app"
BACKUP_CODE_COUNT = 10
# 12 characters of Crockford's base32 (5 bits each): 60 random bits. It has no
# i, l, o or u, so nothing read off paper is mistaken for another character.
BACKUP_CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
BACKUP_CODE_LENGTH = 12
CROCKFORD_LOOKALIKES = str.maketrans("oil", "011")
# The session's key: when a factor was last given in it (time.time()).
VERIFIED_AT_KEY = "staff_verified_at"


class TwoFactorError(Exception):
    """A code or change that was not accepted; the message says why and what to do."""


def applies_to(user) -> bool:
    """Whether this account must give a second factor, whether or not it is
    switched on: every active staff account."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def is_required(user) -> bool:
    return settings.STAFF_TWO_FACTOR and applies_to(user)


# Reading ------------------------------------------------------------------------


def _apps(user, *, confirmed: bool):
    return TOTPDevice.objects.devices_for_user(user, confirmed=confirmed).order_by("pk")


def confirmed_device(user) -> TOTPDevice | None:
    """The account's authenticator app, if it has one."""
    return _apps(user, confirmed=True).first()


def passkeys(user) -> list[WebAuthnCredential]:
    return list(
        WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk")
    )


def backup_code_set(user) -> BackupCodeSet | None:
    return BackupCodeSet.objects.filter(user=user).first()


def backup_codes_left(user) -> int:
    return BackupCode.objects.filter(device__user=user).count()


def main_factor_count(user) -> int:
    """Passkeys and authenticator apps: the factors an account must keep one of."""
    return (
        WebAuthnCredential.objects.filter(user=user, confirmed=True).count()
        + TOTPDevice.objects.filter(user=user, confirmed=True).count()
    )


def has_main_factor(user) -> bool:
    return main_factor_count(user) > 0


def recently_verified(request: HttpRequest) -> bool:
    """Whether this session gave a factor within settings.STAFF_REVERIFY_MINUTES."""
    verified_at = request.session.get(VERIFIED_AT_KEY)
    if not (request.user.is_verified() and isinstance(verified_at, int | float)):
        return False
    return time.time() - verified_at <= settings.STAFF_REVERIFY_MINUTES * 60


def may_add_factor(request: HttpRequest) -> bool:
    """Whether this request may add or replace a second factor on its account.

    The first factor, at first sign-in, needs the password only (there is nothing
    else to ask for); any later one a factor given again in this session, recently.
    An invited person enrols as the first step after accepting (the acceptance
    signs them in; staff/invitations). This is the one place that decides.
    """
    user = request.user
    if not applies_to(user):
        return False
    return not has_main_factor(user) or recently_verified(request)


# Verifying ----------------------------------------------------------------------


def mark_verified(*, request: HttpRequest, device: Device) -> None:
    """The session has given `device`: remember it, and when."""
    # A new session key for the now stronger session, so a key learnt before
    # (session fixation) is worth nothing.
    request.session.cycle_key()
    django_otp.login(request, device)
    request.session[VERIFIED_AT_KEY] = time.time()


def verify(*, request: HttpRequest, token: str) -> TOTPDevice:
    """Check a code from the user's authenticator app and mark the session
    verified; TwoFactorError says why not."""
    device = confirmed_device(request.user)
    if device is None:
        raise TwoFactorError("Your account has no authenticator app set up.")
    device = _check_token(user=request.user, device=device, token=token)
    mark_verified(request=request, device=device)
    return device


def verify_backup_code(*, request: HttpRequest, code: str) -> BackupCodeSet:
    """Use up one backup code and mark the session verified; TwoFactorError says
    why not (a code already used is simply not right any more)."""
    device = backup_code_set(request.user)
    if device is None:
        raise TwoFactorError("Your account has no backup codes.")
    device = _check_token(
        user=request.user,
        device=device,
        token=normalise_backup_code(code),
        wrong=(
            "That backup code is not right, or it has been used: each code works once."
        ),
    )
    mark_verified(request=request, device=device)
    return device


def normalise_backup_code(code: str) -> str:
    """As the codes are stored: lower case, without spaces or dashes, and the
    letters Crockford's base32 leaves out read as the digits they look like."""
    return re.sub(r"[\s-]", "", code).lower().translate(CROCKFORD_LOOKALIKES)


# Enrolling and changing factors -------------------------------------------------


def pending_device(*, user) -> TOTPDevice:
    """The authenticator app being set up: the same secret each time the page is
    shown, so a reload does not undo a scan, until a code confirms it."""
    device = _apps(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def confirm_app(*, request: HttpRequest, token: str) -> TOTPDevice:
    """Confirm the authenticator app being set up with a code from it, replacing
    any app the account had, and mark the session verified.

    Refused unless may_add_factor: someone with only the password must not be
    able to add their own phone to an account that has a factor.
    """
    user = request.user
    if not may_add_factor(request):
        raise TwoFactorError(
            "To set up an authenticator app on an account that has a second "
            "factor, confirm it is you first with the factor you have."
        )
    device = _check_token(user=user, device=pending_device(user=user), token=token)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    mark_verified(request=request, device=device)
    return device


def replace_backup_codes(*, request: HttpRequest) -> list[str]:
    """Make the account's ten backup codes, replacing any it had, and return them
    (the only time they exist in the clear). Needs a factor given recently."""
    user = request.user
    if not (applies_to(user) and recently_verified(request)):
        raise TwoFactorError(
            "To make new backup codes, confirm it is you first with your passkey "
            "or authenticator app."
        )
    codes = [
        "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
        for _ in range(BACKUP_CODE_COUNT)
    ]
    with transaction.atomic():
        BackupCodeSet.objects.filter(user=user).delete()
        device = BackupCodeSet.objects.create(
            user=user, name="Backup codes", confirmed=True
        )
        salts = [secrets.token_hex(16) for _ in codes]
        BackupCode.objects.bulk_create(
            BackupCode(device=device, salt=salt, digest=code_digest(salt=salt, code=c))
            for salt, c in zip(salts, codes, strict=True)
        )
    return codes


def spaced_backup_code(code: str) -> str:
    """A code as shown and printed: three groups of four."""
    return "-".join(re.findall(".{1,4}", code))


def remove_passkey(*, request: HttpRequest, passkey_id: int) -> None:
    """Remove one of the account's own passkeys: needs a factor given recently, and
    is refused for the account's last passkey or app."""
    _check_may_remove(request)
    deleted, _ = WebAuthnCredential.objects.filter(
        user=request.user, pk=passkey_id
    ).delete()
    if not deleted:
        raise TwoFactorError("That passkey is not one of yours, or it is gone.")


def remove_app(*, request: HttpRequest) -> None:
    """Remove the account's authenticator app: needs a factor given recently, and
    is refused if it is the account's last passkey or app."""
    _check_may_remove(request)
    if not TOTPDevice.objects.filter(user=request.user).delete()[0]:
        raise TwoFactorError("Your account has no authenticator app.")


def _check_may_remove(request: HttpRequest) -> None:
    if not recently_verified(request):
        raise TwoFactorError(
            "To remove a sign-in method, confirm it is you first with your passkey "
            "or authenticator app."
        )
    if main_factor_count(request.user) <= 1:
        raise TwoFactorError(
            "This is your account's only passkey or authenticator app: add another "
            "before removing it, so you can still sign in."
        )


def remove_devices(*, user) -> int:
    """Forget every second factor of the user's (lost phone and passkeys): they set
    up a new one at their next sign-in, and a session verified with an old one is
    no longer verified. For superusers and `manage.py remove_second_factor`."""
    with transaction.atomic():
        deleted = sum(
            model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
            for model in (TOTPDevice, WebAuthnCredential, BackupCodeSet)
        )
    return deleted


# The authenticator app's enrolment page ----------------------------------------


def qr_svg(device: TOTPDevice) -> SafeString:
    """The device's otpauth:// address as a QR code, as inline SVG made here: the
    secret never leaves the site to be drawn. Black on white whatever the page's
    colours, so dark mode does not make it unscannable."""
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        title=QR_TITLE,
        svgclass=None,
    )
    return mark_safe(svg.replace("<svg ", '<svg role="img" class="staff-qr" ', 1))


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for apps set up by hand."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(re.findall(".{1,4}", secret))


def _check_token(
    *,
    user,
    device: Device,
    token: str,
    wrong: str = (
        "That code is not right. Check that your phone's clock is set "
        "automatically, and enter the newest code the app shows."
    ),
) -> Device:
    # Checked first only to say why: verify_token checks again under a row lock.
    allowed, details = device.verify_is_allowed()
    if not allowed:
        raise TwoFactorError(_wait_message(details["locked_until"]))
    # Not inside a transaction of ours: the failure count verify_token saves must
    # survive the refusal.
    verified = django_otp.verify_token(user, device.persistent_id, token)
    if verified is None:
        raise TwoFactorError(wrong)
    return verified


def _wait_message(locked_until: datetime) -> str:
    seconds = math.ceil((locked_until - timezone.now()).total_seconds())
    wait = (
        f"{seconds} second{'s' if seconds != 1 else ''}"
        if seconds < 90
        else timeuntil(locked_until)
    )
    return (
        f"Too many wrong codes in a row. Wait {wait}, then try again: each wrong "
        "code doubles the wait."
    )
