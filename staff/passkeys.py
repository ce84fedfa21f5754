"""Passkeys (WebAuthn) through django-otp-webauthn: its views, with this site's rules.

- Making a passkey: staff only, and only when two_factor.may_add_factor allows it
  (the first factor at first sign-in, later ones after giving a factor again).
- Signing in with one: as the second factor after the password, or on its own
  (a discoverable passkey with user verification: something held and a PIN or
  fingerprint). The password-guessing limits do not apply to it: a passkey cannot
  be guessed, so it is how the owner of an account under attack still gets in.

The library's JavaScript and template tags find these views by the names its own
URLs use, so staff/passkey_urls.py gives them those names.
"""

from logging import getLogger

from django.contrib.auth import authenticate, login
from django.http import JsonResponse
from django.utils import formats, timezone
from django_otp_webauthn import exceptions
from django_otp_webauthn.models import AbstractWebAuthnCredential, WebAuthnCredential
from django_otp_webauthn.settings import app_settings
from django_otp_webauthn.utils import rewrite_exceptions
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from staff import two_factor
from staff.views import safe_admin_url

logger = getLogger(app_settings.OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME)


class ConfirmItIsYouFirst(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_detail = (
        "Your account already has a sign-in method: confirm it is you with it "
        "first (Sign-in methods, then Confirm), then add the passkey."
    )
    default_code = "confirm_first"


class NotStaff(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_detail = "Passkeys are for staff accounts."
    default_code = "not_staff"


class StaffRegistration:
    """Who may make a passkey, asked at both steps of the ceremony."""

    def check_can_register(self) -> None:
        if not two_factor.applies_to(self.request.user):
            raise NotStaff()
        if not two_factor.may_add_factor(self.request):
            raise ConfirmItIsYouFirst()


class BeginRegistration(StaffRegistration, BeginCredentialRegistrationView):
    pass


class CompleteRegistration(StaffRegistration, CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs) -> JsonResponse:
        user = self.get_user()
        state = self.get_state()
        with rewrite_exceptions(logger=logger):
            device = self.get_helper().register_complete(
                user=user, state=state, data=self.request.data
            )
        device.name = f"Passkey added {formats.date_format(timezone.localdate())}"
        device.save(update_fields=["name"])
        # At first sign-in the new passkey is the factor this session gave (it was
        # just used, with the authenticator's own check); a session already
        # verified keeps the factor it gave.
        if not self.request.user.is_verified():
            two_factor.mark_verified(request=self.request, device=device)
        return JsonResponse({"id": device.pk})


class BeginSignIn(BeginCredentialAuthenticationView):
    pass


class CompleteSignIn(CompleteCredentialAuthenticationView):
    def check_device_usable(self, device: AbstractWebAuthnCredential) -> None:
        super().check_device_usable(device)
        if not two_factor.applies_to(device.user):
            raise NotStaff()

    def complete_auth(self, device: WebAuthnCredential) -> None:
        if not self.request.user.is_authenticated:
            # WebAuthnBackend, first in AUTHENTICATION_BACKENDS, before axes.
            user = authenticate(self.request, webauthn_credential=device)
            login(self.request, user)
        two_factor.mark_verified(request=self.request, device=device)

    def get_success_url(self) -> str:
        return safe_admin_url(self.request, self.request.GET.get("next", ""))
