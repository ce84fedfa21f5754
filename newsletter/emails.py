"""Builds every newsletter email (templates/newsletter/email/, rendered by
core/emails.py).

Issue emails are rendered once per issue with placeholders, then personalised by
substitution, so a send of many thousands does not render templates once per
recipient. The rendering for subscribers also routes its links through the click
counter (newsletter/issues/clicks.py), signing each link once per issue.
"""

import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, parseaddr
from functools import cached_property, lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.html import escape

from articles.public import Article, ImageRendition
from core.emails import (
    build,
    date_header,
    from_domain,
    html_to_text,
    inline_styles,
    render_email,
)
from core.links import absolute, absolutize_html
from core.media import stored_url
from core.sanitize import sanitize_html
from newsletter.issues.clicks import track_links
from newsletter.models import (
    Issue,
    Subscriber,
    WelcomeApproval,
    WelcomeEmail,
    WelcomeStep,
    WelcomeStepApproval,
)
from newsletter.subscribers.tokens import Purpose, make_token

# The welcome email's text, or a later step's: its draft (tests to staff) or an
# approved copy (to subscribers).
WelcomeText = WelcomeEmail | WelcomeApproval | WelcomeStep | WelcomeStepApproval

# Personal parts of an issue email, filled in per recipient after rendering once.
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"
PREFERENCES_URL = "%%PREFERENCES_URL%%"
DATA_URL = "%%DATA_URL%%"
GREETING_NAME = "%%FIRST_NAME%%"
# "{first_name}" after a space: the space goes too when the name is unknown.
GREETING_SPACED_NAME = "%%SPACE_FIRST_NAME%%"

# The one placeholder an issue's greeting may use.
NAME_FIELD = "{first_name}"


def check_greeting(greeting: str) -> None:
    """Refuse a greeting with a placeholder other than {first_name}."""
    unknown = re.findall(r"\{[^{}]*\}?|\}", greeting.replace(NAME_FIELD, ""))
    if unknown:
        raise ValidationError(
            "The greeting can only use {first_name} (the reader's first name); "
            f"remove {', '.join(dict.fromkeys(unknown))}.",
            code="unknown_placeholder",
        )


def greeting_template(greeting: str) -> str:
    """The greeting with placeholders that personalise() fills in per reader."""
    return greeting.replace(f" {NAME_FIELD}", GREETING_SPACED_NAME).replace(
        NAME_FIELD, GREETING_NAME
    )


def message_id(*, issue: Issue, subscriber: Subscriber) -> str:
    """The same Message-ID for every attempt at one delivery, unguessable."""
    key = settings.SECRET_KEY.encode()
    mac = hmac.new(key, f"{issue.pk}:{subscriber.pk}".encode(), hashlib.sha256)
    return f"<issue{issue.pk}.{subscriber.pk}.{mac.hexdigest()[:16]}@{from_domain()}>"


@lru_cache(maxsize=16)
def _link_template(name: str, site_url: str) -> str:
    # One reverse() per URL name, not two per recipient of a large send.
    return site_url + reverse(name, kwargs={"token": "TOKEN"})


def subscriber_links(
    subscriber: Subscriber, *, issue: Issue | None = None
) -> dict[str, str]:
    """The personal links of an email; in an issue, the unsubscribe link names it
    (the issue's statistics count who left through it)."""

    def link(name: str, purpose: Purpose, issue_id: int | None = None) -> str:
        token = make_token(subscriber=subscriber, purpose=purpose, issue_id=issue_id)
        return _link_template(name, settings.SITE_URL).replace("TOKEN", token)

    return {
        "unsubscribe_url": link(
            "newsletter:unsubscribe", Purpose.UNSUBSCRIBE, issue.pk if issue else None
        ),
        "preferences_url": link("newsletter:preferences", Purpose.PREFERENCES),
        "data_url": link("newsletter:data", Purpose.DATA),
    }


def confirmation_message(*, subscriber: Subscriber) -> EmailMultiAlternatives:
    token = make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)
    context = {
        "subscriber": subscriber,
        "confirm_url": absolute(reverse("newsletter:confirm", kwargs={"token": token})),
        "max_age_days": settings.NEWSLETTER_CONFIRM_MAX_AGE_DAYS,
        **subscriber_links(subscriber),
    }
    subject, text, html = render_email("newsletter/email/confirmation", context)
    return build(to=subscriber.email, subject=subject, text=text, html=html)


