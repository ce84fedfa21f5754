"""axe-core run in Chromium on the admin pages staff use, holding real data, as on
the public pages (tests/skincare/test_page_quality_browser.py). The pages are
those the Nu Html Checker reads (ADMIN_PAGES in test_admin_validity.py); the
sign-in and second-factor pages are checked in test_page_quality_browser.py."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser_fixtures import DESKTOP, PHONE
from tests.conftest import VerifiedClient
from tests.skincare.test_admin_validity import (
    ADMIN_PAGES,
    WORKFLOW_CONFIRMATIONS,
    admin_data,
    change,
)
from tests.skincare.test_page_quality_browser import (  # noqa: F401
    axe_source,
    axe_violations,
    browser_session,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_admin_pages_have_no_accessibility_violations(
    live_server,
    new_context,
    axe_source,  # noqa: F811
    viewport,
    artifacts_dir,
):
    data = admin_data()
    staff = VerifiedClient()
    staff.force_login(data.owner)
    # axe is injected as a script, which our strict CSP would rightly refuse.
    context = new_context(viewport=viewport, bypass_csp=True)
    browser_session(context, live_server, staff)
    page = context.new_page()
    problems = {}

    def check(name: str) -> None:
        violations = axe_violations(page, axe_source, name)
        if violations:
            problems[name] = violations

    for name, build in ADMIN_PAGES.items():
        response = page.goto(live_server.url + build(data))
        assert response.status == 200, name
        check(name)
    # The page after each workflow button: its own change page, with the message.
    for name, (article, action) in WORKFLOW_CONFIRMATIONS.items():
        page.goto(live_server.url + change("articles_article", article(data)))
        page.locator(f'form[data-action="{action}"] button[type="submit"]').click()
        expect(page.locator("ul.messagelist li.success")).to_be_visible()
        check(name)
    # Kept for CI's artefacts: every page's violations, to compare runs.
    report = artifacts_dir / f"axe-admin-{viewport['width']}.json"
    report.write_text(json.dumps(problems, indent=2))
    assert problems == {}, json.dumps(problems, indent=2)
