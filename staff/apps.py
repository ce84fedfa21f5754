from django.apps import AppConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig
from django_otp_webauthn.apps import OtpWebauthnConfig


class StaffConfig(AppConfig):
    """Staff sign-in: the second factor every staff account gives (passkeys,
    authenticator apps, backup codes) and the limits on password guessing.

    Imports `core` only (tests/skincare/test_imports.py): it asks every staff
    account for a factor, whatever its role, so it knows nothing of `articles`.
    """

    # Chosen for "staff" in INSTALLED_APPS, not the TOTP config imported here.
    default = True
    name = "staff"
    verbose_name = "Staff sign-in"


class AuthenticatorAppsConfig(TOTPConfig):
    """django-otp's TOTP devices under a name staff recognise in the admin."""

    default = False
    verbose_name = "Staff authenticator apps"


class PasskeysConfig(OtpWebauthnConfig):
    """django-otp-webauthn's passkeys under a name staff recognise in the admin."""

    default = False
    verbose_name = "Staff passkeys"
