from django.apps import AppConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig


class StaffConfig(AppConfig):
    """Staff sign-in: the second factor (TOTP) for those who can publish or review.

    Imports `core` only (tests/test_skincare_imports.py); the permissions it asks
    about are named as strings, so it knows nothing else of `articles`.
    """

    # Chosen for "staff" in INSTALLED_APPS, not the TOTP config imported here.
    default = True
    name = "staff"
    verbose_name = "Staff sign-in"


class AuthenticatorAppsConfig(TOTPConfig):
    """django-otp's TOTP devices under a name staff recognise in the admin."""

    default = False
    verbose_name = "Staff authenticator apps"
