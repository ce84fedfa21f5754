"""End-to-end checks in Chromium: reading the site, and writing in the admin.

Screenshots go to test-artifacts/ (gitignored) for a person to look at.
"""

import io
import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from articles import launch
from articles.editorial import workflow
from articles.models import Article
from newsletter.models import Issue
from tests.browser_fixtures import DESKTOP, PHONE, log_in
from tests.factories import make_author, make_draft, make_staff, make_topic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTICLE_SLUG = "microneedling-benefits-keratosis-pilaris"


def launch_article(slug: str) -> launch.ParsedArticle:
    return next(a for a in launch.parse_seed() if a.spec.slug == slug)


class PageWatcher:
    """Console errors, uncaught exceptions, CSP violations and requested URLs."""

    def __init__(self, page: Page):
        self.errors: list[str] = []
        self.violations: list[str] = []
        self.urls: list[str] = []
        page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(msg.text),
        )
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", lambda request: self.urls.append(request.url))
        # Chromium also logs CSP violations to the console; this catches them
        # with their directive. The init script is not subject to the page's CSP.
        page.expose_function("reportCspViolation", self._add_violation)
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e =>"
            " window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI));"
        )

    def _add_violation(self, text: str) -> None:
        self.violations.append(text)

    def foreign_urls(self, origin: str) -> list[str]:
        own = urlsplit(origin)
        return [
            url
            for url in self.urls
            if (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
        ]


def screenshot(page: Page, path, viewport: dict) -> None:
    page.set_viewport_size(viewport)
    page.screenshot(path=path, full_page=True)
    assert path.is_file()
    assert path.stat().st_size > 0


def test_visitor_reads_a_launch_article(page, live_server, artifacts_dir):
    call_command("load_launch_content", stdout=io.StringIO())
    article = launch_article(ARTICLE_SLUG)
    watcher = PageWatcher(page)

    page.goto(live_server.url + "/")
    for parsed in launch.parse_seed():
        expect(page.get_by_role("link", name=parsed.title, exact=True)).to_be_visible()
    screenshot(page, artifacts_dir / "home-desktop.png", DESKTOP)
    screenshot(page, artifacts_dir / "home-phone.png", PHONE)

    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name=article.title, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/articles/{ARTICLE_SLUG}/")
    expect(page.locator("h1")).to_have_text(article.title)
    heading = article.spec.headings[0]
    expect(page.locator(".prose h2").filter(has_text=heading)).to_have_text(heading)
    paragraph = article.source_lines[article.source_lines.index(heading) + 1]
    expect(page.locator(".prose p").filter(has_text=paragraph)).to_have_text(paragraph)
    screenshot(page, artifacts_dir / "article-desktop.png", DESKTOP)
    screenshot(page, artifacts_dir / "article-phone.png", PHONE)

    assert watcher.errors == []
    assert watcher.violations == []
    assert watcher.urls, "no requests were recorded"
    assert watcher.foreign_urls(live_server.url) == []


# Consecutive paragraphs of the body: the space between them, and the font size.
PARAGRAPH_GAPS = """() => Array.from(document.querySelectorAll('.prose > p + p'))
  .map(p => ({
    gap: p.getBoundingClientRect().top
      - p.previousElementSibling.getBoundingClientRect().bottom,
    fontSize: parseFloat(getComputedStyle(p).fontSize),
  }))"""


def assert_paragraphs_apart(page: Page) -> int:
    """Every pair of consecutive paragraphs has at least 0.75em between them."""
    pairs = page.evaluate(PARAGRAPH_GAPS)
    for pair in pairs:
        assert pair["gap"] >= 0.75 * pair["fontSize"], (page.url, pair)
    return len(pairs)


def test_paragraphs_have_space_between_them_on_a_phone(
    page, live_server, artifacts_dir
):
    call_command("load_launch_content", stdout=io.StringIO())
    page.set_viewport_size(PHONE)
    pairs = 0
    for parsed in launch.parse_seed():
        page.goto(f"{live_server.url}/articles/{parsed.spec.slug}/")
        pairs += assert_paragraphs_apart(page)
    assert pairs > 0, "no launch article has two paragraphs in a row"

    now = timezone.now()
    Issue.objects.create(
        subject="Winter skin",
        slug="winter-skin",
        body="<p>Cold air dries the skin.</p><p>Heating dries it more.</p>"
        "<p>A thicker cream at night helps.</p>",
        status=Issue.Status.SENT,
        scheduled_at=now,
        send_started_at=now,
        sent_at=now,
    )
    page.goto(f"{live_server.url}/newsletter/archive/winter-skin/")
    assert assert_paragraphs_apart(page) == 2
    screenshot(page, artifacts_dir / "newsletter-issue-phone.png", PHONE)


def test_featured_cards_on_the_desktop_home_page_are_equally_tall(page, live_server):
    call_command("load_launch_content", stdout=io.StringIO())
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/")
    cards = page.locator(".grid--featured > .card")
    expect(cards).to_have_count(2)
    first, second = (cards.nth(i).bounding_box() for i in range(2))
    # Side by side, and the same height (their summaries differ in length).
    assert abs(first["y"] - second["y"]) < 1
    assert second["x"] > first["x"] + first["width"]
    assert abs(first["height"] - second["height"]) < 1, (first, second)


def test_first_tab_focuses_a_visible_skip_link(page, live_server):
    call_command("load_launch_content", stdout=io.StringIO())
    page.goto(f"{live_server.url}/articles/{ARTICLE_SLUG}/")

    page.keyboard.press("Tab")

    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()
    box = skip_link.bounding_box()
    viewport = page.viewport_size
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= viewport["width"]
    assert box["y"] + box["height"] <= viewport["height"]
    skip_link.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def png_file(tmp_path, size=(320, 200)):
    path = tmp_path / "serum.png"
    image = Image.new("RGB", size, (235, 214, 196))
    for x in range(size[0] // 4, size[0] * 3 // 4):
        for y in range(size[1] // 4, size[1] * 3 // 4):
            image.putpixel((x, y), (160, 90, 70))
    image.save(path, format="PNG")
    return path


def test_staff_writes_an_article_with_an_uploaded_image(
    page, live_server, artifacts_dir, tmp_path
):
    staff = make_staff()
    author = make_author(name="Dr Ada Lovelace")
    topic = make_topic(name="Moisturisers")
    watcher = PageWatcher(page)
    log_in(page, live_server, staff)

    page.goto(f"{live_server.url}/admin/articles/article/")
    page.get_by_role("link", name="Add article").click()
    expect(page).to_have_url(f"{live_server.url}/admin/articles/article/add/")
    # Type only once the page's scripts (prepopulate, CKEditor) are all set up.
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => window.CKEDITOR?.instances.id_body?.status === 'ready'"
    )

    page.locator("#id_title").press_sequentially("Barrier Repair: A Gentle Start")
    expect(page.locator("#id_slug")).to_have_value("barrier-repair-a-gentle-start")
    page.locator("#id_summary").fill("How to calm a stressed skin barrier.")
    page.locator("#id_author").select_option(label=str(author))
    page.locator("#id_topic").select_option(label=str(topic))

    body_text = "Start with a fragrance-free moisturiser twice a day."
    page.frame_locator("iframe.cke_wysiwyg_frame").locator("body").click()
    page.keyboard.type(body_text)
    page.keyboard.press("Enter")

    page.locator("a.cke_button__image").click()
    dialog = page.locator(".cke_dialog").filter(visible=True)
    dialog.locator(".cke_dialog_tab", has_text="Upload").click()
    upload_frame = dialog.frame_locator("iframe.cke_dialog_ui_input_file")
    upload_frame.locator("input[type=file]").set_input_files(png_file(tmp_path))
    dialog.get_by_role("button", name="Send it to the Server").click()
    image_info = dialog.get_by_role("tabpanel", name="Image Info")
    url_field = image_info.get_by_role("textbox", name="URL", exact=True)
    expect(url_field).to_have_value(re.compile(r"^/media/uploads/\d+/.+\.png$"))
    image_info.get_by_role("textbox", name="Alternative Text").fill(
        "A jar of moisturiser"
    )
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_hidden()
    editor_image = page.frame_locator("iframe.cke_wysiwyg_frame").locator("img")
    expect(editor_image).to_have_attribute("alt", "A jar of moisturiser")

    screenshot(page, artifacts_dir / "admin-article-form.png", DESKTOP)
    page.locator("input[name=_save]").last.click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    # Saved as a draft; publishing is a workflow action.
    article = Article.objects.get(slug="barrier-repair-a-gentle-start")
    assert not article.is_live
    workflow.publish(article=article, user=staff, override_reason="Short summary")
    article.refresh_from_db()
    assert article.is_live

    page.goto(f"{live_server.url}/articles/{article.slug}/")
    expect(page.locator("h1")).to_have_text("Barrier Repair: A Gentle Start")
    expect(page.locator(".prose")).to_contain_text(body_text)
    image = page.locator(".prose img")
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("src", re.compile(r"^/media/uploads/"))
    expect(image).to_have_attribute("alt", "A jar of moisturiser")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.naturalWidth") == 320

    # Admin, editor, upload dialog and public page: nothing blocked or broken.
    assert watcher.errors == []
    assert watcher.violations == []
    assert watcher.foreign_urls(live_server.url) == []


def test_staff_previews_a_draft_that_the_public_cannot_see(
    page, live_server, new_context
):
    staff = make_staff()
    draft = make_draft(title="Sunscreen Layering, Draft")
    log_in(page, live_server, staff)

    page.goto(f"{live_server.url}/admin/articles/article/{draft.pk}/change/")
    object_tools = page.locator(".object-tools")
    object_tools.get_by_role("link", name="Preview", exact=True).click()
    expect(page).to_have_url(
        f"{live_server.url}/admin/articles/article/{draft.pk}/preview/"
    )
    expect(page.locator(".preview-banner")).to_contain_text("Draft")
    expect(page.locator("h1")).to_have_text("Sunscreen Layering, Draft")

    visitor = new_context().new_page()
    response = visitor.goto(f"{live_server.url}{draft.get_absolute_url()}")
    assert response is not None
    assert response.status == 404
    expect(visitor.locator("body")).not_to_contain_text("Sunscreen Layering")
