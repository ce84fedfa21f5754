"""Counting clicks on the links of an issue email, per link and never per reader.

An issue's links are rewritten, once per rendering of the issue (not per
recipient), to /newsletter/c/<token>/ on this site. The token is signed and holds
the issue and the destination only: every reader gets the same link, so a click
cannot tell who made it. The redirect adds one to that link's count
(LinkClick) and sends the reader on.

Not counted: the newsletter's own pages other than the archive (unsubscribe,
confirm, data and preference links are personal and must keep working as they
are), links that are not http(s), and the web archive's copy of an issue.
"""

import html
import re
import zlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Issue, LinkClick

SALT = "newsletter.click"
# LinkClick.url's length; longer links go out as they are, uncounted.
MAX_URL_BYTES = 2000

_ANCHOR_HREF = re.compile(r'(<a\b[^>]*?\shref=")(https?://[^"]+)(")', re.IGNORECASE)


class BadClick(Exception):
    """Not a click link this site made: forged, altered or malformed."""


def make_token(*, issue_id: int, url: str) -> str:
    # No timestamp: the link works as long as the email is kept, and the same
    # link renders the same token on every worker.
    signer = signing.Signer(salt=SALT)
    return signer.sign_object({"i": issue_id, "u": url}, compress=True)


def read_token(token: str) -> tuple[int, str]:
    """(issue id, destination) of a click link; BadClick for anything else."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, zlib.error):
        # ValueError, zlib.error: signed by us, yet not a click token's shape (a
        # timed token made with this salt unsigns, then fails to decode).
        raise BadClick from None
    if not isinstance(payload, dict):
        raise BadClick
    issue_id, url = payload.get("i"), payload.get("u")
    # type() rather than isinstance(): True is an int.
    if type(issue_id) is not int or issue_id <= 0 or not isinstance(url, str):
        raise BadClick
    if not is_countable(url):
        raise BadClick
    return issue_id, url


def click_url(*, issue_id: int, url: str) -> str:
    token = make_token(issue_id=issue_id, url=url)
    return settings.SITE_URL + reverse("newsletter:click", kwargs={"token": token})


def is_countable(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    if len(url.encode()) > MAX_URL_BYTES:
        return False
    own = settings.SITE_URL.rstrip("/")
    newsletter = own + reverse("newsletter:subscribe")
    archive = own + reverse("newsletter:archive")
    # The newsletter's pages carry personal tokens (unsubscribe, confirm, data,
    # preferences): those links stay exactly as they were made.
    return not url.startswith(newsletter) or url.startswith(archive)


def track_links(*, issue_id: int, html_part: str, text_part: str) -> tuple[str, str]:
    """Both parts of a rendered issue with their links going through the counter.

    Each distinct link is signed once. In the text part, a web address is
    rewritten only where it stands whole (followed by a space, punctuation or
    the end), and only if the HTML part links to it too.
    """
    tracked: dict[str, str] = {}

    def rewrite_anchor(match: re.Match) -> str:
        url = html.unescape(match.group(2))
        if not is_countable(url):
            return match.group(0)
        if url not in tracked:
            tracked[url] = click_url(issue_id=issue_id, url=url)
        return f"{match.group(1)}{html.escape(tracked[url])}{match.group(3)}"

    html_part = _ANCHOR_HREF.sub(rewrite_anchor, html_part)
    if not tracked:
        return html_part, text_part
    # Longest first, so a link is never taken for a shorter one it starts with.
    known = "|".join(re.escape(url) for url in sorted(tracked, key=len, reverse=True))
    whole = re.compile(rf"(?<![\w/])({known})(?=[\s).,;:!?'\">\]]|$)")
    text_part = whole.sub(lambda match: tracked[match.group(1)], text_part)
    return html_part, text_part


# The fragment an article's counting script reads to count a view as the
# newsletter's (articles/readership/): a fragment never reaches a server, so the
# page cache and CDNs keep one copy of the page.
NEWSLETTER_LANDING = "via-newsletter"


def landing_url(url: str) -> str:
    """Where the click sends the reader: one of our articles gets the fragment
    that marks the view as the newsletter's; a link that has its own fragment,
    and any other page, goes out as it was."""
    parts = urlsplit(url)
    own = urlsplit(settings.SITE_URL)
    articles = reverse("articles:list")
    if (
        parts.scheme == own.scheme
        and parts.netloc == own.netloc
        and parts.path.startswith(articles)
        and parts.path != articles
        and not parts.fragment
        and not url.endswith("#")
    ):
        return f"{url}#{NEWSLETTER_LANDING}"
    return url


def count_click(*, issue_id: int, url: str) -> None:
    """Add one to a link's count, safely beside other clicks on the same link."""
    now = timezone.now()
    link = LinkClick.objects.filter(issue_id=issue_id, url=url)
    if link.update(clicks=F("clicks") + 1, last_at=now):
        return
    if not Issue.objects.filter(pk=issue_id).exists():
        return  # Deleted since: the reader still reaches the page.
    try:
        with transaction.atomic():
            LinkClick.objects.create(
                issue_id=issue_id, url=url, clicks=1, first_at=now, last_at=now
            )
    except IntegrityError:
        # The first click on this link came from two readers at once.
        link.update(clicks=F("clicks") + 1, last_at=now)
