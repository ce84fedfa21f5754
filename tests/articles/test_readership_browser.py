"""Readership counts in Chromium: the cached article page counts each view once,
by where the reader came from (a search engine, the newsletter's click link), sends
no cookie, and still reads with JavaScript off; the admin's charts as staff see
them (screenshots in test-artifacts/)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from articles.models import DailyReadership
from newsletter.issues import clicks
from tests.browser_fixtures import DESKTOP, PHONE, log_in
from tests.factories import make_article, make_issue, make_role_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A desktop Chrome's: headless Chromium's own says HeadlessChrome, a robot's.
READER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def is_beacon(response) -> bool:
    return response.url.endswith("/readership/view/")


def read(page, url: str, **goto) -> None:
    """Open the page and wait for its beacon's answer."""
    with page.expect_response(is_beacon) as answer:
        page.goto(url, **goto)
    assert answer.value.status == 204
    assert answer.value.request.headers.get("cookie") is None


def views() -> dict[str, int]:
    return dict(DailyReadership.objects.values_list("source", "views"))


def test_each_view_of_the_cached_page_counts_once_by_source(
    new_context, live_server, settings
):
    settings.SITE_URL = live_server.url
    article = make_article(title="Retinoids, slowly")
    url = live_server.url + article.get_absolute_url()
    context = new_context(user_agent=READER)
    page = context.new_page()
    served = []
    page.on(
        "response",
        lambda r: r.url == url and served.append(r.headers.get("cache-control", "")),
    )

    read(page, url)
    read(page, url)
    assert views() == {"direct": 2}
    # The second view was the page cache's (public, for CDNs too), never the view's.
    assert all("public" in header for header in served)

    read(page, url, referer="https://www.google.com/")
    assert views() == {"direct": 2, "search": 1}

    issue = make_issue()
    token = clicks.make_token(issue_id=issue.pk, url=url)
    click = live_server.url + reverse("newsletter:click", kwargs={"token": token})
    read(page, click)
    assert views() == {"direct": 2, "search": 1, "newsletter": 1}
    # The mark is taken off the address: a link copied from it is not the
    # newsletter's.
    assert page.url == url
    assert not context.cookies()


def test_a_headless_browser_is_not_counted(new_context, live_server):
    article = make_article()
    page = new_context().new_page()  # HeadlessChrome's own User-Agent
    read(page, live_server.url + article.get_absolute_url())
    assert not DailyReadership.objects.exists()


def test_the_article_reads_with_javascript_off_and_counts_nothing(
    new_context, live_server
):
    article = make_article(title="Sunscreen under make-up")
    page = new_context(user_agent=READER, java_script_enabled=False).new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server.url + article.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text(article.title)
    expect(page.get_by_text(article.summary)).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert not [url for url in requests if "readership" in url]
    assert not DailyReadership.objects.exists()


def test_staff_see_the_charts(new_context, live_server, artifacts_dir):
    article = make_article(title="Retinoids, slowly")
    reader = new_context(user_agent=READER).new_page()
    for referer in ("", "https://www.bing.com/", "https://t.co/", "https://a.example/"):
        read(reader, live_server.url + article.get_absolute_url(), referer=referer)
    editor = make_role_user("Editor")
    page = new_context().new_page()
    log_in(page, live_server, editor)
    page.goto(live_server.url + reverse("admin:articles_article_readership"))
    expect(
        page.get_by_role("img", name="Views of every article per day")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Retinoids, slowly")).to_be_visible()
    page.screenshot(path=artifacts_dir / "readership-site-desktop.png", full_page=True)
    page.get_by_role("link", name="Retinoids, slowly").click()
    chart = page.get_by_role("img", name="Views of this article per day")
    expect(chart).to_be_visible()
    expect(page.locator(".days-chart .summary")).to_contain_text("4 views from")
    page.get_by_text("The numbers, day by day").click()
    page.screenshot(
        path=artifacts_dir / "readership-article-desktop.png", full_page=True
    )
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts_dir / "readership-article-phone.png", full_page=True)
    # Nothing on the page is wider than the phone's screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
