"""Permissions-Policy and Cross-Origin-Resource-Policy (skincare/middleware.py):
unused browser features off everywhere; our resources for our pages only, except
uploaded images, which emails, feed readers and shared links show elsewhere."""

import pytest

from skincare.middleware import PERMISSIONS_POLICY
from tests.articles.test_uploads import noise_png

pytestmark = pytest.mark.django_db


def test_a_page_turns_off_unused_features_and_keeps_passkeys(client):
    response = client.get("/")
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    features = dict(item.split("=") for item in PERMISSIONS_POLICY.split(", "))
    assert {"camera", "microphone", "geolocation", "payment", "usb"} <= set(features)
    assert set(features.values()) == {"()"}
    assert not any(name.startswith("publickey-credentials") for name in features)
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/admin/login/", "/newsletter/", "/no-such-page/"])
def test_admin_newsletter_and_error_pages_carry_both(client, path):
    response = client.get(path)
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_uploaded_media_may_be_shown_on_other_sites(client, media_root):
    (media_root / "uploads").mkdir(parents=True)
    (media_root / "uploads" / "cover.png").write_bytes(noise_png((8, 8)))
    response = client.get("/media/uploads/cover.png")
    assert response.status_code == 200
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_knows_every_feature_the_policy_names(page, live_server):
    """An unknown feature name is logged on every page ("Unrecognized feature")."""
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{live_server.url}/")
    page.wait_for_load_state("load")
    assert [m for m in messages if "Permissions-Policy" in m] == []
