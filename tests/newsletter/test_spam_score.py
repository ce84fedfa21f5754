"""The emails we send, exactly as sent, scored by SpamAssassin (local tests only).

Debian's `spamassassin` runs its rules on the message bytes; -L leaves out every
network test (DNS block lists, Razor, Pyzor), so the score depends only on what we
write. A score at or below 0.5 leaves a wide margin under the usual 5.0 threshold.
"""

import os
import re
import shutil
import subprocess
from email import message_from_bytes, policy

import pytest

from articles.models import Correction
from newsletter import emails
from newsletter.models import (
    Issue,
    IssueArticle,
    Subscriber,
    WelcomeEmail,
    WelcomeStep,
)
from tests.factories import make_article, make_issue, make_subscriber, make_topic

pytestmark = pytest.mark.django_db

MAX_SCORE = 0.5
SPAMASSASSIN_HINT = (
    "SpamAssassin is not installed, so the emails' spam scores cannot be checked. "
    "Install it with: sudo apt-get install spamassassin"
)
STATUS = re.compile(r"^X-Spam-Status: (?:Yes|No), score=(-?\d+(?:\.\d+)?)", re.M)
# Lines of the report's table: " 0.1 RULE_NAME   Description".
RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?) ([A-Z0-9_]+)\s", re.M)


@pytest.fixture
def spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(SPAMASSASSIN_HINT, pytrace=False)
        pytest.skip(SPAMASSASSIN_HINT)
    return found


@pytest.fixture(autouse=True)
def real_sender(settings):
    """What production is configured with: a real domain, not localhost."""
    settings.DEFAULT_FROM_EMAIL = "Skincare <news@skincare.example>"
    settings.SITE_URL = "https://skincare.example"


def spam_score(spamassassin: str, message: bytes) -> tuple[float, str]:
    result = subprocess.run(
        [spamassassin, "-t", "-L"], input=message, capture_output=True, timeout=120
    )
    output = result.stdout.decode("utf-8", "replace")
    status = STATUS.search(output)
    assert status, f"no X-Spam-Status in SpamAssassin's output:\n{output[:2000]}"
    rules = "\n".join(
        f"{points:>6} {name}"
        for points, name in RULE.findall(
            output.partition("Content analysis details")[2]
        )
    )
    return float(status.group(1)), rules


def issue_with_everything() -> Issue:
    issue = make_issue(
        status=Issue.Status.SENT,
        subject="Winter skin, kept calm",
        preheader="Three habits for dry, itchy winter skin, and what to skip.",
        body=(
            "<p>Cold air and indoor heating dry the skin out. Three habits help "
            "more than any product.</p>"
            "<h2>Short, warm showers</h2>"
            "<p>Hot water strips the oils that keep skin supple. Keep showers to "
            "about ten minutes and pat dry.</p>"
            "<ul><li>Moisturise within three minutes</li>"
            "<li>Choose fragrance-free creams</li></ul>"
            '<p>More in <a href="/articles/">our articles</a>.</p>'
        ),
    )
    for position in range(3):
        article = make_article(
            title=f"Dry skin in winter, part {position + 1}",
            summary="What a dermatologist recommends for dry skin in winter.",
        )
        IssueArticle.objects.create(issue=issue, article=article, position=position)
    return issue


def assert_low(spamassassin: str, messages: dict[str, bytes]) -> None:
    too_high = []
    for name, message in messages.items():
        score, rules = spam_score(spamassassin, message)
        if score > MAX_SCORE:
            too_high.append(f"{name} scores {score} (at most {MAX_SCORE}):\n{rules}")
    assert not too_high, "\n".join(too_high)


def test_confirmation_email_scores_low_with_spamassassin(spamassassin):
    subscriber = make_subscriber(email="ada@example.com", first_name="Ada")
    message = emails.confirmation_message(subscriber=subscriber)
    assert_low(spamassassin, {"confirmation email": message.message().as_bytes()})


