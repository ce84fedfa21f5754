"""Every public page type and every email's HTML, checked by the W3C Nu Html Checker.

vnu.jar comes from the npm registry (`make test` runs npm ci in tests/page_quality)
and needs Java. The JVM starts slowly, so all documents are written to one folder
and checked in a single run.
"""

import io
import json
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from articles.models import Article, Correction, Evidence, Reference, SearchPromotion
from newsletter import emails, selectors
from newsletter.models import Issue, IssueArticle, Subscriber
from newsletter.subscribers.tokens import Purpose, make_token
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_author,
    make_issue,
    make_role_user,
    make_staff,
    make_subscriber,
    make_topic,
    make_welcome_email,
    make_welcome_step,
)
from tests.newsletter.test_pages import expired_confirm_url

pytestmark = pytest.mark.django_db

VNU = Path(__file__).parents[1] / "page_quality/node_modules/vnu-jar/build/dist/vnu.jar"
JAVA_HINT = (
    "Java is not installed, so the Nu Html Checker cannot run. "
    "Install it with: sudo apt-get install default-jre-headless"
)
VNU_HINT = (
    "vnu.jar is not installed: run `make test` (it runs npm ci in tests/page_quality)"
)
# A document the checker must reject: proves that errors are found and reported.
KNOWN_BAD = "control-known-bad.html"
KNOWN_BAD_HTML = (
    '<!DOCTYPE html><html lang="en"><head><title>Bad</title></head><body>'
    '<time datetime="2026-01-02T03:04:05.123456+00:00">2 January</time>'
    "</body></html>"
)
# The one warning allowed, in emails only (see is_problem).
EMAIL_TABLE_ATTRIBUTE = re.compile(
    r"The “(width|cellpadding|cellspacing|border|align)” attribute on the “(table|td)” "
    r"element is obsolete"
)


@pytest.fixture
def java() -> str:
    java = shutil.which("java")
    for missing, hint in ((java is None, JAVA_HINT), (not VNU.exists(), VNU_HINT)):
        if missing:
            if os.environ.get("CI"):
                pytest.fail(hint, pytrace=False)
            pytest.skip(hint)
    return java


def link(name: str, subscriber: Subscriber, purpose: Purpose) -> str:
    token = make_token(subscriber=subscriber, purpose=purpose)
    return reverse(f"newsletter:{name}", kwargs={"token": token})


