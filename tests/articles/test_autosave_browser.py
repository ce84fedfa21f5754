"""Autosave in Chromium: what a staff member types is kept without saving, and
offered back when the article is opened again. Also the revision comparison and
the share preview page as people see them.

Screenshots for a person to look at go to /tmp/shots/revs-*.png.
"""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from articles.admin import revision_views
from articles.editorial import autosave, previews, revisions, workflow
from articles.models import Article, ArticleRevision, Autosave
from tests.articles.test_browser import PageWatcher
from tests.browser_fixtures import DESKTOP, log_in
from tests.factories import make_article, make_draft, make_staff
from tests.skincare.test_page_quality_browser import AXE_TAGS, axe_source  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots")
EDITOR_READY = "() => window.CKEDITOR?.instances.id_body?.status === 'ready'"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"revs-{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 0


def open_article(page: Page, live_server, article: Article) -> None:
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    page.wait_for_load_state("load")
    page.wait_for_function(EDITOR_READY)


def editor_data(page: Page) -> str:
    return page.evaluate("() => CKEDITOR.instances.id_body.getData()")


def test_typed_changes_are_autosaved_and_offered_back_after_closing_the_tab(
    page, live_server, new_context, monkeypatch
):
    monkeypatch.setattr(revision_views, "AUTOSAVE_SECONDS", 1)
    staff = make_staff()
    article = make_draft(title="Gentle cleansing", body="<p>Wash once a day.</p>")
    revisions.latest(article, user=staff)
    watcher = PageWatcher(page)
    log_in(page, live_server, staff)
    open_article(page, live_server, article)
    status = page.locator("#autosave-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text("")  # nothing changed, nothing sent

    page.locator("#id_title").fill("Gentle cleansing for dry skin")
    body = page.frame_locator("iframe.cke_wysiwyg_frame").locator("body")
    body.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type("Pat dry, then moisturise.")
    page.locator("#references-group .add-row a").click()
    page.locator("#id_references-0-title").fill("A cleanser trial")
    page.locator("#id_references-0-year").fill("2023")
    expect(status).to_contain_text("Saved a draft copy at")
    # A round may have caught part of the typing; the rest follows in the next.
    saved = None
    for _ in range(50):
        saved = Autosave.objects.filter(article=article, user=staff).first()
        if saved and saved.data.get("sources") and "Pat dry" in saved.data["body"]:
            break
        page.wait_for_timeout(200)
    assert saved is not None
    assert saved.data["title"] == "Gentle cleansing for dry skin"
    assert "Pat dry, then moisturise." in saved.data["body"]
    assert [(s["title"], s["year"]) for s in saved.data["sources"]] == [
        ("A cleanser trial", 2023)
    ]
    context = page.context
    page.close()

    # Nothing was saved for readers or as a revision.
    article.refresh_from_db()
    assert article.title == "Gentle cleansing"
    assert ArticleRevision.objects.filter(article=article).count() == 1

    again = context.new_page()
    again_watcher = PageWatcher(again)
    open_article(again, live_server, article)
    offer = again.locator("#autosave-offer")
    expect(offer).to_contain_text("You have unsaved changes from")
    expect(again.locator("#id_title")).to_have_value("Gentle cleansing")
    again.set_viewport_size(DESKTOP)
    shot(again, "restore-offer")
    offer.get_by_role("button", name="Restore them").click()
    expect(again.locator("#id_title")).to_have_value("Gentle cleansing for dry skin")
    again.wait_for_function(
        "() => CKEDITOR.instances.id_body.getData().includes('Pat dry')"
    )
    assert "Wash once a day." in editor_data(again)
    expect(again.locator("#id_references-0-title")).to_have_value("A cleanser trial")
    expect(again.locator("#id_references-0-year")).to_have_value("2023")
    expect(again.locator("#autosave-offer")).to_have_count(0)
    expect(again.locator("#autosave-status")).to_contain_text(
        "Restored your unsaved changes"
    )
    shot(again, "restored")
    assert watcher.errors == [] and watcher.violations == []
    assert again_watcher.errors == [] and again_watcher.violations == []


def test_discarding_the_offer_removes_the_autosave(page, live_server):
    staff = make_staff()
    article = make_draft(title="Sun care")
    revisions.latest(article, user=staff)
    autosave.autosave(
        article=article, user=staff, data={"title": "Sun care, typed", "body": ""}
    )
    log_in(page, live_server, staff)
    open_article(page, live_server, article)
    page.locator("#autosave-offer").get_by_role("link", name="Discard").click()
    expect(page.locator("#autosave-offer")).to_have_count(0)
    expect(page.locator("#autosave-status")).to_have_text(
        "Discarded your unsaved changes."
    )
    expect(page.locator("#id_title")).to_have_value("Sun care")
    assert not Autosave.objects.exists()


def test_the_comparison_page_shows_changes_side_by_side(page, live_server):
    staff = make_staff()
    article = make_article(
        title="Retinol basics",
        body="<h2>Start</h2><p>Start slowly, twice a week.</p><p>Always at night.</p>",
    )
    revisions.latest(article, user=staff)
    data = revisions.snapshot(article) | {
        "title": "Retinol, the basics",
        "body": "<h2>Start</h2><p>Start slowly, three times a week.</p>"
        "<p>Use sunscreen every morning.</p>",
        "sources": [{"title": "A retinoid trial", "publisher": "JAAD", "year": 2024}],
    }
    workflow.save_draft(article=article, data=data, user=staff, note="Clearer advice")
    log_in(page, live_server, staff)
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/revisions/")
    expect(page.locator("#revision-1")).to_contain_text("Live")
    expect(page.locator("#revision-2")).to_contain_text("Latest")
    shot(page, "revision-list")
    page.get_by_role("button", name="Compare the chosen revisions").click()
    expect(page.locator("h1")).to_contain_text("Revision 1 and revision 2")
    expect(page.locator(".diff-table ins").first).to_be_visible()
    expect(page.locator(".diff-table del").first).to_be_visible()
    shot(page, "diff")
    page.get_by_role("button", name="Restore revision 1 as a new draft").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "Readers still see the published version"
    )
    article.refresh_from_db()
    assert article.title == "Retinol basics"
    assert article.latest_revision.number == 3


def test_the_share_preview_page_has_no_accessibility_violations(
    live_server,
    new_context,
    axe_source,  # noqa: F811
):
    staff = make_staff()
    article = make_article(title="Live title")
    revisions.latest(article, user=staff)
    workflow.save_draft(
        article=article,
        data=revisions.snapshot(article) | {"title": "Draft title"},
        user=staff,
    )
    article.refresh_from_db()
    _, token = previews.create_preview_link(article=article, user=staff)
    page = new_context(bypass_csp=True).new_page()
    problems = {}
    for name, path in {
        "preview": f"/preview/{token}/",
        "invalid": "/preview/x/",
    }.items():
        page.goto(live_server.url + path)
        page.add_script_tag(content=axe_source)
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            AXE_TAGS,
        )
        violations = [v["id"] for v in result["violations"]]
        if violations:
            problems[name] = violations
    page.goto(f"{live_server.url}/preview/{token}/")
    expect(page.locator(".preview-banner")).to_contain_text(
        "Preview of an unpublished version"
    )
    expect(page.locator("h1")).to_have_text("Draft title")
    shot(page, "share-preview")
    assert problems == {}, json.dumps(problems)
