"""A one-word fix to a live medical article, edit -> review -> publish, in
Chromium: the writer corrects it and submits it, the reviewer reads the change
word by word and approves it, the editor publishes it, each in at most three
clicks from landing on the dashboard (typing not counted; selecting the word to
retype is counted). Readers then see the fix.

Screenshots of the reviewer's dashboard and the review page go to
test-artifacts/correction-*.png for a person to look at."""

import pytest
from playwright.sync_api import Locator, Page, expect

from articles.editorial import revisions, workflow
from articles.models import Article, Stage
from tests.browser_fixtures import ARTIFACTS_DIR, DESKTOP, log_in
from tests.factories import make_author, make_reviewer, make_role_user, make_topic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "Adapalene for mild acne"
SUMMARY = (
    "What the trials say about adapalene gel for mild acne, how to start it, and "
    "what to expect in the first weeks."
)
TYPO, FIX = "claered", "cleared"
BODY = (
    "<h2>What the trials found</h2>"
    f"<p>Adapalene gel {TYPO} more spots than a placebo over twelve weeks [1].</p>"
)
MOST_CLICKS = 3
EDITOR_READY = "() => window.CKEDITOR?.instances.id_body?.status === 'ready'"
# Where a word is drawn in the editor's frame (its middle, in the frame's
# coordinates), for a person's double-click on it.
WORD_POSITION = """(body, word) => {
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + word.length);
    const box = range.getBoundingClientRect();
    return {x: box.x + box.width / 2, y: box.y + box.height / 2};
  }
  return null;
}"""


class Person:
    """One person's page, counting the clicks they make."""

    def __init__(self, page: Page):
        self.page = page
        self.clicks = 0

    def click(self, locator: Locator) -> None:
        self.clicks += 1
        locator.click()

    def double_click_word(self, frame: Locator, word: str) -> None:
        """A double-click on `word` in the editor, which selects it."""
        frame.scroll_into_view_if_needed()
        box = frame.bounding_box()
        spot = (
            self.page.frame_locator("iframe.cke_wysiwyg_frame")
            .locator("body")
            .evaluate(WORD_POSITION, word)
        )
        assert box is not None and spot is not None, f"{word!r} not in the editor"
        self.clicks += 1
        self.page.mouse.dblclick(box["x"] + spot["x"], box["y"] + spot["y"])


def shoot(page: Page, name: str) -> None:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"correction-{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 0


def live_medical_article(writer, reviewer, editor) -> Article:
    article = Article(
        title=TITLE,
        summary=SUMMARY,
        body=BODY,
        evidence="moderate",
        author=make_author(name="Sam Writer"),
        topic=make_topic(name="Acne", slug="acne", medical=True),
    )
    data = revisions.snapshot(
        article,
        sources=[{"title": "Adapalene gel trial", "url": "https://example.org/t"}],
    )
    workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    workflow.publish(article=article, user=editor)
    return Article.objects.get(pk=article.pk)


def test_a_one_word_fix_takes_at_most_three_clicks_per_person(
    page, live_server, new_context
):
    writer = make_role_user("Writer", username="sam")
    reviewer = make_reviewer(username="rivera", credentials="MD, FAAD")
    editor = make_role_user("Editor", username="eddie")
    article = live_medical_article(writer, reviewer, editor)
    assert article.is_live and TYPO in article.body

    # The writer: from the dashboard to the article, the word fixed, submitted.
    log_in(page, live_server, writer)
    sam = Person(page)
    sam.click(page.locator("#dashboard-my_published").get_by_role("link", name=TITLE))
    page.wait_for_load_state("load")
    page.wait_for_function(EDITOR_READY)
    sam.double_click_word(page.locator("iframe.cke_wysiwyg_frame"), TYPO)
    page.keyboard.type(FIX)
    body = page.evaluate("() => CKEDITOR.instances.id_body.getData()")
    assert f"gel {FIX} more spots" in body and TYPO not in body
    sam.click(page.get_by_role("button", name="Save and submit for review").first)
    expect(page.locator(".messagelist")).to_contain_text(
        "Saved as revision 2 and submitted for review"
    )
    expect(page.locator("#workflow .stage-badge")).to_have_text(
        "Live · changes in review"
    )
    assert sam.clicks <= MOST_CLICKS

    # The reviewer: the change word by word, then Approve.
    reviewer_page = new_context(viewport=DESKTOP).new_page()
    log_in(reviewer_page, live_server, reviewer)
    rivera = Person(reviewer_page)
    row = reviewer_page.locator("#dashboard-review tr", has_text=TITLE)
    expect(
        row.get_by_role("button", name="Approve revision 2")
    ).to_have_accessible_description(f"“{TITLE}”")
    shoot(reviewer_page, "dashboard-reviewer")
    rivera.click(row.get_by_role("link", name="Review changes"))
    changes = reviewer_page.locator(".review-body")
    expect(changes.locator("del")).to_have_text([TYPO])
    expect(changes.locator("ins")).to_have_text([FIX])
    expect(reviewer_page.locator("#review-compared")).to_contain_text(
        "compared with revision 1, the last revision a medical reviewer approved"
    )
    shoot(reviewer_page, "review-page")
    rivera.click(reviewer_page.get_by_role("button", name="Approve revision 2"))
    expect(reviewer_page.locator(".messagelist")).to_contain_text(
        "Approved revision 2 as Dr Rivera, MD, FAAD."
    )
    assert rivera.clicks <= MOST_CLICKS

    # The editor: Publish, from the dashboard.
    editor_page = new_context(viewport=DESKTOP).new_page()
    log_in(editor_page, live_server, editor)
    eddie = Person(editor_page)
    approved = editor_page.locator("#dashboard-approved tr", has_text=TITLE)
    eddie.click(approved.get_by_role("button", name="Publish revision 2"))
    expect(editor_page.locator(".messagelist")).to_contain_text(
        "Published: readers see this version now."
    )
    shoot(editor_page, "dashboard-editor-after")
    assert eddie.clicks <= MOST_CLICKS

    assert (sam.clicks, rivera.clicks, eddie.clicks) == (3, 2, 1)
    article.refresh_from_db()
    assert article.stage == Stage.LIVE and article.live_revision.number == 2

    # Readers see the fix, still reviewed.
    visitor = new_context(viewport=DESKTOP).new_page()
    visitor.goto(f"{live_server.url}{article.get_absolute_url()}")
    expect(visitor.locator(".prose")).to_contain_text(f"Adapalene gel {FIX} more")
    expect(visitor.locator(".prose")).not_to_contain_text(TYPO)
    expect(visitor.locator(".byline__review")).to_contain_text(
        "Medically reviewed by Dr Rivera, MD, FAAD"
    )


def test_the_reviewer_approves_from_the_dashboard_in_one_click(
    page, live_server, new_context
):
    writer = make_role_user("Writer", username="sam")
    reviewer = make_reviewer(username="rivera", credentials="MD, FAAD")
    editor = make_role_user("Editor", username="eddie")
    article = live_medical_article(writer, reviewer, editor)
    data = {**article.latest_revision.data, "body": BODY.replace(TYPO, FIX)}
    workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=article, user=writer)

    log_in(page, live_server, reviewer)
    rivera = Person(page)
    row = page.locator("#dashboard-review tr", has_text=TITLE)
    rivera.click(row.get_by_role("button", name="Approve revision 2"))

    expect(page.locator(".messagelist")).to_contain_text("Approved revision 2")
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("#dashboard-approved")).to_have_count(0)  # not an editor
    expect(page.locator("#dashboard-review")).not_to_contain_text(TITLE)
    assert rivera.clicks == 1
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED
