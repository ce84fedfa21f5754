"""Clicks on issue links: counted per link through a signed redirect, for everyone
together, never per reader."""

import re
import threading
from html import unescape

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.sanitize import sanitize_html
from newsletter import emails
from newsletter.issues import clicks
from newsletter.models import Issue, IssueArticle, LinkClick
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import make_article, make_issue, make_listed_subscriber

pytestmark = pytest.mark.django_db

CLICK_PREFIX = f"{settings.SITE_URL}/newsletter/c/"
BODY = (
    '<p>Read <a href="https://example.org/study?a=1&amp;b=2">the study</a> and '
    '<a href="/articles/">our articles</a>, or '
    '<a href="mailto:hello@example.com">write to us</a>. '
    'Again: <a href="https://example.org/study?a=1&amp;b=2">the same study</a>.</p>'
)


def sent_issue(**fields) -> Issue:
    fields.setdefault("body", sanitize_html(html=BODY))
    return make_issue(status=Issue.Status.SENT, **fields)


def click_tokens(part: str) -> list[str]:
    return re.findall(re.escape(CLICK_PREFIX) + r"([^/\s\"]+)/", part)


def destinations(part: str) -> list[str]:
    return [clicks.read_token(unescape(token))[1] for token in click_tokens(part)]


def sign(payload: object) -> str:
    return signing.Signer(salt=clicks.SALT).sign_object(payload)


def click_path(issue: Issue, url: str) -> str:
    token = clicks.make_token(issue_id=issue.pk, url=url)
    return reverse("newsletter:click", kwargs={"token": token})


# Rewriting ------------------------------------------------------------------------


def test_links_in_both_parts_of_an_issue_go_through_the_counter():
    article = make_article(title="Retinoids, the basics")
    issue = sent_issue()
    IssueArticle.objects.create(issue=issue, article=article, position=1)
    rendered = emails.rendered_issue(issue)

    study = "https://example.org/study?a=1&b=2"
    articles = f"{settings.SITE_URL}/articles/"
    article_url = f"{settings.SITE_URL}{article.get_absolute_url()}"
    archive = f"{settings.SITE_URL}{issue.get_absolute_url()}"
    for part in (rendered.html, rendered.text):
        found = set(destinations(part))
        assert {study, articles, article_url, archive} <= found
    # No direct link to a destination is left in the HTML.
    assert 'href="https://example.org' not in rendered.html
    assert f'href="{articles}"' not in rendered.html
    assert f'href="{article_url}"' not in rendered.html
    assert "mailto:hello@example.com" in rendered.html  # not a web link: as it was
    assert f"({study})" not in rendered.text
    assert f"\n{article_url}\n" not in rendered.text


def test_each_link_is_signed_once_per_issue_not_per_recipient(monkeypatch):
    issue = sent_issue()
    readers = [make_listed_subscriber() for _ in range(3)]
    signed = []
    real = clicks.make_token

    def counting(**kwargs):
        signed.append(kwargs["url"])
        return real(**kwargs)

    monkeypatch.setattr(clicks, "make_token", counting)
    rendered = emails.rendered_issue(issue)
    messages = [
        emails.issue_message(rendered=emails.rendered_issue(issue), subscriber=reader)
        for reader in readers
    ]
    assert len(signed) == len(set(signed))  # the study, linked twice, signed once
    assert "https://example.org/study?a=1&b=2" in signed
    # Every reader gets the very same click links: nothing in them is personal.
    links = {tuple(click_tokens(m.alternatives[0][0])) for m in messages}
    assert links == {tuple(click_tokens(rendered.html))}


def test_unsubscribe_and_data_links_are_left_as_they_are():
    issue = sent_issue()
    reader = make_listed_subscriber()
    message = emails.issue_message(
        rendered=emails.rendered_issue(issue), subscriber=reader
    )
    html, text = message.alternatives[0][0], message.body
    personal = emails.subscriber_links(reader, issue=issue)
    for url in personal.values():
        assert f'href="{url}"' in html and url in text
    assert message.extra_headers["List-Unsubscribe"] == (
        f"<{personal['unsubscribe_url']}>"
    )
    assert personal["unsubscribe_url"] not in destinations(html)


