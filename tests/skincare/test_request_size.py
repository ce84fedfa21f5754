"""Big request bodies are for staff uploads only; public forms get a small limit and
never echo a too-long value back whole."""

import pytest
from django.conf import settings
from django.urls import reverse

from newsletter.models import Subscriber
from newsletter.web.forms import SubscribeForm
from skincare.middleware import public_body_limit, staff_body_limit
from tests.articles.test_uploads import (
    json_url,
    media_path,
    noise_png,
    post_upload,
    upload_file,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def signup(client, **fields):
    data = {"email": "reader@example.com", "consent": "on", "source": "page"}
    data.update(fields)
    return client.post(reverse("newsletter:subscribe"), data)


def test_a_ten_megabyte_sign_up_is_refused_unread_with_413(client):
    marker = "Q" * (10 * MB)
    response = signup(client, first_name=marker)
    assert response.status_code == 413
    text = response.content.decode()
    assert "That was more than this page accepts" in text
    assert "QQQQQQQQQQ" not in text
    assert len(response.content) < 64 * 1024
    assert not Subscriber.objects.exists()


def test_a_body_just_over_the_public_limit_is_refused(client):
    response = signup(client, website="w" * public_body_limit())
    assert response.status_code == 413


def test_a_too_long_name_is_refused_with_its_message_and_not_echoed_whole(client):
    response = signup(client, first_name="N" * 50_000)
    assert response.status_code == 200
    text = response.content.decode()
    assert "A first name can be at most 100 characters long." in text
    assert "N" * 100 in text  # what the field can hold is shown to fix
    assert "N" * 101 not in text
    assert not Subscriber.objects.exists()


def test_a_too_long_email_and_source_are_not_echoed_whole(client):
    response = signup(client, email="e" * 40_000 + "@example.com", source="s" * 9000)
    text = response.content.decode()
    # Over 320 characters Django calls it invalid rather than too long.
    assert "Enter an email address like name@example.com." in text
    assert 'value="' + "e" * 254 + '"' in text
    assert "e" * 255 not in text
    assert "s" * 21 not in text
    assert not Subscriber.objects.exists()


def test_an_address_just_over_254_characters_is_called_too_long(client):
    email = "e" * 60 + "@" + "d" * 60 + "." + "f" * 60 + "." + "g" * 60 + ".example.com"
    assert 254 < len(email) < 320
    text = signup(client, email=email).content.decode()
    assert "An email address can be at most 254 characters long." in text
    assert email not in text


def test_the_honeypot_has_a_length_limit():
    assert SubscribeForm().fields["website"].max_length == 200


def test_a_staff_upload_of_a_real_nine_megabyte_image_still_works(
    staff_client, media_root
):
    data = noise_png((1800, 1800))
    assert 9 * MB < len(data) < settings.MAX_IMAGE_UPLOAD_BYTES
    response = post_upload(staff_client, upload_file("big.png", data))
    assert media_path(json_url(response)).is_file()


def test_a_non_staff_user_posting_a_big_body_to_the_upload_url_gets_413(
    client, media_root
):
    client.force_login(make_user())
    data = b"\0" * (2 * MB)
    response = post_upload(client, upload_file("big.png", data))
    assert response.status_code == 413
    assert not media_root.exists() or not any(media_root.rglob("*.*"))


def test_an_anonymous_big_body_to_the_upload_url_gets_413(client):
    response = post_upload(client, upload_file("big.png", b"\0" * MB))
    assert response.status_code == 413


def test_staff_bodies_over_the_upload_limit_are_refused_too(staff_client):
    too_big = b"\0" * (staff_body_limit() + 1)
    response = post_upload(staff_client, upload_file("huge.png", too_big))
    assert response.status_code == 413


def test_the_staff_limit_follows_the_largest_upload_setting(settings):
    settings.MAX_IMAGE_UPLOAD_BYTES = MB
    assert staff_body_limit() > settings.MAX_IMPORT_BYTES
    settings.MAX_IMAGE_UPLOAD_BYTES = 3 * settings.MAX_IMPORT_BYTES
    assert staff_body_limit() > 3 * settings.MAX_IMPORT_BYTES
    assert staff_body_limit() > settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_form_fields_get_django_s_default_memory_limit_again():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440
