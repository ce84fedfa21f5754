"""axe-core (from the npm registry) run in Chromium on every kind of public page."""

import io
import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from articles.models import SearchPromotion
from newsletter.models import Subscriber
from newsletter.subscribers.tokens import Purpose, make_token
from tests.browser_fixtures import DESKTOP, PHONE
from tests.conftest import VerifiedClient
from tests.factories import make_role_user, make_staff, make_subscriber, make_topic
from tests.skincare.test_page_validity import trust_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parents[1] / "page_quality/node_modules/axe-core/axe.min.js"
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
    trusted = trust_article()
    # The search results open with an article editors pinned to the query.
    SearchPromotion.objects.create(query="chicken skin", article=trusted)
    return {
        "home": reverse("articles:home"),
        "list": reverse("articles:list"),
        "article": "/articles/microneedling-benefits-keratosis-pilaris/",
        # Citations, sources with back links, evidence, review and a correction.
        "article-reviewed-with-sources": trusted.get_absolute_url(),
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


def browser_session(context, live_server, client) -> None:
    """Give a browser context the session of a Django test client (same database),
    so a page can be opened as that client's user."""
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


class AxeRun:
    """Pages opened at one width, as a guest or signed in as a test client's
    user, each checked by axe-core: `problems` holds the violations by page."""

    def __init__(self, live_server, new_context, axe_source: str, viewport) -> None:
        self.live_server, self.new_context = live_server, new_context
        self.axe_source, self.viewport = axe_source, viewport
        self.problems: dict[str, list[dict]] = {}

    def check(self, page, name: str) -> None:
        violations = axe_violations(page, self.axe_source, name)
        if violations:
            self.problems[name] = violations

    def page_as(self, client=None):
        context = self.new_context(viewport=self.viewport, bypass_csp=True)
        if client is not None:
            browser_session(context, self.live_server, client)
        return context.new_page()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_staff_sign_in_pages_have_no_accessibility_violations(
    live_server, new_context, axe_source, viewport, settings
):
    """Sign-in with its passkey button, the second factor's pages, sign-in methods,
    backup codes, the lockout page, the unlock request and the unlock link."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    run = AxeRun(live_server, new_context, axe_source, viewport)
    problems, check, page_as = run.problems, run.check, run.page_as

    newcomer = Client()
    newcomer.force_login(make_role_user("Writer", username="newcomer"))
    page = page_as(newcomer)
    page.goto(live_server.url + reverse("staff:enrol"))
    expect(page.get_by_role("button", name="Make a passkey")).to_be_visible()
    check(page, "staff-enrol")

    editor = make_role_user("Editor", username="enrolled")
    WebAuthnCredential.objects.create(
        user=editor,
        name="Laptop",
        credential_id=b"credential",
        public_key=b"key",
        aaguid="00000000-0000-0000-0000-000000000000",
        confirmed=True,
    )
    verified = VerifiedClient()
    verified.force_login(editor)
    page = page_as(verified)
    page.goto(live_server.url + reverse("staff:backup_codes"))
    check(page, "staff-backup-codes")
    page.get_by_role("button", name="Make ten new backup codes").click()
    expect(page.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    check(page, "staff-backup-codes-new")
    page.goto(live_server.url + reverse("staff:factors"))
    expect(page.get_by_role("button", name="Add a passkey")).to_be_visible()
    check(page, "staff-methods")

    unverified = Client()
    unverified.force_login(editor)
    page = page_as(unverified)
    page.goto(live_server.url + reverse("staff:verify"))
    expect(page.get_by_role("button", name="Use my passkey")).to_be_visible()
    check(page, "staff-verify")
    page.get_by_text("Use a backup code").click()
    page.get_by_label("Backup code").fill("0000-0000-0000")
    page.get_by_role("button", name="Use this backup code").click()
    expect(page.get_by_text("That backup code is not right")).to_be_visible()
    check(page, "staff-verify-wrong-code")

    # An authenticator app as the only factor: the page asks for its 6-digit code.
    app_user = make_role_user("Editor", username="app-user")
    TOTPDevice.objects.create(user=app_user, name="Phone", confirmed=True)
    with_app = Client()
    with_app.force_login(app_user)
    page = page_as(with_app)
    page.goto(live_server.url + reverse("staff:verify"))
    check(page, "staff-verify-app")
    page.get_by_label("6-digit code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#token-error")).to_be_visible()
    check(page, "staff-verify-app-wrong-code")

    owner = make_staff(username="owner")
    for _ in range(settings.STAFF_SIGN_IN_ACCOUNT_LIMIT):
        Client().post(reverse("admin:login"), {"username": "owner", "password": "x"})
    page = page_as()
    page.goto(live_server.url + reverse("admin:login"))
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    check(page, "admin-login")
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill(owner.raw_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
    check(page, "staff-locked-out")
    page.get_by_role("button", name="Email me an unlock link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check(page, "staff-unlock-requested")
    [message] = mail.outbox
    link = re.search(r"/admin/second-factor/unlock/\S+/", message.body).group(0)
    page.goto(live_server.url + link)
    check(page, "staff-unlock-link")
    assert problems == {}, json.dumps(problems, indent=2)
