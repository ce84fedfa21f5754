"""A stored article page put together without the template engine.

A live article's stored page (articles/publishing/stored.py) is its stored parts
(head, the main part above and below the related articles, the related cards)
inside the site's layout: base.html with its header and footer, the related
list's frame and the counting script's tag. That layout is the same on every
such page: it depends on the address's name, the script prefix, the year,
whether counting is on and whether there are related cards; never on the visitor
(the page holds no token, nonce or session state: it is a public page, cached
and compressed as one) nor on the article beyond its parts and id.

So ArticleDetailView's template is rendered once per process for each of those
keys, with markers in place of the parts, and cut at the markers; a request joins
the pieces and the parts. Rendering the template for every request cost more
than a third of an uncached article page; joining costs nothing measurable.
tests/articles/test_page_shell.py holds the page joined this way to the page the
template renders, byte for byte. With DEBUG the template is rendered every time,
so template edits show at once.
"""

from functools import lru_cache
from types import SimpleNamespace

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone
from django.utils.safestring import mark_safe

from articles.publishing.stored import StoredPage

TEMPLATE = "articles/article_detail.html"
# The parts in the order the template shows them; "article" is the counting
# script's article id.
PARTS = ("head", "top", "cards", "bottom", "article")


# NUL never occurs in a stored part (text from the database) nor in anything
# escaping makes, so a marker cannot be confused with content.
MARK = "\x00shell:"


def marker(name: str) -> str:
    return f"{MARK}{name}\x00"


class _Marked:
    """What the template reads of a StoredPage, with markers for the parts."""

    def __init__(self, *, cards: bool):
        self.head = mark_safe(marker("head"))
        self.top = mark_safe(marker("top"))
        self.bottom = mark_safe(marker("bottom"))
        self.related_html = mark_safe(marker("cards")) if cards else mark_safe("")
        self.related = []


def page_html(request: HttpRequest, page: StoredPage) -> str | None:
    """The stored page's HTML as the template renders it; None when it must be
    rendered by the template (DEBUG, or related cards to work out)."""
    if settings.DEBUG or page.related_html is None:
        return None
    counting = bool(settings.READERSHIP_COUNTING)
    cards = bool(page.related_html)
    pieces = _shell(
        request.resolver_match.url_name if request.resolver_match else None,
        get_script_prefix(),
        # What {% now "Y" %} in the footer shows.
        timezone.localtime().year,
        counting,
        cards,
    )
    if pieces is None:
        return None
    values = {
        "head": page.head,
        "top": page.top,
        "cards": page.related_html,
        "bottom": page.bottom,
        "article": str(page.article_id),
    }
    first, following = pieces
    out = [first]
    for name, text in following:
        out.append(values[name])
        out.append(text)
    return "".join(out)


@lru_cache(maxsize=64)
def _shell(
    url_name: str | None, script_prefix: str, year: int, counting: bool, cards: bool
) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The layout cut at the markers: the text before the first part, then
    (part, the text after it) for each part shown; None when the template does
    not show each part once, in order (the page is then rendered by the
    template)."""
    context = {
        "article_page": _Marked(cards=cards),
        "readership_article": mark_safe(marker("article")) if counting else None,
    }
    html = render_to_string(TEMPLATE, context, request=_ShellRequest(url_name))
    expected = [
        name
        for name in PARTS
        if (name != "cards" or cards) and (name != "article" or counting)
    ]
    texts, rest = [], html
    for name in expected:
        before, found, rest = rest.partition(marker(name))
        if not found or MARK in before:
            return None
        texts.append(before)
    if MARK in rest:
        return None
    return texts[0], tuple(zip(expected, [*texts[1:], rest], strict=True))


class _ShellRequest(HttpRequest):
    """A request that says only which page it is for: the layout reads
    request.resolver_match.url_name (the header's current menu item) and
    nothing else of the request."""

    def __init__(self, url_name: str | None):
        super().__init__()
        self.resolver_match = SimpleNamespace(url_name=url_name)


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    # Tests change settings the layout depends on (static files, counting).
    _shell.cache_clear()
