"""Builds every newsletter email from its _subject.txt / .txt / .html templates.

Email HTML carries inline styles only (mail clients drop <style> and external CSS)
and absolute links to this site. Issue emails are rendered once per issue with
placeholders, then personalised by substitution, so a send of many thousands does
not render templates once per recipient.
"""

import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import cached_property, lru_cache
from html import unescape
from html.parser import HTMLParser

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from newsletter.models import Issue, Subscriber
from newsletter.tokens import Purpose, make_token

FONT = "font-family:Georgia,'Times New Roman',serif;"
SANS = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
INLINE_STYLES = {
    "h2": f"{FONT}font-size:22px;line-height:1.3;color:#1d1f23;margin:28px 0 8px;",
    "h3": f"{FONT}font-size:18px;line-height:1.3;color:#1d1f23;margin:22px 0 6px;",
    "h4": f"{SANS}font-size:16px;line-height:1.3;color:#1d1f23;margin:18px 0 6px;",
    "p": f"{SANS}font-size:16px;line-height:1.6;color:#1d1f23;margin:0 0 16px;",
    "ul": f"{SANS}font-size:16px;line-height:1.6;color:#1d1f23;margin:0 0 16px;"
    "padding-left:22px;",
    "ol": f"{SANS}font-size:16px;line-height:1.6;color:#1d1f23;margin:0 0 16px;"
    "padding-left:22px;",
    "li": "margin:0 0 6px;",
    "a": "color:#0b5e57;text-decoration:underline;",
    "blockquote": "margin:0 0 16px;padding:4px 0 4px 14px;"
    "border-left:4px solid #0b5e57;color:#545860;",
    "img": "display:block;max-width:100%;height:auto;border:0;border-radius:6px;",
    "table": "border-collapse:collapse;width:100%;margin:0 0 16px;",
    "th": "border:1px solid #e4ddd3;padding:6px 8px;text-align:left;"
    "background:#f6efe6;",
    "td": "border:1px solid #e4ddd3;padding:6px 8px;text-align:left;",
}
# Personal parts of an issue email, filled in per recipient after rendering once.
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"
DATA_URL = "%%DATA_URL%%"
GREETING_NAME = "%%FIRST_NAME%%"


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def absolutize(html: str) -> str:
    """Site-relative links and images become absolute (emails have no base URL)."""
    return re.sub(r'(\s(?:href|src)=")/(?!/)', rf"\1{settings.SITE_URL}/", html or "")


def inline_styles(html: str) -> str:
    """Style sanitised editor HTML for mail clients (its tags carry no style)."""

    def add_style(match: re.Match) -> str:
        tag = match.group(1)
        return f'<{tag} style="{INLINE_STYLES[tag]}"{match.group(2)}'

    tags = "|".join(INLINE_STYLES)
    return re.sub(rf"<({tags})(\s|/?>)", add_style, html)


