"""The newsletter in Chromium: sign up in the footer, confirm from the email, leave.

Screenshots go to test-artifacts/ (gitignored) for a person to look at.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from newsletter import emails
from newsletter.models import Subscriber
from newsletter.subscribers import services
from tests.articles.test_browser import PageWatcher, screenshot
from tests.browser_fixtures import DESKTOP, PHONE
from tests.factories import make_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_visitor_signs_up_in_the_footer_confirms_from_the_email_then_unsubscribes(
    page, live_server, settings, mailoutbox, artifacts_dir
):
    settings.SITE_URL = live_server.url
    make_article(title="Retinol basics")
    watcher = PageWatcher(page)

    page.goto(live_server.url + "/")
    footer = page.locator("footer")
    expect(footer.get_by_role("heading", level=2)).to_have_text(
        "Get updated with beauty resources, tips, and news"
    )
    screenshot(page, artifacts_dir / "newsletter-footer-home-phone.png", PHONE)
    page.set_viewport_size(DESKTOP)
    footer.get_by_label("Email address").fill("ada@example.com")
    footer.get_by_label("First name (optional)").fill("Ada")
    footer.get_by_label(services.CONSENT_TEXT).check()
    footer.get_by_role("button", name="Subscribe").click()

    expect(page).to_have_url(f"{live_server.url}/newsletter/thanks/")
    expect(page.locator("h1")).to_have_text("Check your inbox")
    subscriber = Subscriber.objects.get()
    assert subscriber.consent_source == Subscriber.Source.FOOTER
    assert subscriber.consent_text == services.CONSENT_TEXT
    assert subscriber.status == Subscriber.Status.PENDING

    assert len(mailoutbox) == 1
    link = re.search(
        re.escape(live_server.url) + r"/newsletter/confirm/\S+/", mailoutbox[0].body
    ).group(0)
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Confirm your subscription")
    screenshot(page, artifacts_dir / "newsletter-confirm-desktop.png", DESKTOP)
    screenshot(page, artifacts_dir / "newsletter-confirm-phone.png", PHONE)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING  # opening is not enough

    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.locator("h1")).to_have_text("Thank you, you\u2019re subscribed")
    screenshot(page, artifacts_dir / "newsletter-confirmed-phone.png", PHONE)
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert subscriber.confirmed_ip == "127.0.0.1"

    page.goto(emails.subscriber_links(subscriber)["unsubscribe_url"])
    expect(page.locator("h1")).to_have_text("Unsubscribe from the newsletter")
    screenshot(page, artifacts_dir / "newsletter-unsubscribe-phone.png", PHONE)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You\u2019re unsubscribed")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.left_how == Subscriber.LeftHow.LINK
    expect(page.get_by_role("link", name="Sign up again")).to_have_attribute(
        "href", "/newsletter/"
    )

    assert watcher.errors == []
    assert watcher.violations == []
    assert watcher.foreign_urls(live_server.url) == []


def test_newsletter_page_shows_errors_next_to_fields_and_keeps_the_input(
    page, live_server, artifacts_dir
):
    watcher = PageWatcher(page)
    page.goto(f"{live_server.url}/newsletter/")
    expect(page.locator("h1")).to_have_text("The Skincare newsletter")
    screenshot(page, artifacts_dir / "newsletter-page-desktop.png", DESKTOP)
    screenshot(page, artifacts_dir / "newsletter-page-phone.png", PHONE)

    form = page.locator("#signup")
    # Valid for the browser, not for the server: the server's message shows.
    form.get_by_label("Email address").fill("ada@example")
    form.get_by_label("First name (optional)").fill("Ada")
    form.get_by_label(services.CONSENT_TEXT).check()
    form.get_by_role("button", name="Subscribe").click()

    email = page.locator("#signup").get_by_label("Email address")
    expect(email).to_have_value("ada@example")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(
        "Enter an email address like name@example.com."
    )
    expect(page.get_by_role("alert")).to_contain_text("Please check the form")
    expect(page).to_have_title(re.compile(r"^Error: "))
    screenshot(page, artifacts_dir / "newsletter-errors-phone.png", PHONE)
    assert not Subscriber.objects.exists()

    # The honeypot cannot be reached from the keyboard and is not on screen.
    honeypot = page.locator("input[name=website]")
    expect(honeypot).to_have_attribute("tabindex", "-1")
    box = honeypot.bounding_box()
    assert box is None or box["x"] + box["width"] <= 0

    assert watcher.errors == []
    assert watcher.violations == []


def test_data_page_and_archive_render_in_the_site_design(
    page, live_server, settings, artifacts_dir
):
    from django.utils import timezone

    settings.SITE_URL = live_server.url
    from newsletter.models import Issue, IssueArticle
    from tests.factories import make_subscriber

    subscriber = make_subscriber(email="ada@example.com", status="confirmed")
    now = timezone.now()
    issue = Issue.objects.create(
        subject="Sun care for winter",
        slug="sun-care-for-winter",
        preheader="Yes, you still need SPF.",
        body="<h2>Why SPF in winter</h2><p>UVA passes through clouds.</p>",
        status=Issue.Status.SENT,
        scheduled_at=now,
        send_started_at=now,
        sent_at=now,
    )
    IssueArticle.objects.create(issue=issue, article=make_article(title="SPF 101"))
    watcher = PageWatcher(page)

    page.goto(emails.subscriber_links(subscriber)["data_url"])
    expect(page.locator("h1")).to_have_text("Your data")
    screenshot(page, artifacts_dir / "newsletter-data-phone.png", PHONE)
    page.get_by_role("button", name="Delete my data").click()
    expect(page.get_by_role("status")).to_contain_text("we emailed a link")
    # Deleting takes the link emailed to the address.
    link = re.search(r"https?://\S+/delete/", mail.outbox[-1].body)[0]
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Delete your data?")
    screenshot(page, artifacts_dir / "newsletter-data-delete-phone.png", PHONE)
    page.get_by_role("button", name="Yes, delete everything").click()
    expect(page.locator("h1")).to_have_text("Your data is deleted")
    assert not Subscriber.objects.exists()

    page.goto(f"{live_server.url}/newsletter/archive/")
    page.get_by_role("link", name="Sun care for winter").click()
    expect(page.locator("h1")).to_have_text("Sun care for winter")
    expect(page.get_by_role("link", name="SPF 101")).to_be_visible()
    screenshot(page, artifacts_dir / "newsletter-archive-issue-desktop.png", DESKTOP)

    assert watcher.errors == []
    assert watcher.violations == []
