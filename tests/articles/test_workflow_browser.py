"""The editorial workflow end to end in Chromium: a writer writes a medical
article in the admin's form and submits it, a medical reviewer approves it, an
editor publishes it, and readers see who reviewed it, on a desktop and on a phone.
Each person uses the admin as a person does: the dashboard, the change form (with
CKEditor) and the workflow panel.

Screenshots of the add form, the dashboards, the panel and the public page go to
test-artifacts/flow-*.png for a person to look at.
"""

import json
import re

import pytest
from playwright.sync_api import Page, expect

from articles.editorial import content_checks, revisions, workflow
from articles.models import Article, Stage
from tests.browser_fixtures import ARTIFACTS_DIR, DESKTOP, PHONE, log_in
from tests.factories import (
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TITLE = "Adapalene for mild acne"
SUMMARY = (
    "What the trials say about adapalene gel for mild acne, how to start it, and "
    "what to expect in the first weeks."
)
HEADING = "What the trials found"
PARAGRAPH = "Adapalene gel cleared more spots than a placebo over twelve weeks [1]."
BODY = f"<h2>{HEADING}</h2><p>{PARAGRAPH}</p>"
SOURCE = {
    "title": "Adapalene 0.1% gel in acne vulgaris: a randomised trial",
    "publisher": "J Dermatol Treat",
    "year": 2019,
    "url": "https://example.org/adapalene-trial",
}
EDITOR_READY = "() => window.CKEDITOR?.instances.id_body?.status === 'ready'"


def shoot(page: Page, name: str, locator=None) -> None:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"flow-{name}.png"
    (locator or page).screenshot(path=path, **({} if locator else {"full_page": True}))
    assert path.stat().st_size > 0


def json_ld_nodes(page: Page) -> list[dict]:
    """Every node of the page's JSON-LD blocks (a block's @graph, or the block)."""
    texts = page.locator('script[type="application/ld+json"]').all_text_contents()
    blocks = [json.loads(text) for text in texts]
    return [node for block in blocks for node in block.get("@graph", [block])]


def write_in_the_add_form(page: Page, live_server) -> None:
    """The writer opens "Add article" from the admin's home and fills the form as
    a person does: typing, choosing from the lists, the editor's Format menu."""
    page.goto(f"{live_server.url}/admin/")
    page.locator("tr.model-article").get_by_role("link", name="Articles").click()
    page.get_by_role("link", name="Add article").click()
    expect(page).to_have_url(f"{live_server.url}/admin/articles/article/add/")
    # Type only once the page's scripts (prepopulate, CKEditor) are all set up.
    page.wait_for_load_state("load")
    page.wait_for_function(EDITOR_READY)

    page.get_by_label("Title:", exact=True).press_sequentially(TITLE)
    expect(page.locator("#id_slug")).to_have_value("adapalene-for-mild-acne")
    page.get_by_label("Summary:", exact=True).fill(SUMMARY)
    page.get_by_label("Author:", exact=True).select_option(label="Sam Writer")
    page.get_by_label("Topic:", exact=True).select_option(label="Acne")

    editable = page.frame_locator("iframe.cke_wysiwyg_frame").locator("body")
    editable.click()
    page.locator(".cke_combo__format .cke_combo_button").click()
    page.frame_locator("iframe.cke_panel_frame").get_by_title("Heading 2").click()
    block_format = page.locator(".cke_combo__format .cke_combo_text")
    expect(block_format).to_have_text("Heading 2")
    page.keyboard.type(HEADING)
    page.keyboard.press("Enter")
    expect(block_format).to_have_text("Normal")
    page.keyboard.type(PARAGRAPH)
    expect(editable.locator("h2")).to_have_text(HEADING)
    expect(editable.locator("p")).to_have_text(PARAGRAPH)

    page.locator("#references-group").get_by_role(
        "button", name="Add another source"
    ).click()
    expect(page.locator("#id_references-0-position")).to_have_value("1")
    page.locator("#id_references-0-title").fill(SOURCE["title"])
    page.locator("#id_references-0-url").fill(SOURCE["url"])
    page.get_by_label("Evidence label:", exact=True).select_option(label="Moderate")
    shoot(page, "add-form")


def test_writer_reviewer_and_editor_take_a_medical_article_live(
    page, live_server, new_context
):
    writer = make_role_user("Writer", username="sam")
    reviewer = make_reviewer(username="rivera", credentials="MD, FAAD")
    editor = make_role_user("Editor", username="eddie")
    make_author(name="Sam Writer")
    make_topic(name="Acne", slug="acne", medical=True)
    make_topic(name="Sunscreen", slug="sunscreen")  # Acne is picked, not the only one

    # The writer writes the article in the add form, saves it, and submits it.
    log_in(page, live_server, writer)
    write_in_the_add_form(page, live_server)
    page.get_by_role("button", name="Save and continue editing").first.click()
    messages = page.locator(".messagelist")
    expect(messages).to_contain_text("Saved as revision 1.")
    article = Article.objects.get(slug="adapalene-for-mild-acne")
    change = f"{live_server.url}/admin/articles/article/{article.pk}/change/"
    expect(page).to_have_url(change)
    panel = page.locator("#workflow")
    expect(panel.locator(".stage-badge")).to_have_text("Draft")
    expect(panel).to_contain_text("Not yet reviewed")
    # Every check on what the writer wrote passes; only the medical approval,
    # which a reviewer gives later, is missing.
    checks = panel.locator(".checklist__item[data-check]")
    expect(checks).to_have_count(len(content_checks.run({}, medical=True)))
    expect(panel.locator(".checklist__item--fail[data-check]")).to_have_count(0)
    expect(panel.locator(".checklist__item--fail")).to_have_text(
        re.compile("A medical reviewer approved this version")
    )
    shoot(page, "panel-writer", panel)
    data = article.latest_revision.data
    assert article.created_by == writer and article.evidence == "moderate"
    assert [(s["title"], s["url"]) for s in data["sources"]] == [
        (SOURCE["title"], SOURCE["url"])
    ]
    assert re.sub(r">\s+<", "><", data["body"].strip()) == BODY
    expect(panel.locator("form[data-action]")).to_have_count(1)
    panel.get_by_label("Note for the reviewer (optional)").fill("Ready for review.")
    panel.get_by_role("button", name="Submit for review").click()
    expect(messages).to_contain_text("Submitted for review.")
    expect(page.locator("#workflow .stage-badge")).to_have_text("In review")

    # The reviewer sees it waiting, and approves it.
    reviewer_page = new_context(viewport=DESKTOP).new_page()
    log_in(reviewer_page, live_server, reviewer)
    queue = reviewer_page.locator("#dashboard-review")
    expect(queue).to_contain_text(TITLE)
    shoot(reviewer_page, "dashboard-reviewer")
    queue.get_by_role("link", name=TITLE).click()
    expect(reviewer_page).to_have_url(change)
    panel = reviewer_page.locator("#workflow")
    expect(panel.locator(".checklist__item--fail")).to_have_count(1)
    expect(panel.locator(".checklist__item--fail")).to_contain_text(
        "A medical reviewer approved this version"
    )
    shoot(reviewer_page, "panel-reviewer", panel)
    panel.get_by_label("Note (optional)").fill("Accurate and balanced.")
    panel.get_by_role("button", name="Approve revision 1").click()
    expect(reviewer_page.locator(".messagelist")).to_contain_text(
        "Approved revision 1 as Dr Rivera, MD, FAAD."
    )
    expect(reviewer_page.locator("#workflow")).to_contain_text(
        "Approved by Dr Rivera, MD, FAAD for revision 1"
    )

    # The editor sees it approved, checks pass, and publishes it.
    editor_page = new_context(viewport=DESKTOP).new_page()
    log_in(editor_page, live_server, editor)
    approved = editor_page.locator("#dashboard-approved")
    expect(approved).to_contain_text(TITLE)
    shoot(editor_page, "dashboard-editor")
    approved.get_by_role("link", name=TITLE).click()
    panel = editor_page.locator("#workflow")
    expect(panel.locator(".checklist__item--fail")).to_have_count(0)
    expect(
        panel.get_by_label("Reason to publish despite failing checks")
    ).to_have_count(0)
    shoot(editor_page, "panel-editor", panel)
    panel.get_by_role("button", name="Publish or schedule").click()
    expect(editor_page.locator(".messagelist")).to_contain_text("Published")
    expect(editor_page.locator("#workflow .stage-badge")).to_have_text("Live")
    history = editor_page.locator("#workflow-history")
    expect(history.locator("tbody tr")).to_have_count(4)
    expect(history).to_contain_text("Accurate and balanced.")
    shoot(editor_page, "change-page-editor")

    article.refresh_from_db()
    assert article.stage == Stage.LIVE and article.is_live

    # A reader, not signed in, sees the reviewed article with its evidence label,
    # the citation linked to its source, and the review in the structured data.
    visitor = new_context(viewport=DESKTOP).new_page()
    visitor.goto(f"{live_server.url}{article.get_absolute_url()}")
    expect(visitor.locator("h1")).to_have_text(TITLE)
    expect(visitor.locator(".byline__review")).to_contain_text(
        "Medically reviewed by Dr Rivera, MD, FAAD"
    )
    expect(visitor.locator(".evidence-label")).to_contain_text("Evidence: Moderate")
    expect(visitor.locator(".prose h2")).to_have_text(HEADING)
    citation = visitor.locator(".prose a.cite")
    expect(citation).to_have_count(1)
    expect(citation).to_have_text("1")
    expect(citation).to_have_attribute("href", "#source-1")
    source = visitor.locator("#source-1")
    expect(source.get_by_role("link", name=SOURCE["title"])).to_have_attribute(
        "href", SOURCE["url"]
    )
    shoot(visitor, "public-page")
    citation.click()
    expect(visitor).to_have_url(re.compile("#source-1$"))
    expect(source).to_be_in_viewport()
    web_page = next(
        node for node in json_ld_nodes(visitor) if node["@type"] == "MedicalWebPage"
    )
    assert web_page["reviewedBy"]["name"] == "Dr Rivera"
    assert web_page["reviewedBy"]["jobTitle"] == "MD, FAAD"


def reviewed_and_live(*, writer, reviewer, editor, extra_body: str = "") -> Article:
    """A medical article taken live through the workflow's services: written,
    submitted, approved by the reviewer and published."""
    article = Article(
        title=TITLE,
        summary=SUMMARY,
        body=BODY + extra_body,
        evidence="moderate",
        author=make_author(name="Sam Writer"),
        topic=make_topic(name="Acne", slug="acne", medical=True),
    )
    data = revisions.snapshot(article, sources=[SOURCE])
    workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    workflow.publish(article=article, user=editor)
    return Article.objects.get(pk=article.pk)


def test_a_reviewed_article_fits_a_phone_screen_with_its_review_line_in_view(
    page, live_server, new_context
):
    article = reviewed_and_live(
        writer=make_role_user("Writer", username="sam"),
        reviewer=make_reviewer(username="rivera", credentials="MD, FAAD"),
        editor=make_role_user("Editor", username="eddie"),
        # A pasted address with no place to break must not widen the page.
        extra_body="<p>See https://example.org/" + "x" * 120 + "</p>",
    )
    assert article.is_live and article.reviewer is not None
    phone = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"{live_server.url}{article.get_absolute_url()}")
    review = phone.locator(".byline__review")
    expect(review).to_contain_text("Medically reviewed by Dr Rivera, MD, FAAD")
    expect(review).to_be_visible()
    expect(review).to_be_in_viewport()
    box = review.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shoot(phone, "public-page-phone")
    scroll_width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"scrolls sideways: {scroll_width}px"


def test_an_editor_publishes_despite_a_failing_check_with_a_reason(page, live_server):
    editor = make_role_user("Editor", username="eddie")
    article = make_draft(title="Sunscreen in winter", summary="Yes, still.")
    log_in(page, live_server, editor)
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    panel = page.locator("#workflow")
    failing = panel.locator(".checklist__item--fail")
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text("The summary has 11 characters")
    shoot(page, "panel-override", panel)

    panel.get_by_role("button", name="Publish or schedule").click()
    # The browser asks for the reason before sending anything (the server would
    # refuse, and what was typed beside it would be lost).
    reason = panel.get_by_label("Reason to publish despite failing checks")
    assert reason.evaluate("field => field.validity.valueMissing")
    expect(page.locator(".messagelist")).to_have_count(0)
    expect(page.locator("#workflow .stage-badge")).to_have_text("Draft")

    reason.fill("A short answer is the point of this one.")
    page.locator("#workflow").get_by_role("button", name="Publish or schedule").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Published")
    expect(page.locator("#workflow-history tbody tr").first).to_contain_text(
        "Reason: A short answer is the point of this one."
    )