def data_export_message(
    *, subscriber: Subscriber, data: dict
) -> EmailMultiAlternatives:
    context = {"subscriber": subscriber, "data": data, **subscriber_links(subscriber)}
    subject, text, html = render_email("newsletter/email/data_export", context)
    return build(to=subscriber.email, subject=subject, text=text, html=html)


def data_delete_message(*, subscriber: Subscriber) -> EmailMultiAlternatives:
    """The link that deletes a subscriber, to the address they have right now."""
    token = make_token(subscriber=subscriber, purpose=Purpose.DELETE)
    context = {
        "subscriber": subscriber,
        "delete_url": absolute(
            reverse("newsletter:data_delete", kwargs={"token": token})
        ),
        "max_age_hours": settings.NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS,
        **subscriber_links(subscriber),
    }
    subject, text, html = render_email("newsletter/email/data_delete", context)
    return build(to=subscriber.email, subject=subject, text=text, html=html)


@dataclass(frozen=True)
class RenderedIssue:
    issue: Issue
    subject: str
    text: str
    html: str

    @cached_property
    def encoded_subject(self) -> str:
        return Header(self.subject, "utf-8", header_name="Subject").encode()

    @cached_property
    def sender(self) -> tuple[str, str]:
        """(envelope address, encoded From header)."""
        name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        header = formataddr((name, address), charset="utf-8") if name else address
        return address, header


# Emails show covers as JPEG or PNG (few mail clients show AVIF or WebP), at a
# width that stays sharp in a 600-pixel column on a high-density screen.
EMAIL_IMAGE_FORMATS = {"JPEG", "PNG"}
EMAIL_COVER_WIDTH = 1200


def _email_covers(articles: list[Article]) -> dict[str, dict]:
    """{cover source: {url, alt}}: the widest fitting rendition when one was made
    (articles/publishing/renditions.py makes them in the background), else the
    upload."""
    sources = {a.cover_image.name: a for a in articles if a.cover_image}
    if not sources:
        return {}
    best = dict(
        ImageRendition.objects.filter(
            source__in=sources,
            format__in=EMAIL_IMAGE_FORMATS,
            width__lte=EMAIL_COVER_WIDTH,
        )
        .order_by("source", "width")
        .values_list("source", "file")
    )
    return {
        source: {
            "url": absolute(
                stored_url(best[source]) if source in best else article.cover_image.url
            ),
            "alt": article.cover_image_alt,
        }
        for source, article in sources.items()
    }


def render_issue(
    issue: Issue,
    *,
    count_clicks: bool = False,
    topics: tuple[int, ...] | None = None,
    changes: bool = True,
) -> RenderedIssue:
    """Render an issue once, with placeholders where each recipient differs.

    A digest shows its articles under their topics, with their covers, then what
    changed in the advice (its corrections). Trimmed to a reader: only the
    articles and corrections of `topics` (None: all of them), and the "What
    changed" section only with `changes`; a part of the approved text, never
    more. Links go through the click counter only with `count_clicks`: staff
    previews and tests link directly, so their clicks are not counted as readers'.
    """
    items = list(
        issue.issuearticle_set.select_related("article__topic").order_by(
            "position", "pk"
        )
    )
    if topics is not None:
        items = [item for item in items if item.article.topic_id in topics]
    digest = issue.kind == Issue.Kind.DIGEST
    changed = [
        {
            "text": correction.text,
            "title": correction.article.title,
            "url": absolute(correction.article.get_absolute_url()),
            "topic": correction.article.topic.name,
        }
        for correction in (
            issue.corrections.select_related("article__topic").order_by(
                "published_at", "pk"
            )
            if digest and changes and issue.pk is not None
            else []
        )
        if topics is None or correction.article.topic_id in topics
    ]
    covers = _email_covers([i.article for i in items]) if digest else {}
    featured = [
        {
            "title": item.article.title,
            "summary": item.article.summary,
            "url": absolute(item.article.get_absolute_url()),
            "topic": item.article.topic.name,
            "cover": covers.get(item.article.cover_image.name),
        }
        for item in items
    ]
    context = {
        "issue": issue,
        "digest": digest,
        "body_html": inline_styles(absolutize_html(issue.body)),
        "body_text": html_to_text(absolutize_html(issue.body)),
        "featured": featured,
        "changed": changed,
        "archive_url": absolute(issue.get_absolute_url()),
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
        "data_url": DATA_URL,
        "greeting": greeting_template(issue.greeting.strip()),
    }
    subject, text, html = render_email("newsletter/email/issue", context)
    if count_clicks:
        html, text = track_links(issue_id=issue.pk, html_part=html, text_part=text)
    return RenderedIssue(issue=issue, subject=subject, text=text, html=html)


