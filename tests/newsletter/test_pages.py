"""Pages behind the links in emails (confirm, unsubscribe, data) and the archive."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Issue, IssueArticle, Subscriber, SubscriberEvent
from newsletter.subscribers import services, subscriptions
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import make_article, make_draft, make_issue, make_subscriber

pytestmark = pytest.mark.django_db

Kind = SubscriberEvent.Kind
Status = Subscriber.Status


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def url(name: str, subscriber: Subscriber, purpose: Purpose) -> str:
    token = make_token(subscriber=subscriber, purpose=purpose)
    return reverse(f"newsletter:{name}", kwargs={"token": token})


def confirm_url(subscriber):
    return url("confirm", subscriber, Purpose.CONFIRM)


def unsubscribe_url(subscriber):
    return url("unsubscribe", subscriber, Purpose.UNSUBSCRIBE)


def data_url(subscriber):
    return url("data", subscriber, Purpose.DATA)


class FrozenTime:
    """Stands in for the time module inside django.core.signing."""

    def __init__(self, at: float):
        self.at = at

    def time(self) -> float:
        return self.at


def expired_confirm_url(subscriber, monkeypatch, settings) -> str:
    days = settings.NEWSLETTER_CONFIRM_MAX_AGE_DAYS + 1
    past = (timezone.now() - timedelta(days=days)).timestamp()
    with monkeypatch.context() as patch:
        patch.setattr(signing, "time", FrozenTime(past))
        return confirm_url(subscriber)


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.headings: list[int] = []
        self.forms: list[dict] = []
        self.buttons: list[str] = []
        self.hrefs: list[str] = []
        self.inputs: list[dict] = []
        self.metas: list[dict] = []
        self._in_button = False

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "form":
            self.forms.append(attributes)
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")
        elif tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"])
        elif tag == "input":
            self.inputs.append(attributes)
        elif tag == "meta":
            self.metas.append(attributes)

    def handle_data(self, data):
        if self._in_button:
            self.buttons[-1] += data

    def handle_endtag(self, tag):
        if tag == "button":
            self._in_button = False
            self.buttons[-1] = " ".join(self.buttons[-1].split())


def page_of(response) -> Page:
    parser = Page()
    parser.feed(response.content.decode())
    return parser


def assert_private(response) -> None:
    """A personal page: not cached anywhere, not indexed."""
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex">' in response.text


def post_form(client, path, data=None, **extra):
    """POST as the page's own form would: with the CSRF token it carries."""
    data = dict(data or {})
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    data["csrfmiddlewaretoken"] = token.group(1)
    return client.post(path, data, **extra)


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


# Confirming ------------------------------------------------------------------------


def test_opening_the_confirm_link_shows_a_button_and_does_not_confirm(client):
    subscriber = make_subscriber(email="ada@example.com")
    path = confirm_url(subscriber)

    response = client.get(path)

    assert response.status_code == 200
    page = page_of(response)
    assert page.buttons.count("Confirm my subscription") == 1
    confirm_form = next(f for f in page.forms if f.get("action") == path)
    assert confirm_form["method"] == "post"
    assert "ada@example.com" in response.text
    assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.status == Status.PENDING
    assert subscriber.confirmed_at is None
    assert not subscriber.events.filter(kind=Kind.CONFIRMED).exists()


def test_pressing_confirm_confirms_and_records_when_and_from_where(csrf_client):
    subscriber = make_subscriber()
    path = confirm_url(subscriber)
    before = timezone.now()

    response = post_form(csrf_client, path, REMOTE_ADDR="192.0.2.44")

    assert response.status_code == 200
    assert "Thank you, you&rsquo;re subscribed" in response.text
    assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.status == Status.CONFIRMED
    assert before <= subscriber.confirmed_at <= timezone.now()
    assert subscriber.confirmed_ip == "192.0.2.44"
    event = subscriber.events.get(kind=Kind.CONFIRMED)
    assert event.ip == "192.0.2.44"


def test_confirm_button_needs_the_csrf_token(csrf_client):
    subscriber = make_subscriber()
    assert csrf_client.post(confirm_url(subscriber)).status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.status == Status.PENDING


