"""Editing without traps, clicked through in Chromium as a writer and an editor:
the cover image survives a form error, writers see no editor-only control, and
the labels say what readers see. Screenshots go to /work/notes/shots/editing/."""

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from articles import selectors
from articles.editorial import revisions, workflow
from articles.models import Article, Stage
from tests.browser_fixtures import log_in
from tests.factories import (
    image_bytes,
    make_article,
    make_author,
    make_role_user,
    make_topic,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/notes/shots/editing")


def shot(page, name: str, locator=None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if locator is None:
        page.screenshot(path=SHOTS / name, full_page=True)
    else:
        locator.screenshot(path=SHOTS / name)


def test_a_writers_cover_image_survives_a_form_error(page, live_server, tmp_path):
    writer = make_role_user("Writer")
    author = make_author(name="Dr Ada Lovelace")
    topic = make_topic(name="Sun care")
    picture = tmp_path / "sunscreen.png"
    picture.write_bytes(image_bytes(size=(320, 200)))
    log_in(page, live_server, writer)
    page.goto(f"{live_server.url}/admin/articles/article/add/")
    page.wait_for_function(
        "() => window.CKEDITOR?.instances.id_body?.status === 'ready'"
    )
    # Writers are not offered what only editors may do.
    expect(page.locator("#id_featured")).to_have_count(0)
    page.locator("#id_title").fill("Sunscreen, every day")
    page.locator("#id_summary").fill("Why a daily sunscreen matters.")
    page.evaluate(
        "CKEDITOR.instances.id_body.setData('<p>Apply it every morning.</p>')"
    )
    page.locator("#id_author").select_option(label=str(author))
    page.locator("#id_topic").select_option(label=str(topic))
    page.locator("#id_cover_image").set_input_files(picture)
    page.locator("input[name=_save]").last.click()

    # Refused: no alt text. The image is kept and shown as chosen.
    expect(page.locator(".errornote")).to_be_visible()
    held = page.locator(".held-cover")
    expect(held).to_contain_text("Chosen: sunscreen.png")
    thumbnail = held.locator("img")
    page.wait_for_function(
        "() => document.querySelector('.held-cover img').naturalWidth === 320"
    )
    expect(page.get_by_label("Remove the chosen image")).not_to_be_checked()
    shot(page, "writer-held-cover-after-error.png", page.locator("fieldset", has=held))
    assert thumbnail.get_attribute("alt") == ""

    page.locator("#id_cover_image_alt").fill("A tube of sunscreen on a towel.")
    page.locator("input[name=_save]").last.click()
    expect(page.locator(".messagelist")).to_contain_text("Saved as revision 1")
    article = Article.objects.get(title="Sunscreen, every day")
    assert article.cover_image.name.startswith("covers/")
    assert article.cover_image_width == 320
    expect(page.get_by_role("link", name="Share a preview")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    expect(page.locator(".field-cover_image")).to_contain_text("covers/")
    shot(page, "writer-change-form.png")


def test_an_editor_sees_what_readers_see_in_the_list_and_the_panel(page, live_server):
    editor = make_role_user("Editor")
    corrected = make_article(
        title="Retinoids, the basics",
        stage=Stage.LIVE,
        summary="A summary long enough to pass the content checks, for sure yes.",
    )
    workflow.save_draft(
        article=corrected,
        data={**revisions.snapshot(corrected), "body": "<p>Corrected text.</p>"},
        user=editor,
    )
    workflow.publish(
        article=corrected,
        user=editor,
        correction="The dose was wrong.",
        override_reason="Test content",
    )
    workflow.save_draft(
        article=corrected,
        data={**revisions.snapshot(corrected), "title": "Retinoids, basics"},
        user=editor,
    )
    in_review = make_article(title="Vitamin C serums", stage=Stage.LIVE)
    workflow.save_draft(
        article=in_review,
        data={**revisions.snapshot(in_review), "title": "Vitamin C serums, again"},
        user=editor,
    )
    Article.objects.filter(pk=in_review.pk).update(stage=Stage.IN_REVIEW)
    scheduled = make_article(
        title="Winter skin",
        stage=Stage.SCHEDULED,
        published_at=timezone.now() + timezone.timedelta(days=3),
    )
    log_in(page, live_server, editor)

    page.goto(f"{live_server.url}/admin/articles/article/")
    stages = page.locator("td.field-stage_column")
    expect(stages.filter(has_text="Live · changes in draft")).to_have_count(1)
    expect(stages.filter(has_text="Live · changes in review")).to_have_count(1)
    expect(stages.filter(has_text=re.compile(r"^Scheduled for \d"))).to_have_count(1)
    shot(page, "editor-article-list.png")

    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#content-main")).to_contain_text("Live · changes in review")
    shot(page, "editor-dashboard.png")

    page.goto(f"{live_server.url}/admin/articles/article/{corrected.pk}/change/")
    panel = page.locator("#workflow")
    expect(panel.locator(".stage-badge")).to_have_text("Live · changes in draft")
    corrected.refresh_from_db()
    since = timezone.localtime(selectors.live_since(corrected))
    first = timezone.localtime(corrected.published_at)
    expect(panel).to_contain_text(
        f"This version live since {since.day} {since:%b %Y, %H:%M}"
    )
    expect(panel).to_contain_text(f"First published {first.day} {first:%b %Y, %H:%M}")
    expect(page.locator("#id_featured")).to_have_count(1)
    expect(page.get_by_role("link", name="Share a preview")).to_have_count(1)
    shot(page, "editor-panel-labels.png", panel)
    assert scheduled.pk
