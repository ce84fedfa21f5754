"""Editing articles in the admin: the change form edits the latest revision, every
save is a revision, and a live article's public page keeps the published version
until a revision is published through the workflow."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from playwright.sync_api import expect

from articles import services
from articles.editorial import revisions, workflow
from articles.editorial.workflow import WorkflowError
from articles.models import Article, ArticleRevision, Reference, Stage
from tests.articles.test_browser import log_in
from tests.factories import (
    admin_article_form,
    image_upload,
    make_article,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
)

pytestmark = pytest.mark.django_db

SOURCE_FIELDS = ["position", "title", "publisher", "year", "url", "doi", "pmid"]


def change_url(article: Article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


def preview_url(article: Article) -> str:
    return reverse("admin:articles_article_preview", args=[article.pk])


def form_data(response) -> dict[str, str]:
    """What a browser would submit from the change form as it was shown."""
    form = response.context["adminform"].form
    data: dict[str, str] = {}
    for name in form.fields:
        value = form[name].value()
        if name == "cover_image" or value is False:
            continue
        data[name] = "on" if value is True else ("" if value is None else str(value))
    (inline,) = response.context["inline_admin_formsets"]
    formset = inline.formset
    data[f"{formset.prefix}-TOTAL_FORMS"] = str(len(formset.forms))
    data[f"{formset.prefix}-INITIAL_FORMS"] = "0"
    for source_form in formset.forms:
        for name in SOURCE_FIELDS:
            value = source_form[name].value()
            data[source_form.add_prefix(name)] = "" if value is None else str(value)
    return data


def sources_of(data: dict, count: int) -> list[tuple[str, str]]:
    return [
        (data[f"references-{i}-position"], data[f"references-{i}-title"])
        for i in range(count)
    ]


def add_source(article: Article, position: int, title: str, **fields) -> Reference:
    return Reference.objects.create(
        article=article, position=position, title=title, **fields
    )


def public_text(client, article: Article) -> str:
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response.text


def latest_sources(article: Article) -> list[str]:
    article.refresh_from_db()
    return [s["title"] for s in article.latest_revision.data["sources"]]


@pytest.fixture
def live(db):
    article = make_article(
        title="Retinoids, the basics",
        body="<p>Start slowly.</p>",
        stage=Stage.LIVE,
    )
    add_source(article, 1, "A trial of retinoids", year=2021, doi="10.1000/a")
    add_source(article, 2, "A review of retinoids", url="https://example.org/r")
    return article


# The public page is unchanged while the draft is edited ---------------------------


def test_live_article_page_is_unchanged_while_its_draft_is_edited(
    staff_client, client, live
):
    before = public_text(client, live)
    data = form_data(staff_client.get(change_url(live)))
    data.update(
        {
            "title": "Retinoids, rewritten",
            "body": "<p>Start very slowly.</p>",
            "references-0-title": "A trial of retinoids, corrected",
            "references-TOTAL_FORMS": "3",
            "references-2-position": "3",
            "references-2-title": "A new guideline",
        }
    )
    response = staff_client.post(change_url(live), data)
    assert response.status_code == 302

    # Readers: the published title, body and sources, exactly as before.
    assert public_text(client, live) == before
    assert "Retinoids, the basics" in before and "Start slowly." in before
    assert "A trial of retinoids." in before
    assert "A new guideline" not in before
    live.refresh_from_db()
    assert live.title == "Retinoids, the basics" and live.is_live
    assert [r.title for r in live.references.all()] == [
        "A trial of retinoids",
        "A review of retinoids",
    ]
    # Staff: the draft, in the form and in the preview.
    assert live.has_unpublished_changes and live.stage == Stage.DRAFT
    assert latest_sources(live) == [
        "A trial of retinoids, corrected",
        "A review of retinoids",
        "A new guideline",
    ]
    form = staff_client.get(change_url(live)).context["adminform"].form
    assert form["title"].value() == "Retinoids, rewritten"
    preview = staff_client.get(preview_url(live)).text
    assert "Retinoids, rewritten</h1>" in preview and "Start very slowly." in preview
    assert "Retinoids, the basics" not in preview


def test_publishing_the_draft_brings_its_changes_to_readers(
    staff_client, client, staff, live
):
    data = form_data(staff_client.get(change_url(live)))
    data.update({"title": "Retinoids, rewritten", "references-1-DELETE": "on"})
    staff_client.post(change_url(live), data)
    workflow.publish(article=live, user=staff, override_reason="Test article")
    text = public_text(client, live)
    assert "Retinoids, rewritten</h1>" in text
    assert "A trial of retinoids" in text and "A review of retinoids" not in text


def test_change_form_shows_the_latest_revision_with_its_sources(
    staff_client, staff, live
):
    workflow.save_draft(
        article=live,
        data={
            **revisions.snapshot(live),
            "title": "Draft title",
            "sources": [{"title": "Only the draft's source"}],
        },
        user=staff,
    )
    response = staff_client.get(change_url(live))
    data = form_data(response)
    assert data["title"] == "Draft title"
    assert sources_of(data, 1) == [("1", "Only the draft's source")]
    assert data["references-TOTAL_FORMS"] == "1"
    # The live sources are not in the form at all.
    assert "A trial of retinoids" not in response.text


def test_form_no_longer_edits_status_publish_time_or_review(staff_client, live):
    form = staff_client.get(change_url(live)).context["adminform"].form
    assert {"status", "published_at", "reviewer", "reviewed_at"}.isdisjoint(form.fields)
    assert {"evidence", "medical"} <= set(form.fields)


# Every save is a revision ------------------------------------------------------------


def test_every_save_makes_a_revision_saying_who_and_when(staff_client, staff, live):
    url = change_url(live)
    for title in ["First change", "Second change"]:
        data = form_data(staff_client.get(url))
        response = staff_client.post(url, {**data, "title": title})
        assert response.status_code == 302
    numbers = list(live.revisions.values_list("number", "data__title", "created_by"))
    # Revision 1 is the live version as it was, made on the first save.
    assert numbers == [
        (3, "Second change", staff.pk),
        (2, "First change", staff.pk),
        (1, "Retinoids, the basics", staff.pk),
    ]
    latest = live.revisions.first()
    assert latest.created_at >= live.revisions.last().created_at
    messages = [m.message for m in response.wsgi_request._messages]
    assert any("Saved as revision 3, a draft: readers see" in m for m in messages)
    entry = LogEntry.objects.filter(object_id=str(live.pk)).first()
    assert "Title" in entry.get_change_message()


def test_saving_an_unchanged_form_makes_no_new_revision(staff_client, live):
    url = change_url(live)
    for _ in range(2):
        response = staff_client.post(url, form_data(staff_client.get(url)), follow=True)
        assert "Nothing changed: revision 1 stays the latest." in response.text
    # Revision 1 is the live version itself, recorded on the first save.
    live.refresh_from_db()
    assert list(live.revisions.all()) == [live.live_revision]
    assert not live.has_unpublished_changes and live.stage == Stage.LIVE


def test_a_drafts_row_follows_its_latest_revision(staff_client, client):
    draft = make_draft(title="Draft one")
    add_source(draft, 1, "Old source")
    data = form_data(staff_client.get(change_url(draft)))
    data.update({"title": "Draft two", "references-0-title": "New source"})
    assert staff_client.post(change_url(draft), data).status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Draft two"
    assert [r.title for r in draft.references.all()] == ["New source"]
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_adding_an_article_with_sources_saves_revision_1(staff_client, staff):
    data = admin_article_form(
        **{
            "references-TOTAL_FORMS": "2",
            "references-0-position": "2",
            "references-0-title": "Second source",
            "references-1-position": "1",
            "references-1-title": "First source",
        }
    )
    assert staff_client.post(reverse("admin:articles_article_add"), data).status_code
    article = Article.objects.get()
    revision = article.latest_revision
    assert revision.number == 1 and revision.created_by == staff
    assert [s["title"] for s in revision.data["sources"]] == [
        "First source",
        "Second source",
    ]
    assert [r.title for r in article.references.all()] == [
        "First source",
        "Second source",
    ]


def shown_base_revision(response) -> str:
    match = re.search(r'name="base_revision" value="(\d*)"', response.text)
    assert match, "the change form carries the revision it shows"
    return match.group(1)


def test_a_save_from_a_page_older_than_the_latest_revision_is_refused_once(
    staff_client, live
):
    revisions.latest(live)
    page = staff_client.get(change_url(live))
    data = form_data(page) | {"base_revision": shown_base_revision(page)}
    # Meanwhile, in another tab or by someone else:
    workflow.save_draft(
        article=live,
        data={**revisions.snapshot(live), "title": "Renamed elsewhere"},
        user=make_role_user("Editor", username="colleague"),
    )
    data["summary"] = "Changed here, from the older page."

    refused = staff_client.post(change_url(live), data)

    assert refused.status_code == 200
    assert "Revision 2 was saved by colleague" in refused.text
    assert "?old=1&amp;new=2" in refused.text
    assert live.revisions.count() == 2
    # Saving again from the page that said so keeps this version, on purpose.
    data["base_revision"] = shown_base_revision(refused)
    assert staff_client.post(change_url(live), data).status_code == 302
    live.refresh_from_db()
    assert live.latest_revision.number == 3
    assert live.latest_revision.data["summary"] == data["summary"]


def test_an_article_with_500_sources_saves(staff_client, live):
    data = form_data(staff_client.get(change_url(live)))
    data["references-TOTAL_FORMS"] = "500"
    for i in range(500):
        data |= {
            f"references-{i}-position": str(i + 1),
            f"references-{i}-title": f"Source {i + 1}",
            f"references-{i}-year": "2020",
        }
        for name in ("publisher", "url", "doi", "pmid"):
            data[f"references-{i}-{name}"] = ""

    response = staff_client.post(change_url(live), data)

    assert response.status_code == 302
    sources = latest_sources(live)
    assert len(sources) == 500 and sources[-1] == "Source 500"


def test_a_new_cover_for_a_live_article_waits_in_the_draft(staff_client, client, live):
    url = change_url(live)
    data = {
        **form_data(staff_client.get(url)),
        "cover_image": image_upload(size=(90, 60)),
        "cover_image_alt": "A jar of cream",
    }
    assert staff_client.post(url, data).status_code == 302
    live.refresh_from_db()
    assert not live.cover_image
    name = live.latest_revision.data["cover_image"]
    assert name.startswith("covers/") and live.cover_image.storage.exists(name)
    assert "A jar of cream" not in public_text(client, live)
    assert "A jar of cream" in staff_client.get(preview_url(live)).text


# Sources round-trip through the form --------------------------------------------------


@pytest.mark.parametrize("kind", ["draft", "live"])
def test_sources_round_trip_unchanged(staff_client, kind):
    article = make_draft() if kind == "draft" else make_article(stage=Stage.LIVE)
    add_source(article, 1, "Alpha", publisher="J Derm", year=2020, pmid="123")
    add_source(article, 2, "Beta", url="https://example.org/b", doi="10.1/b")
    expected = [revisions.source_dict(r) for r in article.references.all()]
    url = change_url(article)
    staff_client.post(url, form_data(staff_client.get(url)))
    article.refresh_from_db()
    assert article.latest_revision.data["sources"] == expected
    data = form_data(staff_client.get(url))
    assert data["references-0-publisher"] == "J Derm"
    assert data["references-0-year"] == "2020"
    assert data["references-1-url"] == "https://example.org/b"


@pytest.mark.parametrize("kind", ["draft", "live"])
def test_sources_are_added_edited_reordered_and_deleted(staff_client, kind):
    article = make_draft() if kind == "draft" else make_article(stage=Stage.LIVE)
    for position, title in enumerate(["A", "B", "C", "D"], start=1):
        add_source(article, position, title)
    url = change_url(article)
    data = form_data(staff_client.get(url))
    data.update(
        {
            "references-0-position": "5",  # A moves after C
            "references-1-title": "B, edited",
            "references-3-DELETE": "on",  # D ticked for deletion
            "references-TOTAL_FORMS": "6",
            "references-4-title": "E, unnumbered: last",
            "references-5-position": "9",  # a number alone: an empty row
        }
    )
    response = staff_client.post(url, data)
    assert response.status_code == 302
    assert latest_sources(article) == ["B, edited", "C", "A", "E, unnumbered: last"]
    live_titles = [r.title for r in article.references.all()]
    if kind == "draft":
        assert live_titles == ["B, edited", "C", "A", "E, unnumbered: last"]
    else:
        assert live_titles == ["A", "B", "C", "D"]
    # Numbered 1, 2, 3... when the form shows them again.
    data = form_data(staff_client.get(url))
    assert sources_of(data, 4) == [
        ("1", "B, edited"),
        ("2", "C"),
        ("3", "A"),
        ("4", "E, unnumbered: last"),
    ]


def test_a_source_removed_from_the_page_is_deleted(staff_client, live):
    """The admin's remove link takes the row out and renumbers the rest."""
    url = change_url(live)
    data = form_data(staff_client.get(url))
    data.update(
        {
            "references-TOTAL_FORMS": "1",
            "references-0-position": "2",
            "references-0-title": data["references-1-title"],
            "references-0-year": "",
            "references-0-doi": "",
            "references-0-url": data["references-1-url"],
        }
    )
    staff_client.post(url, data)
    assert latest_sources(live) == ["A review of retinoids"]