def test_the_newsletters_own_personal_pages_are_never_counted():
    site = settings.SITE_URL
    token = "abc:def"
    for name in ("unsubscribe", "confirm", "data"):
        url = site + reverse(f"newsletter:{name}", kwargs={"token": token})
        assert not clicks.is_countable(url)
    assert not clicks.is_countable(f"{site}/newsletter/preferences/abc/")
    assert not clicks.is_countable("javascript:alert(1)")
    assert not clicks.is_countable("https://example.org/" + "x" * 2000)
    assert clicks.is_countable(site + reverse("newsletter:archive"))
    assert clicks.is_countable("https://example.org/")


def test_a_staff_test_email_links_directly():
    issue = sent_issue()
    message = emails.test_issue_message(issue=issue, to="editor@example.com")
    assert CLICK_PREFIX not in message.body
    assert CLICK_PREFIX not in message.alternatives[0][0]
    assert 'href="https://example.org/study?a=1&amp;b=2"' in message.alternatives[0][0]


def test_the_web_archive_copy_links_directly(client):
    issue = sent_issue()
    page = client.get(issue.get_absolute_url())
    assert page.status_code == 200
    assert 'href="https://example.org/study?a=1&amp;b=2"' in page.text
    assert "/newsletter/c/" not in page.text


# The redirect ---------------------------------------------------------------------


def test_a_click_redirects_and_counts_without_cookie_or_identity(client):
    issue = sent_issue()
    url = "https://example.org/study?a=1&b=2"
    path = click_path(issue, url)

    first = client.get(path)
    second = client.get(path)

    for response in (first, second):
        assert response.status_code == 302
        assert response["Location"] == url
        assert response["Cache-Control"] == "private, no-store"
        assert response["Referrer-Policy"] == "no-referrer"
        assert not response.cookies
    link = LinkClick.objects.get()
    assert (link.issue, link.url, link.clicks) == (issue, url, 2)
    assert link.first_at <= link.last_at


def test_a_link_checkers_head_request_is_not_counted(client):
    issue = sent_issue()
    response = client.head(click_path(issue, "https://example.org/"))
    assert response.status_code == 302
    assert response["Location"] == "https://example.org/"
    assert not LinkClick.objects.exists()


def test_forged_or_altered_click_links_are_404_never_a_redirect(client):
    issue = sent_issue()
    good = clicks.make_token(issue_id=issue.pk, url="https://example.org/")
    signature = good.rpartition(":")[2]
    reader = make_listed_subscriber()
    forged = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # signature altered
        sign(  # the payload changed, the old signature kept
            {"i": issue.pk, "u": "https://evil.example/"}
        ).rpartition(":")[0]
        + ":"
        + signature,
        signing.Signer(salt="other").sign_object(
            {"i": issue.pk, "u": "https://evil.example/"}
        ),
        make_token(subscriber=reader, purpose=Purpose.UNSUBSCRIBE),
        # Signed with our key and salt, but not a web address.
        sign({"i": issue.pk, "u": "javascript:alert(1)"}),
        sign({"i": True, "u": "https://example.org/"}),
        sign(["https://example.org/"]),
        # Signed with the salt, but as a timed token of another kind would be.
        signing.dumps({"i": issue.pk, "u": "https://evil.example/"}, salt=clicks.SALT),
        "not-a-token",
    ]
    for token in forged:
        path = reverse("newsletter:click", kwargs={"token": token})
        response = client.get(path)
        assert response.status_code == 404, token
        assert "Location" not in response
    assert not LinkClick.objects.exists()


def test_a_click_for_an_issue_since_deleted_still_reaches_the_page(client):
    issue = make_issue()
    path = click_path(issue, "https://example.org/")
    issue.delete()
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "https://example.org/"
    assert not LinkClick.objects.exists()


# Nothing about the reader ---------------------------------------------------------