def test_confirming_twice_says_already_subscribed_and_keeps_the_first_time(client):
    subscriber = make_subscriber()
    path = confirm_url(subscriber)
    client.post(path)
    subscriber.refresh_from_db()
    first = subscriber.confirmed_at

    again = client.post(path)
    opened_later = client.get(path)

    assert "already subscribed" in again.text
    assert "already subscribed" in opened_later.text
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at == first
    assert subscriber.events.filter(kind=Kind.CONFIRMED).count() == 1


def test_an_old_confirm_link_cannot_resubscribe_someone_who_left(client):
    subscriber = make_subscriber(status="unsubscribed")
    path = confirm_url(subscriber)
    assert "This link no longer works" in client.get(path).text
    response = client.post(path)
    assert "This link no longer works" in response.text
    assert reverse("newsletter:subscribe") in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.UNSUBSCRIBED


def test_expired_confirm_link_says_so_and_offers_a_new_one(
    client, monkeypatch, settings
):
    subscriber = make_subscriber(email="ada@example.com")
    path = expired_confirm_url(subscriber, monkeypatch, settings)

    response = client.get(path)

    assert response.status_code == 200
    assert "<h1>This link has expired</h1>" in response.text
    page = page_of(response)
    resend = reverse("newsletter:confirm_resend", kwargs={"token": path.split("/")[-2]})
    assert {"method": "post", "action": resend, "class": "actions"} in page.forms
    assert "Send me a new link" in page.buttons
    assert_private(response)
    # Pressing an expired link's button does not confirm either.
    assert "This link has expired" in client.post(path).text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.PENDING


def test_new_link_from_the_expired_page_is_emailed_and_confirms(
    client, monkeypatch, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "http://testserver"
    subscriber = make_subscriber(email="ada@example.com")
    expired = expired_confirm_url(subscriber, monkeypatch, settings)
    resend = expired.rstrip("/") + "/resend/"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend)

    assert response.status_code == 302
    assert response["Location"] == reverse("newsletter:check_inbox")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ada@example.com"]
    fresh = re.search(
        r"http://testserver(/newsletter/confirm/\S+/)", mailoutbox[0].body
    )
    assert fresh.group(1) != expired
    assert "Confirm my subscription" in client.get(fresh.group(1)).text
    client.post(fresh.group(1))
    subscriber.refresh_from_db()
    assert subscriber.status == Status.CONFIRMED


def test_new_link_is_refused_after_three_confirmation_emails_in_a_day(
    client, monkeypatch, settings, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    for _ in range(3):
        services.request_confirmation(subscriber=subscriber)
    resend = expired_confirm_url(subscriber, monkeypatch, settings) + "resend/"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend)

    assert response.status_code == 200
    assert "<h1>Please try again tomorrow</h1>" in response.text
    assert "at most 3 confirmation emails a day" in response.text
    assert mailoutbox == []


def test_opening_the_resend_address_sends_nothing(client, mailoutbox, settings):
    subscriber = make_subscriber()
    resend = reverse(
        "newsletter:confirm_resend",
        kwargs={"token": make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)},
    )
    response = client.get(resend)
    assert response.status_code == 302
    assert subscriber.events.count() == 0


# Links that do not work ------------------------------------------------------------


def wrong_links(subscriber) -> dict[str, str]:
    confirm_token = make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)
    unsub_token = make_token(subscriber=subscriber, purpose=Purpose.UNSUBSCRIBE)
    data_token = make_token(subscriber=subscriber, purpose=Purpose.DATA)
    return {
        "unsubscribe token at confirm": reverse(
            "newsletter:confirm", kwargs={"token": unsub_token}
        ),
        "data token at confirm": reverse(
            "newsletter:confirm", kwargs={"token": data_token}
        ),
        "confirm token at unsubscribe": reverse(
            "newsletter:unsubscribe", kwargs={"token": confirm_token}
        ),
        "confirm token at data": reverse(
            "newsletter:data", kwargs={"token": confirm_token}
        ),
        "unsubscribe token at resend": reverse(
            "newsletter:confirm_resend", kwargs={"token": unsub_token}
        ),
        "tampered token": reverse(
            "newsletter:confirm", kwargs={"token": confirm_token[:-2] + "xx"}
        ),
        "made-up token": reverse("newsletter:unsubscribe", kwargs={"token": "abc"}),
    }


