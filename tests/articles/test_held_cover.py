"""A cover image chosen on a form shown again with an error is held, shown as
chosen, and saved by the corrected POST without a new upload; a held image is
given back only to its user, with a genuine, unexpired token."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from articles.models import Article, Stage
from core import held_uploads
from tests.factories import (
    admin_article_form,
    image_upload,
    make_article,
    make_role_user,
)

pytestmark = pytest.mark.django_db

ADD = "admin:articles_article_add"


def held_token(text: str) -> str:
    return re.search(r'name="held_cover" value="([^"]+)"', text).group(1)


@pytest.fixture
def writer(client):
    user = make_role_user("Writer")
    client.force_login(user)
    return user


def failed_first_save(client, **overrides):
    """A writer's first save with a cover image and no alt text: refused."""
    data = admin_article_form(
        cover_image=image_upload("sunscreen.jpg", fmt="JPEG", size=(120, 80)),
        **overrides,
    )
    response = client.post(reverse(ADD), data)
    assert response.status_code == 200
    assert "Describe the cover image" in response.text
    return response


def test_a_failed_first_save_keeps_the_cover_and_the_corrected_one_saves_it(
    client, writer, django_capture_on_commit_callbacks
):
    response = failed_first_save(client)
    text = response.text
    assert "Chosen: <strong>sunscreen.jpg</strong>" in text
    token = held_token(text)
    thumbnail = re.search(r'<img src="([^"]+)" alt="" class="held-cover', text)
    image = client.get(thumbnail.group(1))
    assert image.status_code == 200
    assert b"".join(image.streaming_content)[:2] == b"\xff\xd8"  # a JPEG
    held = held_uploads.held(token=token, user=writer)
    assert default_storage.exists(held.name)
    # Not at a public address: the thumbnail's is for this user only.
    assert client.get(f"/media/{held.name}").status_code == 404

    corrected = admin_article_form(
        cover_image_alt="A tube of sunscreen on a towel.", held_cover=token
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(ADD), corrected)
    assert response.status_code == 302
    article = Article.objects.get()
    assert article.cover_image.name.startswith("covers/")
    assert (article.cover_image_width, article.cover_image_height) == (120, 80)
    with default_storage.open(article.cover_image.name) as stored:
        assert Image.open(stored).size == (120, 80)
    assert article.latest_revision.data["cover_image"] == article.cover_image.name
    # Used, the held copy is gone.
    assert not default_storage.exists(held.name)


def test_a_second_error_keeps_holding_the_same_image(client, writer):
    token = held_token(failed_first_save(client).text)
    again = client.post(
        reverse(ADD), admin_article_form(held_cover=token, title="")
    ).text
    assert held_token(again) == token
    assert "Chosen: <strong>sunscreen.jpg</strong>" in again


def test_ticking_remove_saves_without_the_held_image(client, writer):
    token = held_token(failed_first_save(client).text)
    response = client.post(
        reverse(ADD),
        admin_article_form(held_cover=token, held_cover_remove="on"),
    )
    assert response.status_code == 302
    assert not Article.objects.get().cover_image


def test_a_new_file_replaces_the_held_one(client, writer):
    token = held_token(failed_first_save(client).text)
    response = client.post(
        reverse(ADD),
        admin_article_form(
            held_cover=token,
            cover_image=image_upload("other.png", size=(30, 20)),
            cover_image_alt="Another picture.",
        ),
    )
    assert response.status_code == 302
    assert Article.objects.get().cover_image_width == 30


def test_another_users_token_is_refused_and_its_thumbnail_hidden(client, writer):
    token = held_token(failed_first_save(client).text)
    other = make_role_user("Writer", username="other-writer")
    client.force_login(other)
    thumbnail = reverse("admin:articles_article_held_cover", args=[token])
    assert client.get(thumbnail).status_code == 404
    response = client.post(
        reverse(ADD), admin_article_form(held_cover=token, cover_image_alt="Alt.")
    )
    assert response.status_code == 200
    assert "could not be kept" in response.text
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    "forge",
    [
        lambda token, user: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        # Signed with the right key but a path outside the user's folder.
        lambda token, user: signing.dumps(
            {"name": "covers/someone.jpg", "user": user.pk, "original": "x.jpg"},
            salt=held_uploads.HELD_SALT,
        ),
        # Another purpose's signature (another salt).
        lambda token, user: signing.dumps(
            signing.loads(token, salt=held_uploads.HELD_SALT)
        ),
        lambda token, user: "",
    ],
)
def test_a_forged_token_gives_nothing(client, writer, forge):
    token = held_token(failed_first_save(client).text)
    response = client.post(
        reverse(ADD),
        admin_article_form(held_cover=forge(token, writer), cover_image_alt="Alt."),
    )
    article = Article.objects.first()
    assert article is None or not article.cover_image
    assert response.status_code in (200, 302)


def test_an_expired_token_gives_nothing(client, writer, monkeypatch):
    token = held_token(failed_first_save(client).text)
    monkeypatch.setattr(held_uploads, "HELD_MAX_AGE", timedelta(seconds=-1))
    assert held_uploads.held(token=token, user=writer) is None


def test_clean_held_uploads_removes_only_expired_ones(client, writer, monkeypatch):
    token = held_token(failed_first_save(client).text)
    held = held_uploads.held(token=token, user=writer)
    out = StringIO()
    call_command("clean_held_uploads", stdout=out)
    assert "Deleted 0 held upload(s)." in out.getvalue()
    assert default_storage.exists(held.name)
    monkeypatch.setattr(held_uploads, "HELD_MAX_AGE", timedelta(seconds=-60))
    out = StringIO()
    call_command("clean_held_uploads", "--dry-run", stdout=out)
    assert f"Would delete {held.name}" in out.getvalue()
    assert default_storage.exists(held.name)
    call_command("clean_held_uploads", stdout=StringIO())
    assert not default_storage.exists(held.name)
    out = StringIO()
    call_command("clean_held_uploads", stdout=out)  # twice: nothing left
    assert "Deleted 0 held upload(s)." in out.getvalue()


def test_a_change_to_a_live_article_keeps_the_held_cover_for_its_draft(
    client, django_capture_on_commit_callbacks
):
    editor = make_role_user("Editor")
    client.force_login(editor)
    live = make_article(stage=Stage.LIVE)
    url = reverse("admin:articles_article_change", args=[live.pk])
    form = admin_article_form(
        title=live.title,
        slug=live.slug,
        summary=live.summary,
        body=live.body,
        author=live.author_id,
        topic=live.topic_id,
    )
    refused = client.post(url, {**form, "cover_image": image_upload("new.png")})
    assert refused.status_code == 200
    token = held_token(refused.text)
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            url,
            {**form, "held_cover": token, "cover_image_alt": "A new cover."},
        )
    assert saved.status_code == 302
    article = Article.objects.get(pk=live.pk)
    # Readers keep the live version (no cover); the draft names the new one.
    assert not article.cover_image
    assert article.latest_revision.data["cover_image"].startswith("covers/")
    assert default_storage.exists(article.latest_revision.data["cover_image"])
