"""The second factor for staff who can publish or review (django-otp, TOTP).

Publishing and medical approval change what readers see, so a password alone does
not open the admin to those accounts: a code from an authenticator app is asked for
once per session, and the session then remembers the device (django_otp.login).
Writers are not asked. settings.STAFF_TWO_FACTOR switches it on (production) or
off (`make run`).

Wrong codes are slowed down by django-otp's own throttling on the device: after n
wrong codes in a row the next try waits 2**(n-1) seconds (OTP_TOTP_THROTTLE_FACTOR),
and only a right code resets it. Attempts made while waiting are refused unseen,
without counting.
"""

import math
import re
from base64 import b32encode
from datetime import datetime

import django_otp
import segno
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timeuntil
from django_otp.plugins.otp_totp.models import TOTPDevice

# Either lets an account change what readers see (articles/workflow.py).
GUARDED_PERMISSIONS = ("articles.publish_article", "articles.review_article")
DEVICE_NAME = "Authenticator app"
QR_TITLE = "QR code to scan with your authenticator app"


class TwoFactorError(Exception):
    """A code that was not accepted; the message says why and what to do."""


def applies_to(user) -> bool:
    """Whether this account's role calls for a second factor, whether or not it
    is switched on."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or any(user.has_perm(p) for p in GUARDED_PERMISSIONS)


def is_required(user) -> bool:
    return settings.STAFF_TWO_FACTOR and applies_to(user)


def _devices(user, *, confirmed: bool):
    return TOTPDevice.objects.devices_for_user(user, confirmed=confirmed).order_by("pk")


def confirmed_device(user) -> TOTPDevice | None:
    return _devices(user, confirmed=True).first()


def pending_device(*, user) -> TOTPDevice:
    """The device being set up: the same secret each time the page is shown, so a
    reload does not undo a scan, until a code confirms it."""
    device = _devices(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def verify(*, request: HttpRequest, token: str) -> TOTPDevice:
    """Check a code from the user's confirmed device and mark the session
    verified; TwoFactorError says why not."""
    device = confirmed_device(request.user)
    if device is None:
        raise TwoFactorError("Your account has no authenticator app set up yet.")
    device = _check_token(user=request.user, device=device, token=token)
    _log_in(request=request, device=device)
    return device


def confirm_enrolment(*, request: HttpRequest, token: str) -> TOTPDevice:
    """Confirm the device being set up with a code from it, and mark the session
    verified. An account that has a confirmed device cannot add another here:
    someone with only the password must not be able to add their own phone."""
    user = request.user
    if confirmed_device(user) is not None:
        raise TwoFactorError(
            "An authenticator app is already set up for your account: enter a "
            "code from it instead."
        )
    device = _check_token(user=user, device=pending_device(user=user), token=token)
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    _log_in(request=request, device=device)
    return device


def remove_devices(*, user) -> int:
    """Forget the user's authenticator apps (a lost or replaced phone): they set
    up a new one at their next sign-in, and a session verified with the old one
    is no longer verified."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


def qr_svg(device: TOTPDevice) -> SafeString:
    """The device's otpauth:// address as a QR code, as inline SVG made here: the
    secret never leaves the site to be drawn. Black on white whatever the page's
    colours, so dark mode does not make it unscannable."""
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", omitsize=True, title=QR_TITLE
    )
    return mark_safe(svg.replace("<svg ", '<svg role="img" class="staff-qr" ', 1))


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for apps set up by hand."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(re.findall(".{1,4}", secret))


def _check_token(*, user, device: TOTPDevice, token: str) -> TOTPDevice:
    # Checked first only to say why: verify_token checks again under a row lock.
    allowed, details = device.verify_is_allowed()
    if not allowed:
        raise TwoFactorError(_wait_message(details["locked_until"]))
    # Not inside a transaction of ours: the failure count verify_token saves must
    # survive the refusal.
    verified = django_otp.verify_token(user, device.persistent_id, token)
    if verified is None:
        raise TwoFactorError(
            "That code is not right. Check that your phone's clock is set "
            "automatically, and enter the newest code the app shows."
        )
    return verified


def _wait_message(locked_until: datetime) -> str:
    seconds = math.ceil((locked_until - timezone.now()).total_seconds())
    wait = (
        f"{seconds} second{'s' if seconds != 1 else ''}"
        if seconds < 90
        else timeuntil(locked_until)
    )
    return (
        f"Too many wrong codes in a row. Wait {wait}, then enter the newest code "
        "the app shows: each wrong code doubles the wait."
    )


def _log_in(*, request: HttpRequest, device: TOTPDevice) -> None:
    # A new session key for the now stronger session, so a key learnt before
    # (session fixation) is worth nothing.
    request.session.cycle_key()
    django_otp.login(request, device)
