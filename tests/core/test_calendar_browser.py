"""The editorial calendar in Chromium, as a writer uses it: the month, a day's
"+ K more" to the week, moving a planned date with the date input and the Move
button (no script needed), the feed address made once; on a phone too.
Screenshots go to test-artifacts/calendar-*.png."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from articles.models import Article
from tests.browser_fixtures import DESKTOP, PHONE, log_in
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_draft,
    make_issue,
    make_role_user,
    make_topic,
)
from tests.skincare.test_page_quality_browser import (  # noqa: F401
    axe_source,
    axe_violations,
    browser_session,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_writer_moves_a_planned_date_from_the_calendar(
    page, new_context, live_server, artifacts_dir
):
    today = timezone.localdate()
    writer = make_role_user("Writer")
    other = make_role_user("Writer", username="other-writer")
    topic = make_topic(name="Sun care")
    mine = make_draft(
        title="Sunscreen under make-up",
        planned_for=today,
        created_by=writer,
        topic=topic,
    )
    for n in range(8):
        make_draft(title=f"Someone's plan {n}", planned_for=today, created_by=other)
    make_issue(
        subject="December issue",
        status="scheduled",
        scheduled_at=timezone.now() + timedelta(days=1),
        approved=True,
    )
    log_in(page, live_server, writer)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Editorial calendar").click()
    expect(page.locator("h1")).to_contain_text(f"{today:%B %Y}")
    page.screenshot(path=artifacts_dir / "calendar-month.png", full_page=True)

    cell = page.locator(f"#day-{today.isoformat()}")
    cell.get_by_role("link", name="more").click()
    expect(page.locator("h1")).to_contain_text("Week of")
    page.screenshot(path=artifacts_dir / "calendar-week.png", full_page=True)

    entry = page.locator(".calendar-entry", has_text="Sunscreen under make-up")
    entry.locator("summary").click()
    target = today + timedelta(days=2)
    entry.get_by_label("New date").fill(target.isoformat())
    page.screenshot(path=artifacts_dir / "calendar-move.png", full_page=False)
    entry.get_by_role("button", name="Move").click()
    expect(page.locator(".messagelist")).to_contain_text("is planned for")
    assert Article.objects.get(pk=mine.pk).planned_for == target
    # Only their own draft has a Move button.
    assert page.locator(".calendar-move").count() == 1

    # The same session on a phone (a code is good for one sign-in only).
    phone = new_context(
        viewport=PHONE, storage_state=page.context.storage_state()
    ).new_page()
    phone.goto(f"{live_server.url}/admin/calendar/")
    expect(phone.locator(".calendar-month")).to_be_visible()
    phone.screenshot(path=artifacts_dir / "calendar-phone.png", full_page=False)

    page.goto(f"{live_server.url}/admin/calendar/feed/")
    page.get_by_role("button", name="Make my feed address").click()
    address = page.get_by_label("Your new feed address", exact=False)
    assert address.input_value().startswith(f"{live_server.url}/calendar/")
    page.screenshot(path=artifacts_dir / "calendar-feed.png", full_page=True)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_calendar_pages_have_no_accessibility_violations(
    live_server,
    new_context,
    axe_source,  # noqa: F811
    viewport,
):
    today = timezone.localdate()
    writer = make_role_user("Writer")
    make_draft(title="Own plan", planned_for=today, created_by=writer)
    for n in range(7):
        make_draft(title=f"Plan {n}", planned_for=today)
    make_article(title="Due", review_due=today)
    make_issue(
        subject="Send",
        status="scheduled",
        scheduled_at=timezone.now() + timedelta(hours=1),
        approved=True,
    )
    client = VerifiedClient()
    client.force_login(writer)
    context = new_context(viewport=viewport, bypass_csp=True)
    browser_session(context, live_server, client)
    page = context.new_page()
    problems = {}
    for name, path in {
        "month": "/admin/calendar/",
        "week": "/admin/calendar/?view=week",
        "feed": "/admin/calendar/feed/",
    }.items():
        page.goto(live_server.url + path)
        if name == "week":
            page.locator(".calendar-move summary").first.click()
        violations = axe_violations(page, axe_source, name)
        if violations:
            problems[name] = violations
    assert problems == {}, json.dumps(problems, indent=2)