def test_all_sources_can_be_removed(staff_client):
    draft = make_draft()
    add_source(draft, 1, "Gone")
    data = form_data(staff_client.get(change_url(draft)))
    data["references-0-DELETE"] = "on"
    staff_client.post(change_url(draft), data)
    assert latest_sources(draft) == []
    assert not draft.references.exists()


def test_an_invalid_source_keeps_the_input_and_saves_nothing(staff_client, live):
    url = change_url(live)
    data = form_data(staff_client.get(url))
    data.update(
        {"title": "Typed title", "references-0-title": "", "references-0-year": "x"}
    )
    response = staff_client.post(url, data)
    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert inline.formset.errors[0].keys() == {"title", "year"}
    assert 'value="Typed title"' in response.text
    assert not live.revisions.exists()


# Errors keep what was typed -----------------------------------------------------------


def test_form_errors_keep_the_input_and_save_nothing(staff_client, live):
    url = change_url(live)
    data = form_data(staff_client.get(url))
    data.update(
        {
            "title": "A title typed in",
            "body": "<p>A paragraph typed in.</p>",
            "references-1-title": "A source typed in",
            "cover_image": image_upload(),
        }
    )
    response = staff_client.post(url, data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "Describe the cover image" in form.errors["cover_image_alt"][0]
    assert 'value="A title typed in"' in response.text
    assert "A paragraph typed in." in response.text
    assert 'value="A source typed in"' in response.text
    assert not live.revisions.exists()
    live.refresh_from_db()
    assert live.title == "Retinoids, the basics"


def test_an_emptied_title_and_slug_show_errors_not_a_broken_page(staff_client, live):
    url = change_url(live)
    data = {**form_data(staff_client.get(url)), "title": "", "slug": ""}
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "title" in response.context["adminform"].form.errors
    # "View on site" still leads to the live page.
    assert f'href="{live.get_absolute_url()}"' in response.text


def test_view_on_site_keeps_the_live_address_while_a_draft_renames_it(
    staff_client, live
):
    url = change_url(live)
    data = {**form_data(staff_client.get(url)), "slug": "retinoids-renamed"}
    staff_client.post(url, data)
    text = staff_client.get(url).text
    assert 'value="retinoids-renamed"' in text
    assert f'href="{live.get_absolute_url()}" class="viewsitelink"' in text
    assert "/articles/retinoids-renamed/" not in text


def test_a_workflow_error_while_saving_shows_on_the_form_and_changes_nothing(
    staff_client, live, monkeypatch
):
    real_save_draft = workflow.save_draft

    def save_then_refuse(**kwargs):
        real_save_draft(**kwargs)  # written, then undone with the transaction
        raise WorkflowError("The article was locked for review a moment ago.")

    monkeypatch.setattr(workflow, "save_draft", save_then_refuse)
    url = change_url(live)
    data = {**form_data(staff_client.get(url)), "title": "Typed before the lock"}
    response = staff_client.post(url, data)
    assert response.status_code == 403
    form = response.context["adminform"].form
    assert form.non_field_errors() == [
        "The article was locked for review a moment ago."
    ]
    assert 'value="Typed before the lock"' in response.text
    assert not ArticleRevision.objects.exists()
    live.refresh_from_db()
    assert live.latest_revision is None and live.stage == Stage.LIVE


def test_change_page_opens_when_the_cover_file_is_missing_from_storage(
    staff_client, staff
):
    """The stored size is used; the image file is not read to show the form."""
    article = make_article(cover_image=image_upload(), cover_image_alt="A jar")
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), "title": "Retitled"},
        user=staff,
    )
    article.cover_image.storage.delete(article.cover_image.name)
    response = staff_client.get(change_url(article))
    assert response.status_code == 200
    assert article.cover_image.name in response.text