def test_issue_email_scores_low_with_spamassassin(spamassassin):
    issue = issue_with_everything()
    subscriber = make_subscriber(
        email="ada@example.com", first_name="Ada", status=Subscriber.Status.CONFIRMED
    )
    # As subscribers get it: links through the click counter.
    rendered = emails.rendered_issue(issue)
    # The worker sends issue_payload(); issue_message() is the same message built
    # by the email package (admin previews, tests): both must score low.
    payload = emails.issue_payload(rendered=rendered, subscriber=subscriber)
    html = message_from_bytes(payload, policy=policy.default).get_body(("html",))
    assert issue.preheader in html.get_content()
    message = emails.issue_message(rendered=rendered, subscriber=subscriber)
    assert_low(
        spamassassin,
        {
            "issue email (issue_payload)": payload,
            "issue email (issue_message)": message.message().as_bytes(),
        },
    )


def test_advice_change_notice_and_digest_what_changed_score_low(spamassassin):
    """A notice that advice changed, and a digest trimmed to one reader's topic
    with its "What changed" section, as the worker sends them."""
    topic = make_topic(name="Sun care")
    article = make_article(topic=topic, title="Sunscreen basics")
    correction = Correction.objects.create(
        article=article,
        text="We said SPF 15 was enough; we now advise SPF 30 or more, every day.",
        changes_advice=True,
        tell_readers=Correction.TellReaders.NOW,
    )
    notice = Issue.objects.get(correction=correction)
    digest = issue_with_everything()
    digest.kind = Issue.Kind.DIGEST
    digest.save()
    IssueArticle.objects.create(issue=digest, article=article, position=9)
    digest.corrections.set([correction])
    subscriber = make_subscriber(
        email="ada@example.com", first_name="Ada", status=Subscriber.Status.CONFIRMED
    )
    trimmed = emails.rendered_issue(digest, topics=(topic.pk,))
    assert "What changed" in trimmed.html and "Dry skin in winter" not in trimmed.html
    assert_low(
        spamassassin,
        {
            "notice email": emails.issue_payload(
                rendered=emails.rendered_issue(notice), subscriber=subscriber
            ),
            "trimmed digest": emails.issue_payload(
                rendered=trimmed, subscriber=subscriber
            ),
        },
    )


def test_welcome_email_scores_low_with_spamassassin(spamassassin):
    # The text the migration writes, as a subscriber gets it.
    welcome = WelcomeEmail.objects.get()
    subscriber = make_subscriber(
        email="ada@example.com", first_name="Ada", status=Subscriber.Status.CONFIRMED
    )
    message = emails.welcome_message(welcome=welcome, subscriber=subscriber)
    assert_low(spamassassin, {"welcome email": message.message().as_bytes()})


def test_welcome_series_steps_score_low_with_spamassassin(spamassassin):
    # The launch content's steps ("KP basics"), as a subscriber gets them.
    assert WelcomeStep.objects.count() == 3
    subscriber = make_subscriber(
        email="ada@example.com", first_name="Ada", status=Subscriber.Status.CONFIRMED
    )
    assert_low(
        spamassassin,
        {
            f"welcome series step {step.position}": emails.welcome_step_message(
                step=step, position=step.position, subscriber=subscriber
            )
            .message()
            .as_bytes()
            for step in WelcomeStep.objects.all()
        },
    )


def test_spam_score_harness_reports_a_spammy_message(spamassassin):
    spam = (
        b"From: winner@lottery.example\r\nTo: ada@example.com\r\n"
        b"Subject: FREE!!! You are a WINNER - claim your CASH PRIZE now\r\n"
        b"\r\n"
        b"Dear winner, you have won $1,000,000 USD. 100% FREE, no risk. Click here "
        b"to claim your cash prize now! Act now, limited time offer!!! Viagra.\r\n"
    )
    score, rules = spam_score(spamassassin, spam)
    assert score > MAX_SCORE, rules
    assert rules