def html_part(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def sent_issue() -> Issue:
    issue = make_issue(
        status=Issue.Status.SENT,
        subject="Winter skin, kept calm",
        preheader="Three habits for dry, itchy winter skin.",
        body=(
            "<h2>Short showers</h2><p>Keep them <strong>warm</strong>, not hot.</p>"
            "<ul><li>Pat dry</li><li>Moisturise within minutes</li></ul>"
            '<p>More in <a href="/articles/">our articles</a>.</p>'
        ),
    )
    for position, article in enumerate(Article.objects.published()[:3]):
        IssueArticle.objects.create(issue=issue, article=article, position=position)
    return issue


def digest_issue() -> Issue:
    """A digest of every live article, grouped by topic in its email, with what
    changed in the advice of one of them."""
    issue = make_issue(kind=Issue.Kind.DIGEST, subject="Your Skincare digest")
    live = Article.objects.published().order_by("topic__name", "-published_at")
    for position, article in enumerate(live, start=1):
        IssueArticle.objects.create(issue=issue, article=article, position=position)
    issue.corrections.set(
        [
            Correction.objects.create(
                article=live.first(),
                text="We now advise SPF 30 <or more>, not SPF 15.",
                changes_advice=True,
            )
        ]
    )
    return issue


def trust_article() -> Article:
    """An article with every optional part: review (as the workflow records it),
    evidence label, update date, inline citations, sources, a correction."""
    reviewer = make_author(name="Dr Ben Ng", credentials="MD, FAAD")
    article = make_article(
        title="Retinoids without the sting",
        topic=make_topic(name="Retinoids", medical=True),
        body=(
            "<h2>Starting slowly</h2><p>Begin twice a week [1]. Irritation fades "
            "within weeks for most people [1, 2].</p><h2>Moisturiser first</h2>"
            "<p>A buffer layer helps sensitive skin [2&ndash;3], see "
            '<a href="https://example.org/guide">the guide [3]</a>.</p>'
        ),
        evidence=Evidence.MODERATE,
        reviewer=reviewer,
        reviewed_at=date(2026, 3, 4),
        content_updated_at=timezone.now(),
    )
    Reference.objects.create(
        article=article,
        position=1,
        title="A trial",
        publisher="JAAD",
        year=2024,
        doi="10.1/x",
    )
    Reference.objects.create(
        article=article, position=2, title="A review", pmid="12345678"
    )
    Reference.objects.create(
        article=article, position=3, title="A guide", url="https://example.org/g"
    )
    Correction.objects.create(
        article=article, text="We corrected how often to apply it at first."
    )
    return article


def public_documents(client, monkeypatch, settings) -> dict[str, str]:
    """{document name: HTML} for every page type and email HTML part."""
    call_command("load_launch_content", stdout=io.StringIO())
    articles = list(Article.objects.published())
    assert len(articles) == 4
    extra = trust_article()
    issue = sent_issue()
    pending = make_subscriber(first_name="Ada")
    confirmed = make_subscriber(status=Subscriber.Status.CONFIRMED)
    unsubscribed = make_subscriber(status=Subscriber.Status.UNSUBSCRIBED)
    to_delete = make_subscriber(status=Subscriber.Status.CONFIRMED)
    chooser = make_subscriber(status=Subscriber.Status.CONFIRMED)
    preferences = link("preferences", chooser, Purpose.PREFERENCES)
    search = reverse("articles:search")
    subscribe = reverse("newsletter:subscribe")
    # Its results open with an article editors pinned to the query.
    SearchPromotion.objects.create(query="chicken skin", article=extra)

    gets = {
        "home": reverse("articles:home"),
        "article-list": reverse("articles:list"),
        **{f"article-{a.slug}": a.get_absolute_url() for a in articles},
        "article-reviewed-with-sources": extra.get_absolute_url(),
        "editorial-policy": reverse("articles:editorial_policy"),
        "topic-list": reverse("articles:topics"),
        "topic": articles[0].topic.get_absolute_url(),
        "search-results": f"{search}?q=chicken+skin",
        "search-no-results": f"{search}?q=zzzz",
        "search-closest-matches": f"{search}?q=keratosis+pilaris+cure",
        "search-empty-query": f"{search}?q=",
        "author": "/authors/editorial-team/",
        "newsletter-signup": subscribe,
        "newsletter-check-inbox": reverse("newsletter:check_inbox"),
        "newsletter-confirm": link("confirm", pending, Purpose.CONFIRM),
        "newsletter-confirm-expired": expired_confirm_url(
            pending, monkeypatch, settings
        ),
        "newsletter-confirm-ended": link("confirm", unsubscribed, Purpose.CONFIRM),
        "newsletter-unsubscribe": link("unsubscribe", confirmed, Purpose.UNSUBSCRIBE),
        "newsletter-data": link("data", confirmed, Purpose.DATA),
        "newsletter-preferences": preferences,
        "newsletter-preferences-left": link(
            "preferences", unsubscribed, Purpose.PREFERENCES
        ),
        "newsletter-delete-confirm": link("data_delete", to_delete, Purpose.DELETE),
        "newsletter-invalid-link": "/newsletter/confirm/not-a-real-token/",
        "newsletter-archive": reverse("newsletter:archive"),
        "newsletter-archive-issue": issue.get_absolute_url(),
        "404": "/no-such-page/",
    }
    statuses = {"newsletter-invalid-link": 404, "404": 404}
    documents = {}
    for name, path in gets.items():
        response = client.get(path)
        assert response.status_code == statuses.get(name, 200), (name, path)
        documents[name] = response.content.decode()

    data = link("data", to_delete, Purpose.DATA)
    posts = {
        "newsletter-signup-errors": (subscribe, {"email": "not-an-address"}, 200),
        "newsletter-confirmed": (link("confirm", pending, Purpose.CONFIRM), {}, 200),
        "newsletter-unsubscribed": (
            link("unsubscribe", confirmed, Purpose.UNSUBSCRIBE),
            {},
            200,
        ),
        "newsletter-data-delete-requested": (data, {"action": "delete"}, 200),
        "newsletter-preferences-saved": (
            preferences,
            {
                "action": "save",
                "topics": [articles[0].topic_id],
                "frequency": "monthly_digest",
            },
            200,
        ),
        "newsletter-preferences-paused": (preferences, {"action": "pause"}, 200),
        "newsletter-preferences-errors": (
            preferences,
            {"action": "save", "topics": ["999999"], "frequency": "x"},
            400,
        ),
        "newsletter-data-deleted": (
            link("data_delete", to_delete, Purpose.DELETE),
            {},
            200,
        ),
    }
    for name, (path, form, status) in posts.items():
        response = client.post(path, form)
        assert response.status_code == status, (name, path)
        documents[name] = response.content.decode()
    assert "not-an-address" in documents["newsletter-signup-errors"]
    refused = {
        "newsletter-cross-site": client.post(
            subscribe, {"email": "a@example.com"}, headers={"Origin": "https://x.test"}
        ),
        "request-too-large": client.post(
            subscribe, {"email": "a@example.com", "website": "x" * 70_000}
        ),
    }
    assert refused["newsletter-cross-site"].status_code == 403
    assert refused["request-too-large"].status_code == 413
    documents |= {name: r.content.decode() for name, r in refused.items()}

    # Emails: a fresh subscriber, since the ones above were confirmed or deleted.
    reader = make_subscriber(status=Subscriber.Status.CONFIRMED, first_name="Ada")
    rendered = emails.render_issue(issue)
    welcome_email = make_welcome_email()
    welcome_step = make_welcome_step(position=2)
    documents |= {
        "email-confirmation": html_part(
            emails.confirmation_message(subscriber=make_subscriber(first_name="Ada"))
        ),
        "email-data-export": html_part(
            emails.data_export_message(
                subscriber=reader, data=selectors.subscriber_data(reader)
            )
        ),
        "email-issue": html_part(
            emails.issue_message(rendered=rendered, subscriber=reader)
        ),
        "email-digest": html_part(
            emails.issue_message(
                rendered=emails.render_issue(digest_issue()), subscriber=reader
            )
        ),
        "email-data-delete": html_part(emails.data_delete_message(subscriber=reader)),
        "email-test-issue": html_part(
            emails.test_issue_message(issue=issue, to="editor@example.com")
        ),
        "email-welcome": html_part(
            emails.welcome_message(welcome=welcome_email, subscriber=reader)
        ),
        "email-test-welcome": html_part(
            emails.test_welcome_message(welcome=welcome_email, to="editor@example.com")
        ),
        "email-welcome-step": html_part(
            emails.welcome_step_message(
                step=welcome_step.approvals.first(), position=2, subscriber=reader
            )
        ),
        "email-test-welcome-step": html_part(
            emails.test_welcome_step_message(step=welcome_step, to="editor@example.com")
        ),
    }
    assert "From the site" in documents["email-issue"]
    assert "From the site" not in documents["email-digest"]
    assert ">What changed</h2>" in documents["email-digest"]
    assert "Saved." in documents["newsletter-preferences-saved"]
    return documents


def nu_check(java: str, folder: Path, documents: dict[str, str]) -> dict[str, list]:
    """{file name: [message, ...]} from one run of the checker over all documents."""
    files = []
    for name, html in documents.items():
        path = folder / name
        path.write_text(html, encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        [
            java,
            "-jar",
            str(VNU),
            "--format",
            "json",
            "--stdout",
            "--exit-zero-always",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    messages: dict[str, list] = {Path(f).name: [] for f in files}
    for message in json.loads(result.stdout)["messages"]:
        name = Path(unquote(urlparse(message.get("url", "")).path)).name
        messages.setdefault(name, []).append(message)
    return messages


def is_problem(name: str, message: dict) -> bool:
    """Errors fail everywhere; so do warnings, except the table layout of emails.

    "non-document-error" is the checker failing to read a file. Email HTML keeps
    width/cellpadding/cellspacing/border/align on its layout tables on purpose:
    Outlook on Windows renders with Word, which ignores the CSS equivalents.
    """
    if message["type"] in {"error", "non-document-error"}:
        return True
    if message.get("subType") != "warning":
        return False
    return not (
        name.startswith("email-") and EMAIL_TABLE_ATTRIBUTE.search(message["message"])
    )


def test_every_public_page_and_email_is_valid_html(
    client, monkeypatch, settings, tmp_path, java
):
    documents = {
        f"{name}.html": html
        for name, html in public_documents(client, monkeypatch, settings).items()
    }
    documents[KNOWN_BAD] = KNOWN_BAD_HTML

    messages = nu_check(java, tmp_path, documents)

    control = [m["message"] for m in messages.pop(KNOWN_BAD) if m["type"] == "error"]
    assert any("fraction of a second" in m for m in control), control
    problems = [
        f"{name}:{m.get('lastLine', '?')}: {m['type']}: {m['message']}"
        for name, found in sorted(messages.items())
        for m in found
        if is_problem(name, m)
    ]
    if problems:
        pytest.fail(
            f"{len(problems)} Nu Html Checker problem(s):\n" + "\n".join(problems),
            pytrace=False,
        )


def staff_sign_in_documents(settings, django_capture_on_commit_callbacks) -> dict:
    """{document name: HTML} for each staff sign-in page (staff/): the second
    factor, its set-up and management, the lockout page and the unlock link."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    documents = {}
    newcomer = make_role_user("Writer", username="newcomer")
    fresh = Client()
    fresh.force_login(newcomer)
    documents["staff-enrol"] = fresh.get(reverse("staff:enrol")).content.decode()

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
    documents["staff-backup-codes-new"] = verified.post(
        reverse("staff:backup_codes")
    ).content.decode()
    documents["staff-backup-codes"] = verified.get(
        reverse("staff:backup_codes")
    ).content.decode()
    documents["staff-methods"] = verified.get(reverse("staff:factors")).content.decode()
    documents["staff-add-method"] = verified.get(
        reverse("staff:enrol")
    ).content.decode()
    documents["staff-confirm"] = verified.get(reverse("staff:confirm")).content.decode()
    unverified = Client()
    unverified.force_login(editor)
    documents["staff-verify"] = unverified.get(reverse("staff:verify")).content.decode()
    documents["staff-verify-wrong-code"] = unverified.post(
        reverse("staff:verify"), {"code": "0000-0000-0000"}
    ).content.decode()
    # An authenticator app as the only factor: the page asks for its 6-digit code.
    app_user = make_role_user("Editor", username="app-user")
    TOTPDevice.objects.create(user=app_user, name="Phone", confirmed=True)
    with_app = Client()
    with_app.force_login(app_user)
    documents["staff-verify-app"] = with_app.get(
        reverse("staff:verify")
    ).content.decode()
    documents["staff-verify-app-wrong-code"] = with_app.post(
        reverse("staff:verify"), {"token": "000000"}
    ).content.decode()
    assert 'id="token-error"' in documents["staff-verify-app-wrong-code"]

    login = reverse("admin:login")
    visitor = Client()
    documents["admin-login"] = visitor.get(login).content.decode()
    owner = make_staff(username="owner")
    for _ in range(10):
        locked = visitor.post(login, {"username": "owner", "password": "wrong"})
    assert locked.status_code == 429
    documents["staff-locked-account"] = locked.content.decode()
    for n in range(30):
        locked = Client().post(login, {"username": f"user-{n}", "password": "x"})
    documents["staff-locked-network"] = locked.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        documents["staff-unlock-requested"] = (
            Client()
            .post(
                reverse("staff:unlock_request"),
                {"username": owner.username},
                REMOTE_ADDR="198.51.100.7",
            )
            .content.decode()
        )
    [message] = mail.outbox
    documents["email-staff-unlock"] = html_part(message)
    path = re.search(r"/admin/second-factor/unlock/\S+/", message.body).group(0)
    documents["staff-unlock-link"] = Client().get(path).content.decode()
    documents["staff-unlock-link-invalid"] = (
        Client().get(reverse("staff:unlock", args=["not-a-real-link"])).content.decode()
    )
    return documents


def test_every_staff_sign_in_page_is_valid_html(
    settings, django_capture_on_commit_callbacks, tmp_path, java
):
    documents = {
        f"{name}.html": html
        for name, html in staff_sign_in_documents(
            settings, django_capture_on_commit_callbacks
        ).items()
    }
    messages = nu_check(java, tmp_path, documents)
    problems = [
        f"{name}:{m.get('lastLine', '?')}: {m['type']}: {m['message']}"
        for name, found in sorted(messages.items())
        for m in found
        if is_problem(name, m)
    ]
    if problems:
        pytest.fail(
            f"{len(problems)} Nu Html Checker problem(s):\n" + "\n".join(problems),
            pytrace=False,
        )
