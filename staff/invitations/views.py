"""The invitation link's pages: choose a name, username and password; then the
second factor (the admin's middleware asks for it at the first admin page) and
settings.STAFF_INVITATION_LANDING."""

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from staff.invitations import services
from staff.invitations.forms import AcceptForm
from staff.views import _page

# The account was just made with a password: the model backend signs it in.
BACKEND = "django.contrib.auth.backends.ModelBackend"


@never_cache
@sensitive_post_parameters("password1", "password2")
def accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.usable(token)
    except services.InvitationError as error:
        return _invalid(request, error)
    form = AcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                name=form.cleaned_data["name"],
            )
        except services.InvitationError as error:
            if not services.is_usable(token):
                return _invalid(request, error)
            # Still open (a username taken meanwhile): the form says what to change.
            form.add_error(None, str(error))
        else:
            login(request, user, backend=BACKEND)
            return redirect(reverse(settings.STAFF_INVITATION_LANDING))
    return _page(
        request,
        "staff/invitation_accept.html",
        {
            "title": "Join the Skincare team",
            "invitation": invitation,
            "form": form,
            "two_factor": settings.STAFF_TWO_FACTOR,
        },
        status=400 if form.is_bound else 200,
    )


def _invalid(request: HttpRequest, error: Exception) -> HttpResponse:
    # 410 Gone: the link worked once or could have, and will not again.
    return _page(
        request,
        "staff/invitation_accept.html",
        {"title": "Invitation link not valid", "error": str(error)},
        status=410,
    )