def test_a_token_for_another_purpose_or_tampered_is_not_valid(client):
    subscriber = make_subscriber()
    for name, path in wrong_links(subscriber).items():
        for method in (client.get, client.post):
            response = method(path)
            assert response.status_code == 404, (name, method)
            assert "<h1>This link is not valid</h1>" in response.text, name
            assert 'class="site-header"' in response.text
            assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.status == Status.PENDING
    assert subscriber.events.count() == 0


def test_a_link_for_a_changed_address_is_not_valid(client):
    subscriber = make_subscriber(email="old@example.com")
    path = unsubscribe_url(subscriber)
    Subscriber.objects.filter(pk=subscriber.pk).update(email="new@example.com")
    assert client.get(path).status_code == 404


# Unsubscribing ---------------------------------------------------------------------


def test_opening_the_unsubscribe_link_shows_a_button_and_changes_nothing(client):
    subscriber = make_subscriber(email="ada@example.com", status="confirmed")
    path = unsubscribe_url(subscriber)

    response = client.get(path)

    assert response.status_code == 200
    page = page_of(response)
    assert "Unsubscribe" in page.buttons
    assert {"method": "post", "action": path, "class": "actions"} in page.forms
    assert "ada@example.com" in response.text
    assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.status == Status.CONFIRMED


def test_unsubscribe_button_unsubscribes_at_once_without_a_csrf_token(csrf_client):
    subscriber = make_subscriber(status="confirmed")
    before = timezone.now()

    response = csrf_client.post(unsubscribe_url(subscriber), REMOTE_ADDR="192.0.2.5")

    assert response.status_code == 200
    assert "<h1>You&rsquo;re unsubscribed</h1>" in response.text
    assert_private(response)
    subscriber.refresh_from_db()
    assert subscriber.status == Status.UNSUBSCRIBED
    assert subscriber.left_how == Subscriber.LeftHow.LINK
    assert before <= subscriber.left_at <= timezone.now()
    assert subscriber.events.get(kind=Kind.UNSUBSCRIBED).ip == "192.0.2.5"


