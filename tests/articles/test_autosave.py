"""Autosave: the JSON endpoint the editing page posts to every half minute, and the
offer of an autosave back when the article (or the add page) is opened again."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from articles.editorial import autosave, revisions, workflow
from articles.models import Article, ArticleRevision, Autosave
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
)

pytestmark = pytest.mark.django_db


def autosave_url(article: Article | None = None) -> str:
    if article is None:
        return reverse("admin:articles_article_autosave_new")
    return reverse("admin:articles_article_autosave", args=[article.pk])


def discard_url(article: Article | None = None) -> str:
    if article is None:
        return reverse("admin:articles_article_autosave_discard_new")
    return reverse("admin:articles_article_autosave_discard", args=[article.pk])


def change_url(article: Article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


def post_json(client, url: str, data) -> object:
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(url, body, content_type="application/json")


def typed(**changes) -> dict:
    data = {
        "title": "Typed title",
        "slug": "typed-title",
        "summary": "Typed summary.",
        "body": "<p>Typed body.</p>",
        "seo_title": "",
        "seo_description": "",
        "cover_image_alt": "",
        "evidence": "",
        "sources": [{"title": "A trial", "year": "2024", "url": "https://x.org/t"}],
    }
    data.update(changes)
    return data


@pytest.fixture
def editor(db):
    return make_role_user("Editor", username="eddie")


def test_an_editor_autosaves_a_live_article_without_a_revision_or_change(
    client, editor
):
    article = make_article(title="Live title")
    revisions.latest(article, user=editor)
    before = ArticleRevision.objects.count()
    client.force_login(editor)
    response = post_json(client, autosave_url(article), typed())
    assert response.status_code == 200
    saved_at = timezone.localtime(Autosave.objects.get().saved_at)
    assert response.json()["message"] == f"Saved a draft copy at {saved_at:%H:%M}."
    saved = Autosave.objects.get(article=article, user=editor)
    assert saved.data["title"] == "Typed title"
    assert saved.data["sources"] == [
        {
            "title": "A trial",
            "publisher": "",
            "year": 2024,
            "url": "https://x.org/t",
            "doi": "",
            "pmid": "",
        }
    ]
    assert saved.base_revision == article.latest_revision
    assert ArticleRevision.objects.count() == before
    article.refresh_from_db()
    assert article.title == "Live title"
    assert article.is_live
    assert client.get(article.get_absolute_url()).status_code == 200


def test_autosaving_again_replaces_the_copy(client, editor):
    article = make_draft(created_by=editor)
    client.force_login(editor)
    post_json(client, autosave_url(article), typed(title="One"))
    post_json(client, autosave_url(article), typed(title="Two"))
    assert Autosave.objects.get().data["title"] == "Two"
    assert not article.revisions.exists()


def test_the_add_page_autosaves_without_an_article(client, editor):
    client.force_login(editor)
    response = post_json(client, autosave_url(), typed())
    assert response.status_code == 200
    saved = Autosave.objects.get()
    assert saved.article is None and saved.user == editor
    assert not Article.objects.exists()


def test_the_body_is_sanitised_and_unknown_keys_dropped(client, editor):
    article = make_draft(created_by=editor)
    client.force_login(editor)
    post_json(
        client,
        autosave_url(article),
        typed(body="<p>Hi<script>alert(1)</script></p>", status="published"),
    )
    data = Autosave.objects.get().data
    assert data["body"] == "<p>Hi</p>"
    assert "status" not in data


def test_a_writer_cannot_autosave_someone_elses_article(client):
    article = make_draft(created_by=make_staff())
    client.force_login(make_role_user("Writer"))
    response = post_json(client, autosave_url(article), typed())
    assert response.status_code == 403
    assert response.json() == {
        "error": "Writers change only their own articles; ask an editor."
    }
    assert not Autosave.objects.exists()


def test_a_writer_cannot_autosave_their_article_while_it_is_in_review(client):
    writer = make_role_user("Writer")
    article = make_draft(created_by=writer)
    workflow.submit_for_review(article=article, user=writer)
    client.force_login(writer)
    response = post_json(client, autosave_url(article), typed())
    assert response.status_code == 403
    assert "locked for writers" in response.json()["error"]
    assert not Autosave.objects.exists()


def test_a_reviewer_cannot_autosave(client):
    article = make_draft()
    client.force_login(make_reviewer())
    response = post_json(client, autosave_url(article), typed())
    assert response.status_code == 403
    assert response.json() == {"error": "Your role cannot change articles."}
    response = post_json(client, autosave_url(), typed())
    assert response.status_code == 403
    assert not Autosave.objects.exists()


def test_a_writer_autosaves_their_own_draft(client):
    writer = make_role_user("Writer")
    article = make_draft(created_by=writer)
    client.force_login(writer)
    assert post_json(client, autosave_url(article), typed()).status_code == 200
    assert Autosave.objects.get().user == writer


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "The draft copy was not valid JSON."),
        (b"\xff\xfe", "The draft copy was not valid JSON."),
        ("[1, 2]", "Send the draft copy as a JSON object of field values."),
        ('{"title": 5}', "The field title must be text."),
        ('{"author_id": "x"}', "The field author_id must be an id or null."),
        ('{"featured": "yes"}', "The field featured must be true or false."),
        ('{"sources": {"title": "x"}}', "The sources must be a list of objects."),
        ('{"sources": [{"year": "soon"}]}', "A source's year must be a number."),
        ('{"sources": [{"title": 7}]}', "A source's fields must be text."),
        pytest.param(
            "[" * 100_000 + "]" * 100_000,
            "The draft copy was not valid JSON.",
            id="nested-100000-deep",
        ),
        (
            '{"title": "a\\u0000b"}',
            "The field title holds a character that cannot be saved.",
        ),
        (
            '{"body": "<p>\\ud800</p>"}',
            "The field body holds a character that cannot be saved.",
        ),
        (
            '{"sources": [{"title": "\\udfff"}]}',
            "A source holds a character that cannot be saved.",
        ),
    ],
)
def test_junk_is_refused_with_400_and_a_clear_message(client, editor, body, message):
    article = make_draft(created_by=editor)
    client.force_login(editor)
    response = post_json(client, autosave_url(article), body)
    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert not Autosave.objects.exists()


def test_a_body_over_the_form_size_limit_is_refused_with_413(client, editor, settings):
    article = make_draft(created_by=editor)
    client.force_login(editor)
    big = typed(body="<p>" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + "</p>")
    response = post_json(client, autosave_url(article), big)
    assert response.status_code == 413
    assert "too big" in response.json()["error"]
    assert not Autosave.objects.exists()


def test_the_endpoint_needs_post_login_and_a_csrf_token(client, editor):
    article = make_draft(created_by=editor)
    assert post_json(client, autosave_url(article), typed()).status_code == 302
    client.force_login(editor)
    assert client.get(autosave_url(article)).status_code == 405
    strict = VerifiedClient(enforce_csrf_checks=True)
    strict.force_login(editor)
    assert post_json(strict, autosave_url(article), typed()).status_code == 403
    assert not Autosave.objects.exists()


def test_reopening_the_article_offers_the_autosave_back(client, editor):
    article = make_draft(title="Saved title", created_by=editor)
    revisions.latest(article, user=editor)
    client.force_login(editor)
    post_json(client, autosave_url(article), typed(title="Typed <b>title</b>"))
    saved_at = timezone.localtime(Autosave.objects.get().saved_at)
    text = client.get(change_url(article)).text
    assert "You have unsaved changes from" in text
    assert f"{saved_at:%H:%M}</time>" in text
    assert 'id="autosave-restore"' in text and "Restore them" in text
    assert f'href="{discard_url(article)}"' in text
    # The copy travels as JSON for the script to put in the form, escaped.
    assert '<script id="autosave-data" type="application/json">' in text
    assert "Typed \\u003Cb\\u003Etitle" in text
    assert f'data-url="{autosave_url(article)}"' in text
    assert "admin/js/autosave.js" in text


def test_the_add_page_offers_an_autosave_of_a_new_article(client, editor):
    client.force_login(editor)
    post_json(client, autosave_url(), typed(title="A new one"))
    text = client.get(reverse("admin:articles_article_add")).text
    assert "You have unsaved changes from" in text
    assert "A new one" in text
    assert f'data-url="{autosave_url()}"' in text


def test_no_offer_without_an_autosave_or_for_someone_elses(client, editor):
    article = make_draft(created_by=editor)
    other = make_staff(username="other")
    autosave.autosave(article=article, user=other, data=typed())
    client.force_login(editor)
    text = client.get(change_url(article)).text
    assert "You have unsaved changes" not in text
    assert 'id="autosave-status"' in text  # autosave still runs


def test_saving_the_article_ends_the_offer(client, editor):
    article = make_draft(created_by=editor)
    client.force_login(editor)
    post_json(client, autosave_url(article), typed(title="Kept"))
    data = revisions.snapshot(article) | {"title": "Kept"}
    workflow.save_draft(article=article, data=data, user=editor)
    assert "You have unsaved changes" not in client.get(change_url(article)).text


def test_an_autosave_older_than_the_latest_revision_is_not_offered(client, editor):
    article = make_draft(created_by=editor)
    revisions.latest(article, user=editor)
    Autosave.objects.create(
        article=article,
        user=editor,
        data=typed(),
        saved_at=timezone.now() - timedelta(hours=1),
    )
    client.force_login(editor)
    assert "You have unsaved changes" not in client.get(change_url(article)).text


def test_an_autosave_equal_to_the_latest_revision_is_not_offered(client, editor):
    article = make_draft(created_by=editor)
    latest = revisions.latest(article, user=editor)
    autosave.autosave(article=article, user=editor, data=dict(latest.data))
    client.force_login(editor)
    assert "You have unsaved changes" not in client.get(change_url(article)).text


def test_a_reviewer_gets_no_autosave_on_the_page(rf):
    article = make_draft()
    reviewer = make_reviewer()
    autosave.discard_autosave(article=article, user=reviewer)
    Autosave.objects.create(article=article, user=reviewer, data=typed())
    request = rf.get(change_url(article))
    request.user = reviewer
    text = render_to_string(
        "admin/articles/article/includes/autosave.html",
        {"original": article},
        request=request,
    )
    assert "admin/js/autosave.js" not in text
    assert "data-url=" not in text
    assert "You have unsaved changes" not in text
    assert "Revision history" in text  # reviewers read the history


def test_discard_is_a_post_that_deletes_only_this_copy(client, editor):
    article = make_draft(created_by=editor)
    other = make_draft(created_by=editor)
    client.force_login(editor)
    post_json(client, autosave_url(article), typed())
    post_json(client, autosave_url(other), typed())
    confirm = client.get(discard_url(article))
    assert confirm.status_code == 200
    assert "Yes, discard them" in confirm.text
    assert Autosave.objects.count() == 2
    response = client.post(discard_url(article))
    assert response.status_code == 302
    assert response["Location"] == change_url(article)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your unsaved changes were discarded."
    ]
    assert list(Autosave.objects.values_list("article", flat=True)) == [other.pk]
    assert "You have unsaved changes" not in client.get(change_url(article)).text


def test_the_script_discards_with_a_json_post(client, editor):
    client.force_login(editor)
    post_json(client, autosave_url(), typed())
    response = client.post(discard_url(), headers={"Accept": "application/json"})
    assert response.json() == {"message": "Your unsaved changes were discarded."}
    assert not Autosave.objects.exists()