def test_no_subscriber_identity_is_stored_or_carried():
    issue = sent_issue()
    reader = make_listed_subscriber(first_name="Ada")
    message = emails.issue_message(
        rendered=emails.rendered_issue(issue), subscriber=reader
    )
    tokens = click_tokens(message.alternatives[0][0]) + click_tokens(message.body)
    assert tokens
    for token in tokens:
        payload = signing.Signer(salt=clicks.SALT).unsign_object(unescape(token))
        assert set(payload) == {"i", "u"}
        assert payload["i"] == issue.pk
        assert reader.email not in payload["u"] and "Ada" not in payload["u"]

    clicks.count_click(issue_id=issue.pk, url="https://example.org/")
    columns = {f.column for f in LinkClick._meta.get_fields() if f.concrete}
    assert columns == {"id", "issue_id", "url", "clicks", "first_at", "last_at"}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {LinkClick._meta.db_table}")
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    stored = dict(zip(names, row, strict=True))
    assert set(stored) == columns
    assert reader.email not in str(stored.values()) and "127.0.0.1" not in str(
        stored.values()
    )


def test_a_click_changes_nothing_about_any_subscriber(client):
    issue = sent_issue()
    reader = make_listed_subscriber()
    before = list(reader.__class__.objects.values())
    events = reader.events.count()
    client.get(click_path(issue, "https://example.org/"))
    assert list(reader.__class__.objects.values()) == before
    assert reader.events.count() == events


# Counting under concurrency ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_simultaneous_clicks_on_a_new_link_are_all_counted():
    issue = make_issue(status=Issue.Status.SENT)
    threads_count, each = 6, 5
    start = threading.Barrier(threads_count)
    errors = []

    def click_many() -> None:
        try:
            start.wait()
            for _ in range(each):
                clicks.count_click(issue_id=issue.pk, url="https://example.org/new")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click_many) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    link = LinkClick.objects.get()
    assert link.clicks == threads_count * each


def test_a_repeat_click_takes_one_query():
    issue = sent_issue()
    clicks.count_click(issue_id=issue.pk, url="https://example.org/")
    with CaptureQueriesContext(connection) as queries:
        clicks.count_click(issue_id=issue.pk, url="https://example.org/")
    assert len(queries) == 1
    assert LinkClick.objects.get().clicks == 2


# Staff see the counts ---------------------------------------------------------------


def add_clicks(issue: Issue, url: str, times: int) -> None:
    for _ in range(times):
        clicks.count_click(issue_id=issue.pk, url=url)


def test_the_issue_admin_page_lists_links_by_clicks_with_the_total(staff_client):
    issue = sent_issue()
    add_clicks(issue, "https://example.org/few", 2)
    add_clicks(issue, "https://example.org/most", 7)
    add_clicks(issue, "https://example.org/some", 3)
    add_clicks(make_issue(status=Issue.Status.SENT), "https://example.org/other", 5)

    response = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    )

    panel = response.text.split('id="issue-link-clicks"', 1)[1].split("</section>")[0]
    rows = re.findall(
        r'<a href="([^"]+)"[^>]*>[^<]*</a></td><td class="clicks">(\d+)', panel
    )
    assert rows == [
        ("https://example.org/most", "7"),
        ("https://example.org/some", "3"),
        ("https://example.org/few", "2"),
    ]
    assert re.search(r'All links</th><td class="clicks">12<', panel)
    assert "who clicked is never recorded" in panel


def test_a_sent_issue_without_clicks_says_so_and_a_draft_has_no_panel(staff_client):
    sent = sent_issue()
    page = staff_client.get(reverse("admin:newsletter_issue_change", args=[sent.pk]))
    assert 'id="issue-link-clicks"' in page.text and "No clicks yet." in page.text
    draft = make_issue()
    page = staff_client.get(reverse("admin:newsletter_issue_change", args=[draft.pk]))
    assert 'id="issue-link-clicks"' not in page.text


def test_the_click_panel_takes_the_same_queries_for_many_links(
    staff_client, django_assert_max_num_queries
):
    issue = sent_issue()
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    add_clicks(issue, "https://example.org/0", 1)
    staff_client.get(url)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for n in range(1, 30):
        add_clicks(issue, f"https://example.org/{n}", 1)
    with django_assert_max_num_queries(len(few)):
        response = staff_client.get(url)
    assert response.text.count('<td class="link-url">') == 30


def test_robots_are_asked_not_to_follow_click_links(client):
    issue = sent_issue()
    assert "Disallow: /newsletter/c/" in client.get("/robots.txt").text.splitlines()
    response = client.get(click_path(issue, "https://example.org/"))
    assert response["X-Robots-Tag"] == "noindex"