# Room for a few issues, each in the versions its readers' topics make.
@lru_cache(maxsize=64)
def _rendered(
    issue_pk: int, updated_at: str, topics: tuple[int, ...] | None, changes: bool
) -> RenderedIssue:
    return render_issue(
        Issue.objects.get(pk=issue_pk),
        count_clicks=True,
        topics=topics,
        changes=changes,
    )


def rendered_issue(
    issue: Issue, *, topics: tuple[int, ...] | None = None, changes: bool = True
) -> RenderedIssue:
    """What subscribers get, links counted; for a digest, trimmed to `topics`
    and `changes` (render_issue). Cached per process, so readers alike share one
    rendering; a changed issue (new updated_at) renders afresh."""
    key = None if topics is None else tuple(sorted(topics))
    return _rendered(issue.pk, issue.updated_at.isoformat(), key, changes)


def personalise(template: str, *, links: dict, first_name: str, html: bool) -> str:
    # "Hi {first_name}," reads "Hi Ada," or, with no name, "Hi,".
    name = escape(first_name) if html else first_name
    return (
        template.replace(UNSUBSCRIBE_URL, links["unsubscribe_url"])
        .replace(PREFERENCES_URL, links["preferences_url"])
        .replace(DATA_URL, links["data_url"])
        .replace(GREETING_SPACED_NAME, f" {name}" if name else "")
        .replace(GREETING_NAME, name)
    )


def list_headers(links: dict) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers of every newsletter email: one-click
    unsubscribe for mail clients, and the list's identity for filters."""
    return {
        "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"Skincare newsletter <newsletter.{from_domain()}>",
    }


def issue_message(
    *, rendered: RenderedIssue, subscriber: Subscriber
) -> EmailMultiAlternatives:
    links = subscriber_links(subscriber, issue=rendered.issue)
    name = subscriber.first_name.strip()
    headers = {
        "Message-ID": message_id(issue=rendered.issue, subscriber=subscriber),
        **list_headers(links),
    }
    return build(
        to=subscriber.email,
        subject=rendered.subject,
        text=personalise(rendered.text, links=links, first_name=name, html=False),
        html=personalise(rendered.html, links=links, first_name=name, html=True),
        headers=headers,
    )


def _qp(text: str) -> bytes:
    # binascii's quoted-printable encoder is C; the email package's is Python.
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def issue_payload(*, rendered: RenderedIssue, subscriber: Subscriber) -> bytes:
    """The same message as issue_message(), as bytes ready for SMTP DATA.

    A send of many thousands spends most of its time in the email package's MIME
    generator; this writes the one fixed layout directly. The tests check that both
    give the same headers and parts.
    """
    links = subscriber_links(subscriber, issue=rendered.issue)
    name = subscriber.first_name.strip()
    text = personalise(rendered.text, links=links, first_name=name, html=False)
    html = personalise(rendered.html, links=links, first_name=name, html=True)
    boundary = f"==============={secrets.token_hex(12)}=="
    to = subscriber.email
    if not to.isascii():
        to = Header(to, "utf-8", header_name="To").encode()
    head = (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        "MIME-Version: 1.0\r\n"
        f"Subject: {rendered.encoded_subject}\r\n"
        f"From: {rendered.sender[1]}\r\n"
        f"To: {to}\r\n"
        f"Date: {date_header()}\r\n"
        f"Message-ID: {message_id(issue=rendered.issue, subscriber=subscriber)}\r\n"
        f"List-Unsubscribe: <{links['unsubscribe_url']}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        f"List-Id: Skincare newsletter <newsletter.{from_domain()}>\r\n"
        "\r\n"
    )
    part = (
        '--{boundary}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
        "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return b"".join(
        [
            head.encode("ascii"),
            part.format(boundary=boundary, kind="plain").encode("ascii"),
            _qp(text),
            b"\r\n",
            part.format(boundary=boundary, kind="html").encode("ascii"),
            _qp(html),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        ]
    )


def test_issue_message(*, issue: Issue, to: str) -> EmailMultiAlternatives:
    """What subscribers will get, to a staff address, with inert personal links."""
    rendered = render_issue(issue)
    inert = absolute(reverse("newsletter:subscribe"))
    links = {"unsubscribe_url": inert, "preferences_url": inert, "data_url": inert}
    return build(
        to=to,
        subject=f"[Test] {rendered.subject}",
        text=personalise(rendered.text, links=links, first_name="", html=False),
        html=personalise(rendered.html, links=links, first_name="", html=True),
    )


