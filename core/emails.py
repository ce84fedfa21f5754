"""Emails as the site builds them: templates to (subject, text, HTML), inline
styles for mail clients, plain text from HTML, and the message itself.

Each email is a `<name>_subject.txt` / `<name>.txt` / `<name>.html` triplet of
templates. Email HTML carries inline styles only (mail clients drop <style> and
external CSS) and absolute links to this site (core/links.py).
"""

import re
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

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


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from the templates <template>_subject.txt, .txt, .html."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    text = render_to_string(f"{template}.txt", context).strip() + "\n"
    html = render_to_string(f"{template}.html", context)
    return subject, text, html


def from_domain() -> str:
    """The domain of the From address: Message-IDs and List-Id use it."""
    return _domain_of(settings.DEFAULT_FROM_EMAIL)


# Asked twice per message of a send; parsing the address each time cost about 6%
# of the sending loop. Keyed on the setting's value, so a changed setting counts.
@lru_cache(maxsize=8)
def _domain_of(from_email: str) -> str:
    address = parseaddr(from_email)[1]
    return address.rpartition("@")[2] or "localhost"


def date_header() -> str:
    """Now, for a Date header, with the zone as +0000: Python's formatdate (and so
    Django) writes -0000, which RFC 5322 reads as "time zone unknown" and spam
    filters count against the message."""
    return format_datetime(timezone.now())


def build(
    *, to: str, subject: str, text: str, html: str, headers: dict | None = None
) -> EmailMultiAlternatives:
    """A text and HTML message from the site's sender. Its Message-ID is on the From
    domain (not this machine's host name), and its Date in UTC (+0000), unless
    `headers` gives them."""
    headers = {
        "Message-ID": make_msgid(domain=from_domain()),
        "Date": date_header(),
        **(headers or {}),
    }
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=[to], headers=headers
    )
    message.attach_alternative(html, "text/html")
    return message
