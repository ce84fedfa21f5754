from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from staff import two_factor
from staff.views import with_next

# Pages staff who still owe a code can open: without them nobody could sign in,
# sign out, or give the code.
OPEN_PAGES = ("admin:login", "admin:logout", "staff:verify", "staff:enrol")


class StaffTwoFactorMiddleware:
    """Keeps staff who need a second factor and have not given it in this session
    out of the admin: every other /admin/ address, for any method, sends them to
    enter their code (or to set up their app first). A POST is refused the same
    way, before any view runs, so it changes nothing.

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
            return self.ask_for_code(request)
        return self.get_response(request)

    @staticmethod
    def ask_for_code(request: HttpRequest) -> HttpResponseBase:
        if request.method not in {"GET", "HEAD"}:
            messages.warning(
                request,
                "Nothing was saved: your account can publish or review articles, "
                "so it needs the code from your authenticator app first.",
            )
        page = (
            "staff:verify"
            if two_factor.confirmed_device(request.user) is not None
            else "staff:enrol"
        )
        return redirect(with_next(page, request.get_full_path()))