def welcome_message_id(*, subscriber: Subscriber) -> str:
    """One Message-ID per subscription (subscriber and confirmation time), the
    same for every attempt, so a receiving server can drop a second copy."""
    key = settings.SECRET_KEY.encode()
    confirmed = subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else ""
    mac = hmac.new(key, f"welcome:{subscriber.pk}:{confirmed}".encode(), "sha256")
    return f"<welcome{subscriber.pk}.{mac.hexdigest()[:16]}@{from_domain()}>"


def _welcome_parts(
    welcome: WelcomeText,
    *,
    links: dict,
    first_name: str,
    template: str = "newsletter/email/welcome",
) -> tuple[str, str, str]:
    """(subject, text, html) of the welcome email (or of a later step of the
    welcome series: `template`), personalised."""
    # Saved sanitised; sanitised again so nothing unsafe can ever be sent.
    body = absolutize_html(sanitize_html(html=welcome.body))
    context = {
        "welcome": welcome,
        "body_html": inline_styles(body),
        "body_text": html_to_text(body),
        "greeting": greeting_template(welcome.greeting.strip()),
        "archive_url": absolute(reverse("newsletter:archive")),
        **links,
    }
    subject, text, html = render_email(template, context)
    return (
        subject,
        personalise(text, links=links, first_name=first_name, html=False),
        personalise(html, links=links, first_name=first_name, html=True),
    )


def welcome_message(
    *, welcome: WelcomeText, subscriber: Subscriber
) -> EmailMultiAlternatives:
    """The welcome email to a subscriber who just confirmed, with the same
    unsubscribe link and one-click headers as an issue."""
    links = subscriber_links(subscriber)
    subject, text, html = _welcome_parts(
        welcome, links=links, first_name=subscriber.first_name.strip()
    )
    return build(
        to=subscriber.email,
        subject=subject,
        text=text,
        html=html,
        headers={
            "Message-ID": welcome_message_id(subscriber=subscriber),
            **list_headers(links),
        },
    )


def test_welcome_message(*, welcome: WelcomeText, to: str) -> EmailMultiAlternatives:
    """The welcome email as subscribers get it, to a staff address, with inert
    personal links."""
    inert = absolute(reverse("newsletter:subscribe"))
    subject, text, html = _welcome_parts(
        welcome,
        links={"unsubscribe_url": inert, "preferences_url": inert, "data_url": inert},
        first_name="",
    )
    return build(to=to, subject=f"[Test] {subject}", text=text, html=html)


# The welcome series' later steps: an approved copy of a step's text (to
# subscribers) or its draft (a test to staff); same fields as the welcome email.
STEP_TEMPLATE = "newsletter/email/welcome_step"


def welcome_step_message_id(*, subscriber: Subscriber, position: int) -> str:
    """One Message-ID per step of a subscription, the same for every attempt."""
    key = settings.SECRET_KEY.encode()
    confirmed = subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else ""
    mac = hmac.new(
        key, f"welcome-step:{position}:{subscriber.pk}:{confirmed}".encode(), "sha256"
    )
    return (
        f"<welcome{subscriber.pk}.step{position}.{mac.hexdigest()[:16]}"
        f"@{from_domain()}>"
    )


def welcome_step_message(
    *, step: WelcomeText, position: int, subscriber: Subscriber
) -> EmailMultiAlternatives:
    """A later step of the welcome series to a subscriber, with the same
    unsubscribe link and one-click headers as an issue."""
    links = subscriber_links(subscriber)
    subject, text, html = _welcome_parts(
        step,
        links=links,
        first_name=subscriber.first_name.strip(),
        template=STEP_TEMPLATE,
    )
    return build(
        to=subscriber.email,
        subject=subject,
        text=text,
        html=html,
        headers={
            "Message-ID": welcome_step_message_id(
                subscriber=subscriber, position=position
            ),
            **list_headers(links),
        },
    )


def test_welcome_step_message(*, step: WelcomeText, to: str) -> EmailMultiAlternatives:
    """A step of the welcome series as subscribers get it, to a staff address,
    with inert personal links."""
    inert = absolute(reverse("newsletter:subscribe"))
    subject, text, html = _welcome_parts(
        step,
        links={"unsubscribe_url": inert, "preferences_url": inert, "data_url": inert},
        first_name="",
        template=STEP_TEMPLATE,
    )
    return build(to=to, subject=f"[Test] {subject}", text=text, html=html)
