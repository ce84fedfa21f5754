"""axe-core (from the npm registry) run in Chromium on every kind of public page."""

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from newsletter.models import Subscriber
from newsletter.tokens import Purpose, make_token
from tests.browser_fixtures import DESKTOP, PHONE
from tests.factories import make_subscriber, make_topic
from tests.test_page_validity import trust_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "page_quality/node_modules/axe-core/axe.min.js"
AXE_HINT = (
    "axe-core is not installed: run `make test` (it runs npm ci in tests/page_quality)"
)
# WCAG 2.0, 2.1 and 2.2 A and AA, plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture
def axe_source() -> str:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(AXE_HINT, pytrace=False)
        pytest.skip(AXE_HINT)
    return AXE.read_text()


def public_pages() -> dict[str, str]:
    call_command("load_launch_content", stdout=io.StringIO())
    return {
        "home": reverse("articles:home"),
        "list": reverse("articles:list"),
        "article": "/articles/microneedling-benefits-keratosis-pilaris/",
        # Citations, sources with back links, evidence, review and a correction.
        "article-reviewed-with-sources": trust_article().get_absolute_url(),
        "editorial-policy": reverse("articles:editorial_policy"),
        "topic": "/topics/keratosis-pilaris/",
        "topics": reverse("articles:topics"),
        "search": reverse("articles:search") + "?q=chicken+skin",
        "search-empty": reverse("articles:search") + "?q=zzzz",
        "author": "/authors/editorial-team/",
        "newsletter": reverse("newsletter:subscribe"),
        "archive": reverse("newsletter:archive"),
        "404": "/no-such-page/",
    }


def axe_violations(page, axe_source: str, name: str) -> list[dict]:
    """axe's violations on the page as it is now (after a navigation or a form)."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    assert result["passes"], f"axe checked nothing on {name}"
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_public_pages_have_no_accessibility_violations(
    live_server, new_context, axe_source, viewport
):
    # axe is injected as a script, which our strict CSP would rightly refuse.
    page = new_context(viewport=viewport, bypass_csp=True).new_page()
    problems = {}
    for name, path in public_pages().items():
        page.goto(live_server.url + path)
        violations = axe_violations(page, axe_source, name)
        if violations:
            problems[name] = violations
    assert problems == {}, json.dumps(problems, indent=2)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_preference_pages_have_no_accessibility_violations(
    live_server, new_context, axe_source, viewport
):
    """The form, each state after a button, an error, a bad link, and the sign-up
    form's topics unfolded."""
    for name in ("Acne", "Eczema", "Sun care", "Keratosis pilaris"):
        make_topic(name=name)
    subscriber = make_subscriber(status=Subscriber.Status.CONFIRMED)
    token = make_token(subscriber=subscriber, purpose=Purpose.PREFERENCES)
    url = live_server.url + reverse("newsletter:preferences", kwargs={"token": token})
    page = new_context(viewport=viewport, bypass_csp=True).new_page()
    problems = {}

    def check(name: str) -> None:
        violations = axe_violations(page, axe_source, name)
        if violations:
            problems[name] = violations

    page.goto(url)
    check("preferences-form")
    page.get_by_label("Acne").check()
    page.get_by_label("A monthly digest").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    check("preferences-saved")
    page.get_by_role("button", name="Pause for a month").click()
    expect(page.get_by_role("status")).to_contain_text("Paused.")
    check("preferences-paused")
    # A choice the form never offers: the page shows what to fix.
    page.evaluate(
        "document.querySelector('input[value=\"monthly_digest\"]').value = 'x'"
    )
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check the form")
    check("preferences-error")
    page.goto(live_server.url + "/newsletter/preferences/not-a-real-token/")
    check("preferences-bad-link")
    page.goto(live_server.url + reverse("newsletter:subscribe"))
    page.get_by_text("Choose topics (optional)").click()
    expect(page.get_by_label("Eczema")).to_be_visible()
    check("newsletter-topics-open")
    assert problems == {}, json.dumps(problems, indent=2)


def test_axe_harness_reports_a_known_violation(new_context, axe_source):
    page = new_context(bypass_csp=True).new_page()
    page.set_content('<html><body><main><img src="x.png"></main></body></html>')
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    assert "image-alt" in {v["id"] for v in result["violations"]}
