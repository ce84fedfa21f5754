"""/favicon.ico: a real multi-size icon, cached, beside the SVG icon link."""

import io

import pytest
from django.urls import reverse
from PIL import Image

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_a_multi_size_icon_with_a_long_cache(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    cache_control = response["Cache-Control"]
    assert "public" in cache_control
    max_age = int(cache_control.split("max-age=")[1].split(",")[0])
    assert max_age >= 60 * 60 * 24 * 7
    with Image.open(io.BytesIO(response.content)) as icon:
        assert icon.format == "ICO"
        assert {(16, 16), (32, 32), (48, 48)} <= icon.info["sizes"]
        # The site mark: the accent ring around a sand centre, on transparency.
        icon.size = (48, 48)
        pixels = icon.convert("RGBA")
        assert pixels.getpixel((0, 0))[3] == 0
        assert pixels.getpixel((24, 24))[:3] == (0xF6, 0xEF, 0xE6)
        assert pixels.getpixel((24, 6))[:3] == (0x0B, 0x5E, 0x57)


def test_favicon_refuses_to_be_posted_to(client):
    assert client.post("/favicon.ico").status_code == 405


def test_pages_link_both_the_ico_and_the_svg_icon(client):
    text = client.get(reverse("articles:home")).text
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in text
    assert 'href="/static/img/favicon.svg" type="image/svg+xml"' in text