# Who may edit, on the server ----------------------------------------------------------


def test_writer_gets_a_read_only_page_for_another_writers_article(client):
    owner, other = make_role_user("Writer"), make_role_user("Writer", username="w2")
    article = make_draft(title="Owned", created_by=owner)
    add_source(article, 1, "The owner's source")
    client.force_login(other)
    response = client.get(change_url(article))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="title"' not in response.text
    assert "<li>The owner&#x27;s source</li>" in response.text
    assert not response.context["inline_admin_formsets"]


def test_writer_cannot_change_another_writers_article_by_a_crafted_post(
    client, staff_client
):
    owner, other = make_role_user("Writer"), make_role_user("Writer", username="w2")
    article = make_draft(title="Owned", created_by=owner)
    add_source(article, 1, "The owner's source")
    data = form_data(staff_client.get(change_url(article)))
    client.force_login(other)
    response = client.post(
        change_url(article),
        {**data, "title": "Hijacked", "references-TOTAL_FORMS": "0"},
    )
    assert response.status_code == 403
    assert "Writers change only their own articles; ask an editor." in response.text
    article.refresh_from_db()
    assert article.title == "Owned"
    assert [r.title for r in article.references.all()] == ["The owner's source"]
    assert not article.revisions.exists()


def test_writer_adds_and_edits_their_own_article_until_it_is_in_review(client):
    writer = make_role_user("Writer")
    client.force_login(writer)
    response = client.post(reverse("admin:articles_article_add"), admin_article_form())
    assert response.status_code == 302
    article = Article.objects.get()
    assert article.created_by == writer
    data = form_data(client.get(change_url(article)))
    assert (
        client.post(change_url(article), {**data, "title": "Mine, v2"}).status_code
        == 302
    )
    workflow.submit_for_review(article=article, user=writer)

    response = client.get(change_url(article))
    assert response.context["has_change_permission"] is False
    response = client.post(change_url(article), {**data, "title": "Mine, v3"})
    assert response.status_code == 403
    assert "it is locked for writers" in response.text
    assert 'value="Mine, v3"' in response.text  # what was typed is kept
    assert latest_sources(article) == []
    assert article.latest_revision.data["title"] == "Mine, v2"


