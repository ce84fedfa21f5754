"""The passkey views under the names django-otp-webauthn's template tags and
JavaScript look them up by (namespace "otp_webauthn")."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from staff import passkeys

app_name = "otp_webauthn"
urlpatterns = [
    path(
        "registration/begin/",
        passkeys.BeginRegistration.as_view(),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/",
        passkeys.CompleteRegistration.as_view(),
        name="credential-registration-complete",
    ),
    path(
        "sign-in/begin/",
        passkeys.BeginSignIn.as_view(),
        name="credential-authentication-begin",
    ),
    path(
        "sign-in/complete/",
        passkeys.CompleteSignIn.as_view(),
        name="credential-authentication-complete",
    ),
    # The library's messages for its JavaScript (gettext in the browser).
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="js-i18n-catalog",
    ),
]
