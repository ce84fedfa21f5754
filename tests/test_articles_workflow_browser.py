"""The editorial workflow end to end in Chromium: a writer submits a medical
article, a medical reviewer approves it, an editor publishes it, and readers see
who reviewed it. Each person uses the dashboard and the workflow panel.

Screenshots of the dashboard and the panel go to /tmp/shots/ for a person to
look at.
"""

import pytest
from playwright.sync_api import Page, expect

from articles import revisions, workflow
from articles.models import Article, Stage
from tests.browser_fixtures import ARTIFACTS_DIR, DESKTOP, log_in
from tests.factories import (
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BODY = (
    "<h2>What the trials found</h2><p>Adapalene gel cleared more spots than a "
    "placebo over twelve weeks [1].</p>"
)


def shoot(page: Page, name: str, locator=None) -> None:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"flow-{name}.png"
    (locator or page).screenshot(path=path, **({} if locator else {"full_page": True}))
    assert path.stat().st_size > 0


def written_by(writer) -> Article:
    """The writer's draft, saved as the change form saves it (a revision)."""
    article = Article(
        title="Adapalene for mild acne",
        summary="What the trials say about adapalene gel for mild acne, how to "
        "start it, and what to expect in the first weeks.",
        body=BODY,
        author=make_author(name="Sam Writer"),
        topic=make_topic(name="Acne", slug="acne", medical=True),
    )
    data = revisions.snapshot(
        article,
        sources=[
            {
                "title": "Adapalene 0.1% gel in acne vulgaris: a randomised trial",
                "publisher": "J Dermatol Treat",
                "year": 2019,
                "url": "https://example.org/adapalene-trial",
            }
        ],
    )
    workflow.save_draft(article=article, data=data, user=writer)
    return Article.objects.get(pk=article.pk)


def test_writer_reviewer_and_editor_take_a_medical_article_live(
    page, live_server, new_context
):
    writer = make_role_user("Writer", username="sam")
    reviewer = make_reviewer(username="rivera", credentials="MD, FAAD")
    editor = make_role_user("Editor", username="eddie")
    article = written_by(writer)
    change = f"{live_server.url}/admin/articles/article/{article.pk}/change/"

    # The writer finds the draft on the dashboard and submits it.
    log_in(page, live_server, writer)
    drafts = page.locator("#dashboard-my_drafts")
    drafts.get_by_role("link", name="Adapalene for mild acne").click()
    expect(page).to_have_url(change)
    panel = page.locator("#workflow")
    expect(panel.locator(".stage-badge")).to_have_text("Draft")
    expect(panel).to_contain_text("Not yet reviewed")
    expect(panel.locator("form[data-action]")).to_have_count(1)
    panel.get_by_label("Note for the reviewer (optional)").fill("Ready for review.")
    panel.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messagelist")).to_contain_text("Submitted for review.")
    expect(page.locator("#workflow .stage-badge")).to_have_text("In review")

    # The reviewer sees it waiting, and approves it.
    reviewer_page = new_context(viewport=DESKTOP).new_page()
    log_in(reviewer_page, live_server, reviewer)
    queue = reviewer_page.locator("#dashboard-review")
    expect(queue).to_contain_text("Adapalene for mild acne")
    shoot(reviewer_page, "dashboard-reviewer")
    queue.get_by_role("link", name="Adapalene for mild acne").click()
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
    expect(approved).to_contain_text("Adapalene for mild acne")
    shoot(editor_page, "dashboard-editor")
    approved.get_by_role("link", name="Adapalene for mild acne").click()
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
    visitor = new_context(viewport=DESKTOP).new_page()
    visitor.goto(f"{live_server.url}{article.get_absolute_url()}")
    expect(visitor.locator(".byline__review")).to_contain_text(
        "Medically reviewed by Dr Rivera, MD, FAAD"
    )


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