def test_one_click_unsubscribe_post_from_a_mail_provider_works_without_csrf(
    csrf_client,
):
    subscriber = make_subscriber(status="confirmed")

    response = csrf_client.post(
        unsubscribe_url(subscriber),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Status.UNSUBSCRIBED
    assert subscriber.left_how == Subscriber.LeftHow.ONE_CLICK
    assert subscriber.left_at is not None


def test_unsubscribed_page_links_to_signing_up_again_and_to_their_data(client):
    subscriber = make_subscriber(status="confirmed")
    response = client.post(unsubscribe_url(subscriber))
    hrefs = page_of(response).hrefs
    assert reverse("newsletter:subscribe") in hrefs
    data_links = [h for h in hrefs if h.startswith("/newsletter/data/")]
    assert len(data_links) == 1
    assert client.get(data_links[0]).status_code == 200


def test_unsubscribing_twice_keeps_the_first_time(client):
    subscriber = make_subscriber(status="confirmed")
    path = unsubscribe_url(subscriber)
    client.post(path)
    subscriber.refresh_from_db()
    first = subscriber.left_at

    again = client.post(path)
    opened_later = client.get(path)

    assert "You&rsquo;re unsubscribed" in again.text
    assert "You&rsquo;re unsubscribed" in opened_later.text
    subscriber.refresh_from_db()
    assert subscriber.left_at == first
    assert subscriber.events.filter(kind=Kind.UNSUBSCRIBED).count() == 1


# Data requests ---------------------------------------------------------------------


def test_data_page_explains_and_offers_a_copy_or_deletion(client):
    subscriber = make_subscriber(email="ada@example.com", status="confirmed")
    response = client.get(data_url(subscriber))
    assert response.status_code == 200
    page = page_of(response)
    # No footer sign-up: the reader reached this page from their subscription.
    assert page.buttons == ["Search", "Email me my data", "Delete my data"]
    actions = [i["value"] for i in page.inputs if i.get("name") == "action"]
    assert actions == ["export", "delete"]
    assert "ada@example.com" in response.text
    assert_private(response)


def test_data_export_emails_everything_held_in_text_and_html(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber(
        email="ada@example.com",
        first_name="Ada",
        consent_ip="198.51.100.23",
        consent_source=Subscriber.Source.FOOTER,
    )
    SubscriberEvent.objects.create(
        subscriber=subscriber, kind=Kind.SIGNED_UP, ip="198.51.100.23"
    )
    subscriptions.confirm(subscriber=subscriber, ip="198.51.100.24")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(data_url(subscriber), {"action": "export"})

    assert response.status_code == 200
    assert "an email with your data is on its way" in response.text
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ada@example.com"]
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    consent_html = services.CONSENT_TEXT.replace("'", "&#x27;")
    for part, consent in ((message.body, services.CONSENT_TEXT), (html, consent_html)):
        assert "ada@example.com" in part
        assert "Ada" in part
        assert "Footer form" in part
        assert consent in part
        assert services.CONSENT_VERSION in part
        assert "198.51.100.23" in part
        assert "198.51.100.24" in part
        assert "Signed up" in part and "Confirmed" in part
        assert "Data export sent" in part


def test_data_export_is_sent_at_most_three_times_a_day_and_says_so(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = make_subscriber()
    path = data_url(subscriber)
    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(path, {"action": "export"}) for _ in range(4)]

    assert len(mailoutbox) == 3
    assert all("on its way" in a.text for a in answers[:3])
    assert "We already emailed your data 3 times today" in answers[3].text
    assert "on its way" not in answers[3].text


def test_unknown_data_action_changes_nothing(client, mailoutbox):
    subscriber = make_subscriber()
    response = client.post(data_url(subscriber), {"action": "drop-tables"})
    assert response.status_code == 400
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    assert mailoutbox == []


# Archive -------------------------------------------------------------------------


def make_sent_issue(*, days_ago: int = 1, **fields) -> Issue:
    sent = timezone.now() - timedelta(days=days_ago)
    n = Issue.objects.count() + 1
    fields.setdefault("subject", f"Issue number {n}")
    fields.setdefault("slug", f"issue-number-{n}")
    fields.setdefault("body", f"<p>Body of issue {n}.</p>")
    return Issue.objects.create(
        status=Issue.Status.SENT,
        scheduled_at=sent,
        send_started_at=sent,
        sent_at=sent,
        **fields,
    )


def make_unsent_issues() -> list[Issue]:
    now = timezone.now()
    return [
        Issue.objects.create(
            subject="Draft issue", slug="draft-issue", body="<p>d</p>"
        ),
        Issue.objects.create(
            subject="Scheduled issue",
            slug="scheduled-issue",
            body="<p>s</p>",
            status=Issue.Status.SCHEDULED,
            scheduled_at=now + timedelta(days=1),
        ),
        Issue.objects.create(
            subject="Sending issue",
            slug="sending-issue",
            body="<p>s</p>",
            status=Issue.Status.SENDING,
            scheduled_at=now,
            send_started_at=now,
        ),
    ]


def test_archive_lists_only_sent_issues_newest_first_with_their_date(client):
    older = make_sent_issue(subject="Winter skin", days_ago=30)
    newer = make_sent_issue(subject="Spring skin", days_ago=2, preheader="Light SPF")
    unsent = make_unsent_issues()

    response = client.get(reverse("newsletter:archive"))

    text = response.text
    assert response.status_code == 200
    assert text.index("Spring skin") < text.index("Winter skin")
    assert "Light SPF" in text
    assert f'datetime="{timezone.localtime(newer.sent_at):%Y-%m-%dT%H:%M:%S%z}"' in text
    assert older.sent_at.strftime("%-d %B %Y") in text
    for issue in unsent:
        assert issue.subject not in text
        assert issue.get_absolute_url() not in text


def test_archive_is_paginated(client):
    for n in range(14):
        make_sent_issue(subject=f"Issue {n:02d}", slug=f"i-{n}", days_ago=n + 1)
    first = client.get(reverse("newsletter:archive")).text
    second = client.get(reverse("newsletter:archive") + "?page=2").text
    assert "Issue 00" in first and "Issue 11" in first and "Issue 12" not in first
    assert "Issue 12" in second and "Issue 13" in second and "Issue 00" not in second
    assert 'rel="next"' in first
    assert client.get(reverse("newsletter:archive") + "?page=9").status_code == 404


def test_archived_issue_shows_subject_date_body_and_featured_articles(client):
    article = make_article(title="Retinol basics")
    hidden = make_draft(title="Unpublished piece")
    issue = make_sent_issue(
        subject="June tips",
        body="<h2>Sun care</h2><p>Use <strong>SPF 30</strong> daily.</p>",
    )
    IssueArticle.objects.create(issue=issue, article=article, position=0)
    IssueArticle.objects.create(issue=issue, article=hidden, position=1)

    response = client.get(issue.get_absolute_url())

    assert response.status_code == 200
    text = response.text
    assert '<h1 class="article__title">June tips</h1>' in text
    assert "<h2>Sun care</h2><p>Use <strong>SPF 30</strong> daily.</p>" in text
    assert issue.sent_at.strftime("%-d %B %Y") in text
    assert f'href="{article.get_absolute_url()}"' in text
    assert "Retinol basics" in text
    assert "Unpublished piece" not in text
    assert "<title>June tips · Skincare newsletter</title>" in text


def test_archived_issue_has_no_personal_links(client):
    issue = make_sent_issue()
    make_subscriber(status="confirmed")
    text = client.get(issue.get_absolute_url()).text
    assert "/newsletter/unsubscribe/" not in text
    assert "/newsletter/data/" not in text
    assert "/newsletter/confirm/" not in text
    assert "%%" not in text


def test_unsent_issues_are_not_in_the_archive(client):
    for issue in make_unsent_issues():
        response = client.get(issue.get_absolute_url())
        assert response.status_code == 404, issue.status
        assert "We couldn't find that page" in response.text


# Each counts the page version (core/pagecache.py) first; the sign-up page reads
# the topics its form offers.
@pytest.mark.parametrize(
    ("name", "max_queries"), [("subscribe", 3), ("archive", 3), ("detail", 3)]
)
def test_newsletter_pages_run_a_constant_number_of_queries(
    client, django_assert_max_num_queries, name, max_queries
):
    def fetch():
        issue = make_sent_issue(slug=f"q-{Issue.objects.count()}")
        for _ in range(3):
            IssueArticle.objects.create(issue=issue, article=make_article())
        urls = {
            "subscribe": reverse("newsletter:subscribe"),
            "archive": reverse("newsletter:archive"),
            "detail": issue.get_absolute_url(),
        }
        with django_assert_max_num_queries(max_queries):
            assert client.get(urls[name]).status_code == 200

    fetch()
    for n in range(20):
        make_sent_issue(slug=f"bulk-{n}")
    fetch()


# Every page ------------------------------------------------------------------------


def every_page() -> dict[str, tuple[str, int]]:
    subscriber = make_subscriber(status="confirmed")
    pending = make_subscriber()
    issue = make_sent_issue()
    return {
        "subscribe": (reverse("newsletter:subscribe"), 200),
        "check inbox": (reverse("newsletter:check_inbox"), 200),
        "archive": (reverse("newsletter:archive"), 200),
        "issue": (issue.get_absolute_url(), 200),
        "confirm": (confirm_url(pending), 200),
        "unsubscribe": (unsubscribe_url(subscriber), 200),
        "data": (data_url(subscriber), 200),
        "preferences": (url("preferences", subscriber, Purpose.PREFERENCES), 200),
        "invalid link": (reverse("newsletter:confirm", kwargs={"token": "x"}), 404),
    }


def test_every_newsletter_page_has_one_h1_a_title_and_a_description(client):
    titles = set()
    for name, (path, status) in every_page().items():
        response = client.get(path)
        assert response.status_code == status, name
        page = page_of(response)
        assert page.headings.count(1) == 1, name
        assert page.headings[0] == 1, name
        for before, after in zip(page.headings, page.headings[1:], strict=False):
            assert after <= before + 1, (name, page.headings)
        title = re.search(r"<title>([^<]+)</title>", response.text).group(1)
        assert title.endswith("Skincare") or title.endswith("newsletter"), name
        titles.add(title)
        description = next(m for m in page.metas if m.get("name") == "description")
        assert len(description["content"]) > 20, name
        assert 'class="site-footer"' in response.text, name
    assert len(titles) == len(every_page())


def test_token_pages_are_private_and_public_pages_are_indexable(client):
    pages = every_page()
    for name in ("confirm", "unsubscribe", "data", "preferences", "invalid link"):
        assert_private(client.get(pages[name][0]))
    for name in ("subscribe", "archive", "issue"):
        response = client.get(pages[name][0])
        assert "noindex" not in response.text, name
        assert "no-store" not in response.get("Cache-Control", ""), name


def test_newsletter_pages_carry_no_inline_script_or_style(client):
    for name, (path, _) in every_page().items():
        html = client.get(path).text
        assert "<script" not in html, name
        assert "<style" not in html, name
        assert " style=" not in html, name
        assert not re.search(r"\son[a-z]+=", html), name


def test_confirm_link_in_the_email_leads_to_the_confirm_page(
    client, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://skincare.example"
    with django_capture_on_commit_callbacks(execute=True):
        services.subscribe(email="ada@example.com", source="page", ip=None)
    message = mailoutbox[0]
    site = "https://skincare.example"
    link = re.search(re.escape(site) + r"(/newsletter/confirm/\S+/)", message.body)
    html = message.alternatives[0][0]
    assert f'href="{site}{link.group(1)}"' in html
    response = client.get(link.group(1))
    assert "Confirm my subscription" in page_of(response).buttons
    # Its data link opens the data page too.
    data = re.search(re.escape(site) + r"(/newsletter/data/\S+/)", message.body)
    assert client.get(data.group(1)).status_code == 200


# The footer on pages of signing up, confirming and leaving -------------------------


def assert_no_footer_sign_up(name: str, response) -> None:
    text = response.text
    footer = text[text.index('<footer class="site-footer">') :]
    assert "signup--footer" not in footer, name
    assert "Get updated with beauty resources" not in footer, name
    assert text.count('<input type="email"') == 0, name
    # The footer's links stay, the archive among them.
    assert f'href="{reverse("newsletter:archive")}"' in footer, name


def test_pages_after_signing_up_leave_out_the_footer_sign_up_form(client, settings):
    subscriber = make_subscriber()
    pages = {
        "check inbox": client.get(reverse("newsletter:check_inbox")),
        "confirm": client.get(confirm_url(subscriber)),
        "invalid link": client.get("/newsletter/confirm/not-a-token/"),
        "data": client.get(data_url(subscriber)),
        "unsubscribe": client.get(unsubscribe_url(subscriber)),
    }
    pages["confirmed"] = client.post(
        confirm_url(make_subscriber()), REMOTE_ADDR="192.0.2.1"
    )
    pages["unsubscribed"] = client.post(unsubscribe_url(make_subscriber()))
    pages["cross-site"] = client.post(
        reverse("newsletter:subscribe"),
        {"email": "a@example.com", "consent": "on"},
        headers={"Origin": "https://evil.example"},
    )
    settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = 0
    cache.clear()
    pages["rate limited"] = client.post(
        reverse("newsletter:subscribe"), {"email": "a@example.com", "consent": "on"}
    )
    assert "Please try again a little later" in pages["rate limited"].text
    assert "Thank you, you&rsquo;re subscribed" in pages["confirmed"].text
    assert pages["cross-site"].status_code == 403
    for name, response in pages.items():
        assert_no_footer_sign_up(name, response)


def test_archive_pages_keep_the_footer_sign_up_form(client):
    issue = make_issue(status=Issue.Status.SENT)
    for url in (reverse("newsletter:archive"), issue.get_absolute_url()):
        text = client.get(url).text
        assert "signup--footer" in text, url
