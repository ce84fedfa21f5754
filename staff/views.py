"""The staff sign-in pages: give the second factor, set one up, confirm it is you,
manage sign-in methods and backup codes, and the emailed unlock link.

All look like the admin's sign-in page. The ones staff who still owe a factor can
open are listed in staff/middleware.py.
"""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from staff import sign_in_limits, two_factor, unlock
from staff.forms import BackupCodeForm, TokenForm, UnlockRequestForm


def safe_admin_url(request: HttpRequest, candidate: str) -> str:
    """`candidate` if it is an admin address on this site, else the admin home."""
    safe = url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    )
    if safe and candidate.startswith(reverse("admin:index")):
        return candidate
    return reverse("admin:index")


def next_url(request: HttpRequest) -> str:
    """Where to go once verified: the admin page asked for, if it is one."""
    return safe_admin_url(
        request, request.POST.get("next") or request.GET.get("next") or ""
    )


def with_next(name: str, next_path: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_path})}"


def _page(
    request: HttpRequest, template: str, context: dict, status: int = 200
) -> HttpResponse:
    return render(
        request,
        template,
        {**admin.site.each_context(request), "next": next_url(request), **context},
        status=status,
    )


def _factor_context(user) -> dict:
    return {
        "has_passkey": bool(two_factor.passkeys(user)),
        "has_app": two_factor.confirmed_device(user) is not None,
        "backup_codes_left": two_factor.backup_codes_left(user),
    }


def _confirm_first(request: HttpRequest, next_path: str) -> HttpResponse:
    messages.info(request, "Confirm it is you first: then make the change.")
    return redirect(with_next("staff:confirm", next_path))


def _new_backup_codes(request: HttpRequest, codes: list[str]) -> HttpResponse:
    return _page(
        request,
        "staff/backup_codes_new.html",
        {
            "title": "Save your backup codes",
            "codes": [two_factor.spaced_backup_code(code) for code in codes],
        },
    )


@never_cache
@staff_member_required
def verify(request: HttpRequest, *, confirm: bool = False) -> HttpResponse:
    """The second factor once per session, or (confirm) again before a change."""
    user = request.user
    if not two_factor.applies_to(user) or (
        not confirm and (not two_factor.is_required(user) or user.is_verified())
    ):
        return redirect(next_url(request))
    if not two_factor.has_main_factor(user):
        return redirect(with_next("staff:enrol", next_url(request)))
    token_form = TokenForm(request.POST if "token" in request.POST else None)
    code_form = BackupCodeForm(request.POST if "code" in request.POST else None)
    try:
        if token_form.is_valid():
            two_factor.verify(request=request, token=token_form.cleaned_data["token"])
            return redirect(next_url(request))
        if code_form.is_valid():
            two_factor.verify_backup_code(
                request=request, code=code_form.cleaned_data["code"]
            )
            left = two_factor.backup_codes_left(user)
            messages.warning(
                request,
                f"You used a backup code: {left} left. Make new ones from "
                "Sign-in methods when few are left.",
            )
            return redirect(next_url(request))
    except two_factor.TwoFactorError as error:
        (token_form if token_form.is_bound else code_form).add_error(
            "token" if token_form.is_bound else "code", str(error)
        )
    return _page(
        request,
        "staff/two_factor_verify.html",
        {
            "title": "Confirm it is you" if confirm else "Give your second factor",
            "confirm": confirm,
            "form": token_form,
            "code_form": code_form,
            **_factor_context(user),
        },
    )


