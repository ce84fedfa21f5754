"""The second-factor pages: set up an authenticator app, and enter its code.

Both look like the admin's sign-in page and are the only admin pages, with sign-in
and sign-out, that staff who still owe a code can open (staff/middleware.py).
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from staff import two_factor
from staff.forms import TokenForm


def next_url(request: HttpRequest) -> str:
    """Where to go once verified: the admin page asked for, if it is one."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    )
    if safe and candidate.startswith(reverse("admin:index")):
        return candidate
    return reverse("admin:index")


def with_next(name: str, next_path: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_path})}"


def _page(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return render(
        request,
        template,
        {**admin.site.each_context(request), "next": next_url(request), **context},
    )


@never_cache
@staff_member_required
def verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not two_factor.is_required(user) or user.is_verified():
        return redirect(next_url(request))
    if two_factor.confirmed_device(user) is None:
        return redirect(with_next("staff:enrol", next_url(request)))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.verify(request=request, token=form.cleaned_data["token"])
        except two_factor.TwoFactorError as error:
            form.add_error("token", str(error))
        else:
            return redirect(next_url(request))
    return _page(
        request,
        "staff/two_factor_verify.html",
        {"title": "Enter your sign-in code", "form": form},
    )


@never_cache
@staff_member_required
def enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not two_factor.is_required(user) or user.is_verified():
        return redirect(next_url(request))
    if two_factor.confirmed_device(user) is not None:
        return redirect(with_next("staff:verify", next_url(request)))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.confirm_enrolment(
                request=request, token=form.cleaned_data["token"]
            )
        except two_factor.TwoFactorError as error:
            form.add_error("token", str(error))
        else:
            return redirect(next_url(request))
    device = two_factor.pending_device(user=user)
    return _page(
        request,
        "staff/two_factor_enrol.html",
        {
            "title": "Set up your authenticator app",
            "form": form,
            "qr_svg": two_factor.qr_svg(device),
            "secret": two_factor.secret_for_typing(device),
        },
    )
