"""Signing up: the form, abuse limits, no enumeration, consent proof, pruning."""

import io
import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Subscriber, SubscriberEvent
from newsletter.subscribers import services, subscriptions
from newsletter.web import ratelimit
from newsletter.web.forms import SubscribeForm
from tests.factories import make_article, make_subscriber

pytestmark = pytest.mark.django_db

SIGNUP_URL = reverse("newsletter:subscribe")
CHECK_INBOX_URL = reverse("newsletter:check_inbox")
Kind = SubscriberEvent.Kind


@pytest.fixture(autouse=True)
def empty_cache():
    """The per-IP counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each <label>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.labels: dict[str, str] = {}
        self._label_for: str | None = None
        self._label_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "label":
            self._label_for = attributes.get("for")
            self._label_text = []

    def handle_data(self, data):
        if self._label_for is not None:
            self._label_text.append(data)

    def handle_endtag(self, tag):
        if tag == "label" and self._label_for is not None:
            self.labels[self._label_for] = " ".join("".join(self._label_text).split())
            self._label_for = None

    def find(self, tag: str, **attrs) -> dict:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, found)
        return found[0]

    def find_all(self, tag: str, **attrs) -> list[dict]:
        return [
            a
            for t, a in self.elements
            if t == tag
            and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def form_data(**overrides) -> dict:
    data = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "consent": "on",
        "website": "",
        "source": "page",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def sign_up(client, django_capture_on_commit_callbacks):
    """POST the sign-up form; tasks (the confirmation email) run at the commit."""

    def post(ip="203.0.113.10", follow=False, **overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                SIGNUP_URL, form_data(**overrides), REMOTE_ADDR=ip, follow=follow
            )

    return post


def link_in(text: str) -> str:
    return re.search(r"https?://\S+/newsletter/confirm/[^/\s\"]+/", text).group(0)


# The form ------------------------------------------------------------------------


def test_newsletter_page_explains_what_is_sent_how_often_and_links_the_archive(
    client,
):
    response = client.get(SIGNUP_URL)
    assert response.status_code == 200
    text = response.text
    assert "<h1>The Skincare newsletter</h1>" in text
    assert "Beauty resources, tips, and news from our articles" in text
    assert "about twice a month" in text
    assert f'href="{reverse("newsletter:archive")}"' in text
    assert "<title>The Skincare newsletter · Skincare</title>" in text
    assert '<meta name="description" content="Sign up for the Skincare newsletter' in (
        text
    )


def test_form_has_real_labels_autocomplete_and_the_consent_wording_as_its_label(
    client,
):
    page = parse(client.get(SIGNUP_URL).text)
    form = page.find("form", action=SIGNUP_URL, method="post")
    assert form["class"] == "signup signup--page"
    email = page.find("input", name="email")
    assert email["type"] == "email"
    assert email["autocomplete"] == "email"
    assert email["maxlength"] == "254"
    assert "required" in email
    assert page.labels[email["id"]] == "Email address"
    first_name = page.find("input", name="first_name")
    assert first_name["autocomplete"] == "given-name"
    assert first_name["maxlength"] == "100"
    assert "required" not in first_name
    assert page.labels[first_name["id"]] == "First name (optional)"
    consent = page.find("input", name="consent")
    assert consent["type"] == "checkbox"
    assert page.labels[consent["id"]] == services.CONSENT_TEXT
    assert page.find("input", name="source")["type"] == "hidden"
    assert page.find("input", name="source")["value"] == "page"
    # No per-visitor token: the page stays the same for everyone (and can be
    # compressed); cross-site posts are refused from the Origin header instead.
    assert not page.find_all("input", name="csrfmiddlewaretoken")


def test_honeypot_field_is_hidden_from_people_and_assistive_technology(client):
    html = client.get(SIGNUP_URL).text
    page = parse(html)
    honeypot = page.find("input", name="website")
    assert honeypot["tabindex"] == "-1"
    assert honeypot["autocomplete"] == "off"
    wrapper = re.search(r'<div class="([^"]+)" aria-hidden="true"><label', html)
    assert wrapper and wrapper.group(1) == "signup__hp"
    css = Path(finders.find("css/site.css")).read_text()
    assert re.search(r"\.signup__hp \{[^}]*left: -10000px", css)


@pytest.mark.parametrize(
    "url",
    [reverse("articles:home"), reverse("articles:list"), reverse("newsletter:archive")],
)
def test_every_page_footer_has_the_sign_up_form_posting_to_the_newsletter(client, url):
    html = client.get(url).text
    footer = html[html.index('<footer class="site-footer">') :]
    assert "Get updated with beauty resources, tips, and news" in footer
    page = parse(footer)
    form = page.find("form", action=SIGNUP_URL, method="post")
    assert form["class"] == "signup signup--footer"
    assert page.find("input", name="source")["value"] == "footer"
    consent = page.find("input", name="consent")
    assert page.labels[consent["id"]] == services.CONSENT_TEXT
    assert page.find("input", name="email")["id"] == "footer_email"
    assert not page.find_all("input", name="csrfmiddlewaretoken")
    assert f'href="{reverse("newsletter:archive")}"' in footer


def test_newsletter_page_footer_points_to_the_page_form_instead_of_a_second_one(
    client,
):
    html = client.get(SIGNUP_URL).text
    # One sign-up form (the header's search form is another matter).
    assert html.count('<input type="email"') == 1
    footer = html[html.index('<footer class="site-footer">') :]
    assert 'href="#signup"' in footer
    assert 'id="signup"' in html


# Where a sign-up may come from (newsletter.web.origin) -------------------------------

OWN_ORIGIN = "http://testserver"


def test_sign_up_from_the_sites_own_page_succeeds_without_a_csrf_token(
    django_capture_on_commit_callbacks, mailoutbox
):
    csrf_client = Client(enforce_csrf_checks=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_client.post(
            SIGNUP_URL,
            form_data(),
            headers={"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "same-origin"},
        )
    assert response.status_code == 302
    assert response["Location"] == CHECK_INBOX_URL
    assert Subscriber.objects.get().email == "ada@example.com"
    assert len(mailoutbox) == 1


def test_sign_up_from_a_trusted_origin_succeeds(client, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://skincare.example"]
    response = client.post(
        SIGNUP_URL, form_data(), headers={"Origin": "https://skincare.example"}
    )
    assert response.status_code == 302
    assert Subscriber.objects.filter(email="ada@example.com").exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null"},
        # Same host, other scheme: another origin.
        {"Origin": "https://testserver"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=[
        "evil-origin",
        "evil-origin-lying-fetch-site",
        "null-origin",
        "other-scheme",
        "cross-site-no-origin",
        "same-site-no-origin",
    ],
)
def test_cross_site_sign_up_is_refused_with_a_clear_page_and_creates_nothing(
    client, mailoutbox, headers
):
    response = client.post(
        SIGNUP_URL, form_data(), headers=headers, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 403
    assert "This sign-up came from another website" in response.text
    assert "Nothing was saved" in response.text
    assert not Subscriber.objects.exists()
    assert not SubscriberEvent.objects.exists()
    assert mailoutbox == []


def test_refused_cross_site_posts_do_not_use_up_the_visitors_sign_up_limit(
    client, settings
):
    settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = 1
    for _ in range(3):
        refused = client.post(
            SIGNUP_URL,
            form_data(),
            headers={"Origin": "https://evil.example"},
            REMOTE_ADDR="203.0.113.9",
        )
        assert refused.status_code == 403
    response = client.post(
        SIGNUP_URL,
        form_data(),
        headers={"Origin": OWN_ORIGIN},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302


@pytest.mark.parametrize("fetch_site", ["same-origin", "none"])
def test_sign_up_without_origin_is_allowed_when_fetch_metadata_says_ours(
    client, fetch_site
):
    response = client.post(
        SIGNUP_URL, form_data(), headers={"Sec-Fetch-Site": fetch_site}
    )
    assert response.status_code == 302
    assert Subscriber.objects.exists()


def test_sign_up_from_a_client_that_sends_neither_header_is_allowed(client):
    # Not a browser page (curl, a script): no visitor's browser can be made to send
    # it, and double opt-in plus the per-IP limit bound what it can do.
    response = client.post(SIGNUP_URL, form_data())
    assert response.status_code == 302
    assert Subscriber.objects.get().status == Subscriber.Status.PENDING


@pytest.mark.parametrize(
    "url",
    [
        reverse("articles:home"),
        reverse("articles:list"),
        SIGNUP_URL,
        reverse("newsletter:archive"),
    ],
)
def test_public_pages_set_no_cookie(url):
    response = Client(enforce_csrf_checks=True).get(url)
    assert response.status_code == 200
    assert not response.cookies
    assert "Set-Cookie" not in response.headers


def test_new_visitor_signs_up_from_a_page_that_gave_them_no_cookie():
    visitor = Client(enforce_csrf_checks=True)
    home = visitor.get(reverse("articles:home"))
    assert not visitor.cookies
    assert f'action="{SIGNUP_URL}"' in home.text
    response = visitor.post(
        SIGNUP_URL,
        form_data(source="footer"),
        headers={"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 302
    assert Subscriber.objects.get().consent_source == Subscriber.Source.FOOTER


# Valid sign-up and its proof of consent --------------------------------------------


def test_sign_up_redirects_to_check_inbox_and_stores_proof_of_consent(client, sign_up):
    shown = parse(client.get(SIGNUP_URL).text)
    label = shown.labels[shown.find("input", name="consent")["id"]]
    before = timezone.now()

    response = sign_up(ip="203.0.113.77", email=" Ada@Example.COM ")

    assert response.status_code == 302
    assert response["Location"] == CHECK_INBOX_URL
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "Ada@example.com"
    assert subscriber.first_name == "Ada"
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.consent_text == label == services.CONSENT_TEXT
    assert subscriber.consent_version == services.CONSENT_VERSION
    assert subscriber.consent_source == Subscriber.Source.PAGE
    assert subscriber.consent_ip == "203.0.113.77"
    assert before <= subscriber.consent_at <= timezone.now()
    assert subscriber.confirmed_at is None and subscriber.left_at is None
    events = list(subscriber.events.values_list("kind", "ip", "detail"))
    assert events == [
        (Kind.SIGNED_UP, "203.0.113.77", "page"),
        (Kind.CONFIRMATION_SENT, "203.0.113.77", ""),
    ]


def test_footer_sign_up_records_the_footer_as_source(sign_up):
    sign_up(source="footer")
    assert Subscriber.objects.get().consent_source == Subscriber.Source.FOOTER


def test_check_inbox_page_tells_the_visitor_to_confirm_from_their_inbox(sign_up):
    response = sign_up(follow=True)
    assert response.redirect_chain == [(CHECK_INBOX_URL, 302)]
    assert "<h1>Check your inbox</h1>" in response.text
    assert "spam" in response.text


def test_confirmation_email_has_text_and_html_parts_and_its_link_opens_the_confirm_page(
    client, sign_up, mailoutbox, settings
):
    settings.SITE_URL = "https://skincare.example"
    sign_up(email="ada@example.com", first_name="Ada")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ada@example.com"]
    assert message.subject == "Confirm your subscription to the Skincare newsletter"
    assert message.body.startswith("Hi Ada,")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    url = link_in(message.body)
    assert url.startswith("https://skincare.example/newsletter/confirm/")
    assert f'href="{url}"' in html
    assert "Confirm my subscription" in html

    page = client.get(urlsplit(url).path)
    assert page.status_code == 200
    assert "<h1>Confirm your subscription</h1>" in page.text
    assert "ada@example.com" in page.text
    assert Subscriber.objects.get().status == Subscriber.Status.PENDING


# Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": ""}, "email", "Enter your email address."),
        ({"email": "not-an-address"}, "email", "Enter an email address like"),
        ({"email": "a" * 250 + "@example.com"}, "email", "at most 254 characters"),
        ({"consent": None}, "consent", "Tick this box to agree"),
        ({"first_name": "A" * 101}, "first_name", "at most 100 characters"),
        (
            {"first_name": "Win prizes at http://spam.example"},
            "first_name",
            "Enter just your first name",
        ),
        ({"first_name": "<b>Ada</b>"}, "first_name", "Enter just your first name"),
        (
            {"first_name": "Ada \u202egnp.exe"},
            "first_name",
            "cannot contain invisible characters that change the direction of text",
        ),
        (
            {"first_name": "Ada\r\nP.S. Reply with your password"},
            "first_name",
            "cannot contain line breaks",
        ),
    ],
    ids=[
        "missing-email",
        "invalid-email",
        "too-long-email",
        "no-consent",
        "too-long-name",
        "link-in-name",
        "markup-in-name",
        "bidi-override-in-name",
        "line-break-in-name",
    ],
)
def test_bad_input_shows_the_error_next_to_its_field_and_saves_nothing(
    sign_up, mailoutbox, overrides, field, message
):
    response = sign_up(**overrides)

    assert response.status_code == 200
    html = response.text
    page = parse(html)
    control = page.find("input", name=field)
    error_id = f"id_{field}_error"
    assert control["aria-invalid"] == "true"
    assert error_id in control["aria-describedby"].split()
    error = re.search(rf'<p class="field__error" id="{error_id}">([^<]*)</p>', html)
    assert error and message in unescape(error.group(1))
    # The error sits inside the field's own wrapper, before the next field.
    wrapper_start = html.rindex('<div class="field', 0, error.start())
    assert html.index(f'name="{field}"', wrapper_start) > error.start()
    assert 'role="alert"' in html
    assert "<title>Error: The Skincare newsletter" in html
    assert not Subscriber.objects.exists()
    assert not SubscriberEvent.objects.exists()
    assert mailoutbox == []


BIDI_CONTROLS = [
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u200e",
    "\u200f",
    "\u061c",
]


@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_bidirectional_control_in_a_name_is_refused_by_its_code_point(char):
    form = SubscribeForm(data=form_data(first_name=f"Ada{char}Lovelace"))
    assert not form.is_valid()
    [message] = form.errors["first_name"]
    assert "change the direction of text" in message
    assert f"U+{ord(char):04X}" in message


@pytest.mark.parametrize(
    "name",
    [
        "Zoë",
        "José María",
        "O'Brien",
        "Anne-Marie",
        "שרה",
        # Persian, with the zero-width non-joiner its spelling needs (not a bidi
        # control).
        "\u0645\u06cc\u200c\u0646\u0627",
    ],
)
def test_names_in_any_script_are_accepted(name):
    form = SubscribeForm(data=form_data(first_name=name))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == name


def test_bad_input_keeps_what_the_visitor_typed(sign_up):
    html = sign_up(consent=None, email="ada@example.com", first_name="Ada").text
    page = parse(html)
    assert page.find("input", name="email")["value"] == "ada@example.com"
    assert page.find("input", name="first_name")["value"] == "Ada"
    assert "checked" not in page.find("input", name="consent")


def test_footer_form_errors_show_the_newsletter_page_with_the_input_kept(sign_up):
    response = sign_up(source="footer", consent=None, email="grace@example.com")
    assert response.status_code == 200
    html = response.text
    assert "<h1>The Skincare newsletter</h1>" in html
    assert "Tick this box to agree" in html
    page = parse(html)
    assert page.find("input", name="email")["value"] == "grace@example.com"
    # Sent again from here, it still counts as a footer sign-up.
    assert page.find("input", name="source")["value"] == "footer"
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("source", ["import", "", "admin"])
def test_a_source_other_than_footer_or_page_is_refused(sign_up, mailoutbox, source):
    response = sign_up(source=source)
    assert response.status_code == 200
    assert "This form could not be sent" in response.text
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_filled_honeypot_shows_the_normal_success_and_does_nothing(sign_up, mailoutbox):
    real = sign_up(email="real@example.com")
    Subscriber.objects.all().delete()
    mailoutbox.clear()

    bot = sign_up(email="victim@example.com", website="https://spam.example")

    assert (bot.status_code, bot["Location"], bot.content) == (
        real.status_code,
        real["Location"],
        real.content,
    )
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


# No enumeration ------------------------------------------------------------------


def test_sign_up_answers_identically_whatever_the_address_state(client, sign_up):
    make_subscriber(email="pending@example.com")
    make_subscriber(email="confirmed@example.com", status="confirmed")
    make_subscriber(email="left@example.com", status="unsubscribed")
    make_subscriber(email="bounced@example.com", status="bounced")

    answers = {}
    for email in (
        "new@example.com",
        "pending@example.com",
        "confirmed@example.com",
        "left@example.com",
        "bounced@example.com",
    ):
        response = sign_up(email=email)
        landing = client.get(response["Location"])
        answers[email] = (
            response.status_code,
            response["Location"],
            response.content,
            sorted(k for k in response.headers if k != "Date"),
            landing.status_code,
            landing.text,
        )

    first = answers["new@example.com"]
    assert first[0] == 302 and first[1] == CHECK_INBOX_URL and first[4] == 200
    for email, answer in answers.items():
        assert answer == first, email


def test_signing_up_a_confirmed_address_again_changes_nothing_and_sends_nothing(
    sign_up, mailoutbox
):
    subscriber = make_subscriber(email="ada@example.com", status="confirmed")
    sign_up(email="ada@example.com", first_name="Someone else")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert subscriber.first_name == ""
    assert mailoutbox == []


# Abuse limits --------------------------------------------------------------------


def test_too_many_sign_ups_from_one_ip_get_429_with_retry_after_and_a_friendly_page(
    sign_up, settings, mailoutbox
):
    settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = 3
    for n in range(3):
        assert sign_up(ip="198.51.100.1", email=f"r{n}@example.com").status_code == 302

    response = sign_up(ip="198.51.100.1", email="r3@example.com")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600 + 1
    html = response.text
    assert "<h1>Please try again a little later</h1>" in html
    assert 'class="site-header"' in html and 'href="/static/css/site.css"' in html
    assert "minute" in html
    assert not Subscriber.objects.filter(email="r3@example.com").exists()
    assert len(mailoutbox) == 3
    # Another address has its own budget.
    assert sign_up(ip="198.51.100.2", email="r4@example.com").status_code == 302


def test_invalid_and_honeypot_posts_count_towards_the_ip_limit(sign_up, settings):
    settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = 2
    sign_up(email="not-an-address")
    sign_up(website="bot")
    assert sign_up().status_code == 429
    assert not Subscriber.objects.exists()


def test_ip_limit_trusts_remote_addr_not_x_forwarded_for(client, settings):
    settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = 2
    statuses = [
        client.post(
            SIGNUP_URL,
            form_data(email=f"x{n}@example.com"),
            REMOTE_ADDR="198.51.100.9",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]


def test_ip_limit_window_starts_again_the_next_hour(sign_up, settings, monkeypatch):
    settings.NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = 1
    hour = 3600 * 500_000
    monkeypatch.setattr(ratelimit.time, "time", lambda: hour + 3000.0)
    assert sign_up(email="a@example.com").status_code == 302
    limited = sign_up(email="b@example.com")
    assert limited.status_code == 429
    assert limited["Retry-After"] == "601"

    monkeypatch.setattr(ratelimit.time, "time", lambda: hour + 3600.0)
    assert sign_up(email="b@example.com").status_code == 302


def test_ipv6_addresses_of_one_slash_64_share_a_budget():
    assert ratelimit.bucket("2001:db8:1:2::1") == ratelimit.bucket(
        "2001:db8:1:2:ffff::9"
    )
    assert ratelimit.bucket("2001:db8:1:2::1") != ratelimit.bucket("2001:db8:1:3::1")
    assert ratelimit.bucket("::ffff:192.0.2.1") == ratelimit.bucket("192.0.2.1")
    assert ratelimit.bucket("192.0.2.1") != ratelimit.bucket("192.0.2.2")
    assert ratelimit.bucket(None) == "unknown"


def test_one_address_gets_at_most_three_confirmation_emails_a_day(sign_up, mailoutbox):
    answers = [sign_up(email="ada@example.com") for _ in range(4)]

    assert [a.status_code for a in answers] == [302] * 4
    assert len({a.content for a in answers}) == 1
    assert len(mailoutbox) == 3
    assert {m.to[0] for m in mailoutbox} == {"ada@example.com"}
    subscriber = Subscriber.objects.get()
    assert subscriber.events.filter(kind=Kind.SIGNED_UP).count() == 4
    assert subscriber.events.filter(kind=Kind.CONFIRMATION_SENT).count() == 3


# Leaving and coming back -------------------------------------------------------------


def test_signing_up_again_after_unsubscribing_restarts_double_opt_in_with_new_consent(
    client, sign_up, mailoutbox
):
    sign_up(ip="203.0.113.1", source="page")
    subscriber = Subscriber.objects.get()
    subscriptions.confirm(subscriber=subscriber, ip="203.0.113.1")
    subscriptions.unsubscribe(subscriber=subscriber, how=Subscriber.LeftHow.LINK)
    Subscriber.objects.filter(pk=subscriber.pk).update(
        consent_at=timezone.now() - timedelta(days=40)
    )
    mailoutbox.clear()

    response = sign_up(ip="203.0.113.2", source="footer")

    assert response["Location"] == CHECK_INBOX_URL
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.consent_source == Subscriber.Source.FOOTER
    assert subscriber.consent_ip == "203.0.113.2"
    assert subscriber.consent_at > timezone.now() - timedelta(minutes=1)
    assert subscriber.consent_text == services.CONSENT_TEXT
    assert subscriber.events.filter(kind=Kind.SIGNED_UP).count() == 2
    assert len(mailoutbox) == 1
    # Its new link confirms again.
    confirm_path = urlsplit(link_in(mailoutbox[0].body)).path
    client.post(confirm_path, REMOTE_ADDR="203.0.113.2")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert subscriber.confirmed_ip == "203.0.113.2"


# Pruning -------------------------------------------------------------------------


def aged(days: int, **fields) -> Subscriber:
    subscriber = make_subscriber(**fields)
    Subscriber.objects.filter(pk=subscriber.pk).update(
        consent_at=timezone.now() - timedelta(days=days)
    )
    return subscriber


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_subscribers", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def mixed_subscribers():
    old_pending = aged(31)
    SubscriberEvent.objects.create(subscriber=old_pending, kind=Kind.SIGNED_UP)
    keep = [
        aged(29),
        aged(31, status="confirmed"),
        aged(31, status="unsubscribed"),
        aged(90, status="bounced"),
    ]
    return old_pending, keep


def test_prune_dry_run_reports_and_changes_nothing(mixed_subscribers):
    output = prune("--dry-run")
    assert "would delete 1 unconfirmed sign-up older than 30 days" in output
    assert "Nothing was changed" in output
    assert Subscriber.objects.count() == 5
    assert SubscriberEvent.objects.count() == 1


def test_prune_deletes_only_old_pending_sign_ups_and_a_second_run_deletes_nothing(
    mixed_subscribers,
):
    old_pending, keep = mixed_subscribers

    assert "Deleted 1 unconfirmed sign-up older than 30 days." in prune()

    assert not Subscriber.objects.filter(pk=old_pending.pk).exists()
    assert not SubscriberEvent.objects.exists()
    assert set(Subscriber.objects.values_list("pk", flat=True)) == {s.pk for s in keep}
    assert "Deleted 0 unconfirmed sign-ups" in prune()
    assert Subscriber.objects.count() == 4


def test_prune_days_option_overrides_the_setting(mixed_subscribers, settings):
    settings.NEWSLETTER_PRUNE_PENDING_DAYS = 365
    assert "Deleted 0" in prune()
    assert "Deleted 2 unconfirmed sign-ups older than 7 days." in prune("--days", "7")
    assert Subscriber.objects.filter(status=Subscriber.Status.PENDING).count() == 0


def test_prune_refuses_a_zero_or_negative_age(mixed_subscribers):
    with pytest.raises(CommandError, match="at least 1"):
        prune("--days", "0")
    assert Subscriber.objects.count() == 5


def test_prune_command_has_help():
    from newsletter.management.commands.prune_subscribers import Command

    assert "never confirmed" in Command.help
    assert "cron" in Command.help


def test_article_pages_still_render_with_the_footer_form(client):
    article = make_article()
    html = client.get(article.get_absolute_url()).text
    assert html.count('class="signup signup--footer"') == 1