def test_medical_reviewers_only_view_articles(client, staff_client, live):
    data = form_data(staff_client.get(change_url(live)))
    client.force_login(make_reviewer())
    response = client.get(change_url(live))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert client.get(reverse("admin:articles_article_add")).status_code == 403
    response = client.post(change_url(live), {**data, "title": "Reviewed away"})
    assert response.status_code == 403
    live.refresh_from_db()
    assert live.title == "Retinoids, the basics" and not live.revisions.exists()


def test_only_editors_and_superusers_delete_articles(client):
    writer = make_role_user("Writer")
    article = make_draft(created_by=writer)
    client.force_login(writer)
    delete = reverse("admin:articles_article_delete", args=[article.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Article.objects.filter(pk=article.pk).exists()
    client.force_login(make_role_user("Editor"))
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Article.objects.filter(pk=article.pk).exists()


def test_deleting_in_the_admin_deletes_the_row_readers_saw(
    staff_client, staff, live, monkeypatch
):
    workflow.save_draft(
        article=live,
        data={**revisions.snapshot(live), "body": "<p>Draft body.</p>"},
        user=staff,
    )
    deleted = []
    monkeypatch.setattr(
        services, "forget_article_images", lambda *, article: deleted.append(article)
    )
    delete = reverse("admin:articles_article_delete", args=[live.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Article.objects.filter(pk=live.pk).exists()
    assert not ArticleRevision.objects.exists()
    assert [article.body for article in deleted] == ["<p>Start slowly.</p>"]


def test_editors_edit_any_writers_article(client):
    article = make_draft(title="A writer's", created_by=make_role_user("Writer"))
    client.force_login(make_role_user("Editor"))
    data = form_data(client.get(change_url(article)))
    assert (
        client.post(change_url(article), {**data, "title": "Edited"}).status_code == 302
    )
    article.refresh_from_db()
    assert article.title == "Edited"


# The preview --------------------------------------------------------------------------


def test_preview_shows_the_draft_and_the_public_page_the_live_version(
    staff_client, client, staff, live
):
    workflow.save_draft(
        article=live,
        data={**revisions.snapshot(live), "title": "The draft's title"},
        user=staff,
    )
    preview = staff_client.get(preview_url(live))
    assert preview["X-Robots-Tag"] == "noindex, nofollow"
    assert "The draft&#x27;s title</h1>" in preview.text
    assert "Retinoids, the basics</h1>" in public_text(client, live)


# Query counts -------------------------------------------------------------------------


# Session, user, second-factor device; the article row and its latest revision
# for the form, and again for the workflow panel and the revision links; the app
# list's three singleton checks; autosave, authors, topics, transitions,
# corrections; when the live version went live (the panel). The same for 1 as for
# 30 sources and revisions.
CHANGE_PAGE_QUERIES = 19


@pytest.mark.parametrize("size", [1, 30])
def test_change_page_query_count_does_not_grow_with_sources_or_revisions(
    staff_client, staff, django_assert_max_num_queries, size
):
    article = make_article(stage=Stage.LIVE)
    sources = [{"title": f"Source {n}"} for n in range(size)]
    for n in range(size):
        workflow.save_draft(
            article=article,
            data={**revisions.snapshot(article), "title": f"V{n}", "sources": sources},
            user=staff,
        )
    staff_client.get(change_url(article))  # the session and permissions, once
    with django_assert_max_num_queries(CHANGE_PAGE_QUERIES):
        response = staff_client.get(change_url(article))
    assert response.status_code == 200
    assert (
        response.context["inline_admin_formsets"][0].formset.total_form_count() == size
    )


# In the browser: the sources table's add and remove links ------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sources_are_removed_and_added_with_the_tables_links(page, live_server):
    staff = make_staff()
    article = make_article(title="Retinoids, the basics", stage=Stage.LIVE)
    for position, title in enumerate(["First", "Second", "Third"], start=1):
        add_source(article, position, title)
    log_in(page, live_server, staff)
    page.goto(f"{live_server.url}{change_url(article)}")
    page.wait_for_load_state("load")
    rows = page.locator("#references-group tr.form-row.dynamic-references")
    expect(rows).to_have_count(3)
    rows.nth(1).locator("a.inline-deletelink").click()
    expect(rows).to_have_count(2)
    page.locator("#references-group .add-row a").click()
    expect(rows).to_have_count(3)
    new_row = rows.nth(2)
    # Numbered after the others by admin/js/source-positions.js.
    expect(new_row.locator("input[name$='-position']")).to_have_value("4")
    new_row.locator("input[name$='-title']").fill("Fourth")
    page.locator("input[name=_continue]").last.click()
    expect(page.locator(".messagelist")).to_contain_text("Saved as revision 2")
    assert latest_sources(article) == ["First", "Third", "Fourth"]
    assert [r.title for r in article.references.all()] == ["First", "Second", "Third"]
    expect(rows).to_have_count(3)
