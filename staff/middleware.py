from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from staff import two_factor
from staff.views import with_next

# Pages staff who still owe a factor can open: without them nobody could sign in,
# sign out, give a factor or set one up. The passkey views check for themselves
# who may make or use a passkey (staff/passkeys.py).
OPEN_PAGES = (
    "admin:login",
    "admin:logout",
    "staff:verify",
    "staff:enrol",
    "otp_webauthn:credential-registration-begin",
    "otp_webauthn:credential-registration-complete",
    "otp_webauthn:credential-authentication-begin",
    "otp_webauthn:credential-authentication-complete",
    "otp_webauthn:js-i18n-catalog",
)


class StaffTwoFactorMiddleware:
    """Keeps staff who have not given their second factor in this session out of
    the admin: every other /admin/ address, for any method, sends them to give it
    (or to set one up first). A POST is refused the same way, before any view
    runs, so it changes nothing.

    Below django_otp's OTPMiddleware (request.user.is_verified) and the message
    middleware (the note that nothing was saved).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            request.path_info.startswith(reverse("admin:index"))
            and request.path_info not in {reverse(name) for name in OPEN_PAGES}
            and two_factor.is_required(request.user)
            and not request.user.is_verified()
        ):
            return self.ask_for_factor(request)
        return self.get_response(request)

    @staticmethod
    def ask_for_factor(request: HttpRequest) -> HttpResponseBase:
        if request.method not in {"GET", "HEAD"}:
            messages.warning(
                request,
                "Nothing was saved: staff accounts give their second factor "
                "(passkey, authenticator app or backup code) first.",
            )
        page = (
            "staff:verify"
            if two_factor.has_main_factor(request.user)
            else "staff:enrol"
        )
        return redirect(with_next(page, request.get_full_path()))