@never_cache
@staff_member_required
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up a passkey or an authenticator app: the first at first sign-in, or
    another (or a replacement app) after confirming it is you."""
    user = request.user
    first = not two_factor.has_main_factor(user)
    if not two_factor.applies_to(user) or (first and not two_factor.is_required(user)):
        return redirect(next_url(request))
    if not first and not user.is_verified():
        return redirect(with_next("staff:verify", next_url(request)))
    if not two_factor.may_add_factor(request):
        return _confirm_first(request, request.get_full_path())
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.confirm_app(request=request, token=form.cleaned_data["token"])
        except two_factor.TwoFactorError as error:
            form.add_error("token", str(error))
        else:
            if first:
                return _new_backup_codes(
                    request, two_factor.replace_backup_codes(request=request)
                )
            messages.success(request, "Your authenticator app is set up.")
            return redirect("staff:factors")
    device = two_factor.pending_device(user=user)
    return _page(
        request,
        "staff/two_factor_enrol.html",
        {
            "title": "Set up your second factor" if first else "Add a sign-in method",
            "first": first,
            "form": form,
            "has_app": two_factor.confirmed_device(user) is not None,
            "qr_svg": two_factor.qr_svg(device),
            "secret": two_factor.secret_for_typing(device),
        },
    )


@never_cache
@staff_member_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    """How many backup codes are left; a POST makes ten new ones (shown once)."""
    if request.method == "POST":
        try:
            codes = two_factor.replace_backup_codes(request=request)
        except two_factor.TwoFactorError:
            return _confirm_first(request, reverse("staff:backup_codes"))
        return _new_backup_codes(request, codes)
    device = two_factor.backup_code_set(request.user)
    return _page(
        request,
        "staff/backup_codes.html",
        {
            "title": "Backup codes",
            "made_at": device.created_at if device else None,
            "left": two_factor.backup_codes_left(request.user),
        },
    )


@never_cache
@staff_member_required
def factors(request: HttpRequest) -> HttpResponse:
    """The account's sign-in methods: passkeys, the app, backup codes."""
    user = request.user
    if request.method == "POST":
        try:
            if "remove_passkey" in request.POST:
                two_factor.remove_passkey(
                    request=request, passkey_id=int(request.POST["remove_passkey"])
                )
            elif "remove_app" in request.POST:
                two_factor.remove_app(request=request)
        except ValueError:
            messages.error(request, "That passkey is not one of yours, or it is gone.")
        except two_factor.TwoFactorError as error:
            if not two_factor.recently_verified(request):
                return _confirm_first(request, reverse("staff:factors"))
            messages.error(request, str(error))
        else:
            messages.success(request, "Removed.")
        return redirect("staff:factors")
    app = two_factor.confirmed_device(user)
    return _page(
        request,
        "staff/factors.html",
        {
            "title": "Sign-in methods",
            "passkeys": two_factor.passkeys(user),
            "app": app,
            "backup_code_set": two_factor.backup_code_set(user),
            "backup_codes_left": two_factor.backup_codes_left(user),
            "may_change": two_factor.recently_verified(request),
            "only_one": two_factor.main_factor_count(user) <= 1,
        },
    )


@never_cache
@require_POST
def unlock_request(request: HttpRequest) -> HttpResponse:
    """Ask for an unlock link (from the lockout page): the same answer whether or
    not the account exists."""
    form = UnlockRequestForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            "staff/unlock_request.html",
            {"title": "Get an unlock link", "form": form},
            status=400,
        )
    asked = unlock.request_link(
        username=form.cleaned_data["username"],
        network=sign_in_limits.client_network(request),
    )
    return _page(
        request,
        "staff/unlock_requested.html",
        {"title": "Check your email", "asked": asked},
        status=200 if asked else 429,
    )


@never_cache
def unlock_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: a page with a button (a mail scanner that opens links
    spends nothing), and the POST that spends it."""
    try:
        if request.method == "POST":
            link = unlock.use_link(request=request, token=token)
            messages.success(
                request,
                f"Sign-in is unlocked for {link.user.get_username()} in this "
                f"browser for {sign_in_limits.UNLOCK_PASS_SECONDS // 60} minutes: "
                "sign in with your password and second factor now.",
            )
            return redirect("admin:login")
        link = unlock.usable_link(token)
    except unlock.UnlockError as error:
        return _page(
            request,
            "staff/unlock_link.html",
            {"title": "Unlock link not valid", "error": str(error)},
            status=410,
        )
    return _page(
        request,
        "staff/unlock_link.html",
        {"title": "Unlock your sign-in", "username": link.user.get_username()},
    )
