"""The passkey buttons' scripts load their message catalog before the button's own
script runs: django-otp-webauthn's template loads it with async, and a click that
landed before the catalog ran failed on an undefined gettext and did nothing
(seen on the locked-out page under load)."""

import re

import pytest
from django.template import engines

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["auth", "register"])
def test_the_catalog_is_deferred_and_runs_before_the_passkey_script(kind, rf):
    request = rf.get("/admin/login/")
    html = (
        engines["django"]
        .from_string(
            "{% load otp_webauthn %}{% render_otp_webauthn_" + kind + "_scripts %}"
        )
        .render({}, request)
    )
    scripts = re.findall(r"<script\b[^>]*\bsrc=\"[^\"]+\"[^>]*>", html)
    assert len(scripts) == 2, html
    catalog, module = scripts
    assert "jsi18n" in catalog
    assert "async" not in catalog
    assert "defer" in catalog
    assert f"otp_webauthn_{kind}.js" in module
    assert 'type="module"' in module


def test_the_locked_out_and_login_pages_carry_the_deferred_catalog(unverified_client):
    html = unverified_client.get("/admin/login/").content.decode()
    assert re.search(r'<script defer src="[^"]*jsi18n[^"]*"></script>', html)
    assert "async" not in html