class _TextConverter(HTMLParser):
    """Plain-text version of sanitised HTML: readable, with links spelled out."""

    BLOCKS = {"p", "h2", "h3", "h4", "ul", "ol", "blockquote", "table", "tr", "figure"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        if tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in {"td", "th"}:
            self.parts.append(" | ")
        elif tag == "a":
            self.href = attributes.get("href")
            self.link_text = []
        elif tag == "img" and attributes.get("alt"):
            self.parts.append(f"[{attributes['alt']}]")

    def handle_endtag(self, tag):
        if tag == "a" and self.href:
            text = "".join(self.link_text).strip()
            if self.href not in text:
                self.parts.append(f" ({self.href})")
            self.href = None
        if tag in {"h2", "h3"}:
            heading = self.parts.pop() if self.parts else ""
            self.parts.append(heading.upper() if tag == "h2" else heading)

    def handle_data(self, data):
        text = re.sub(r"\s+", " ", data)
        if self.href is not None:
            self.link_text.append(text)
        self.parts.append(text)

    def text(self) -> str:
        joined = "".join(self.parts)
        joined = re.sub(r"[ \t]+\n", "\n", joined)
        return re.sub(r"\n{3,}", "\n\n", joined).strip()


def html_to_text(html: str) -> str:
    converter = _TextConverter()
    converter.feed(html or "")
    converter.close()
    return unescape(converter.text())


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/newsletter/email/<name>_subject.txt etc."""
    base = f"newsletter/email/{name}"
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    text = render_to_string(f"{base}.txt", context).strip() + "\n"
    html = render_to_string(f"{base}.html", context)
    return subject, text, html


def from_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(*, issue: Issue, subscriber: Subscriber) -> str:
    """The same Message-ID for every attempt at one delivery, unguessable."""
    key = settings.SECRET_KEY.encode()
    mac = hmac.new(key, f"{issue.pk}:{subscriber.pk}".encode(), hashlib.sha256)
    return f"<issue{issue.pk}.{subscriber.pk}.{mac.hexdigest()[:16]}@{from_domain()}>"


@lru_cache(maxsize=16)
def _link_template(name: str, site_url: str) -> str:
    # One reverse() per URL name, not two per recipient of a large send.
    return site_url + reverse(name, kwargs={"token": "TOKEN"})


def subscriber_links(subscriber: Subscriber) -> dict[str, str]:
    def link(name: str, purpose: Purpose) -> str:
        token = make_token(subscriber=subscriber, purpose=purpose)
        return _link_template(name, settings.SITE_URL).replace("TOKEN", token)

    return {
        "unsubscribe_url": link("newsletter:unsubscribe", Purpose.UNSUBSCRIBE),
        "data_url": link("newsletter:data", Purpose.DATA),
    }


def build(
    *, to: str, subject: str, text: str, html: str, headers: dict | None = None
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=[to], headers=headers or {}
    )
    message.attach_alternative(html, "text/html")
    return message


def confirmation_message(*, subscriber: Subscriber) -> EmailMultiAlternatives:
    token = make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)
    context = {
        "subscriber": subscriber,
        "confirm_url": absolute_url(
            reverse("newsletter:confirm", kwargs={"token": token})
        ),
        "max_age_days": settings.NEWSLETTER_CONFIRM_MAX_AGE_DAYS,
        **subscriber_links(subscriber),
    }
    subject, text, html = render_email("confirmation", context)
    return build(to=subscriber.email, subject=subject, text=text, html=html)


def data_export_message(
    *, subscriber: Subscriber, data: dict
) -> EmailMultiAlternatives:
    context = {"subscriber": subscriber, "data": data, **subscriber_links(subscriber)}
    subject, text, html = render_email("data_export", context)
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


def render_issue(issue: Issue) -> RenderedIssue:
    """Render an issue once, with placeholders where each recipient differs."""
    featured = [
        {
            "title": item.article.title,
            "summary": item.article.summary,
            "url": absolute_url(item.article.get_absolute_url()),
        }
        for item in issue.issuearticle_set.select_related("article").order_by(
            "position", "pk"
        )
    ]
    context = {
        "issue": issue,
        "body_html": inline_styles(absolutize(issue.body)),
        "body_text": html_to_text(absolutize(issue.body)),
        "featured": featured,
        "archive_url": absolute_url(issue.get_absolute_url()),
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "data_url": DATA_URL,
        "first_name": GREETING_NAME,
    }
    subject, text, html = render_email("issue", context)
    return RenderedIssue(issue=issue, subject=subject, text=text, html=html)


@lru_cache(maxsize=8)
def _rendered(issue_pk: int, updated_at: str) -> RenderedIssue:
    return render_issue(Issue.objects.get(pk=issue_pk))


def rendered_issue(issue: Issue) -> RenderedIssue:
    """Cached per process; a changed issue (new updated_at) renders afresh."""
    return _rendered(issue.pk, issue.updated_at.isoformat())


def personalise(template: str, *, links: dict, first_name: str, html: bool) -> str:
    # The template writes "Hi%%FIRST_NAME%%,": "Hi Ada," or, with no name, "Hi,".
    name = f" {escape(first_name) if html else first_name}" if first_name else ""
    return (
        template.replace(UNSUBSCRIBE_URL, links["unsubscribe_url"])
        .replace(DATA_URL, links["data_url"])
        .replace(GREETING_NAME, name)
    )


def issue_message(
    *, rendered: RenderedIssue, subscriber: Subscriber
) -> EmailMultiAlternatives:
    links = subscriber_links(subscriber)
    name = subscriber.first_name.strip()
    headers = {
        "Message-ID": message_id(issue=rendered.issue, subscriber=subscriber),
        "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"Skincare newsletter <newsletter.{from_domain()}>",
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
    links = subscriber_links(subscriber)
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
        f"Date: {formatdate(localtime=False)}\r\n"
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
    links = {
        "unsubscribe_url": absolute_url(reverse("newsletter:subscribe")),
        "data_url": absolute_url(reverse("newsletter:subscribe")),
    }
    return build(
        to=to,
        subject=f"[Test] {rendered.subject}",
        text=personalise(rendered.text, links=links, first_name="", html=False),
        html=personalise(rendered.html, links=links, first_name="", html=True),
    )
