"""The sitemap: an index (/sitemap.xml) naming files of at most SITEMAP_PAGE_SIZE
addresses each (/sitemaps/<section>-<n>.xml; the protocol's limit is 50,000).

Each app gives its parts as Sections: rows of values (never model instances),
paged in the database, written straight to XML, so a file costs one query and
no template per address. Addresses are on SITE_URL, whichever host name the
request came in on. The index costs one count per section."""

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
# A slug no address has: where reverse() puts it, path_for() puts each row's.
_MARKER = "0marker0"

# A row of a section: its key (what location() turns into an address) and, for
# sections that know it, when it last changed (None: unknown).
Row = tuple[str] | tuple[str, date | datetime | None]


def path_for(url_name: str) -> Callable[[str], str]:
    """A function making the address of `url_name` for a slug, reversing once:
    reverse() per address would cost more than the rest of a file."""
    before, after = reverse(url_name, kwargs={"slug": _MARKER}).split(_MARKER)
    return lambda slug: f"{before}{slug}{after}"


class Section:
    """A part of the sitemap. rows(): a values_list query of (slug,) or (slug,
    lastmod) rows in a stable order, or a list of Rows; location(key): the
    key's site-relative address."""

    changefreq = ""

    def rows(self) -> QuerySet | list[Row]:
        raise NotImplementedError

    def location(self, key: str) -> str:
        raise NotImplementedError

    def count(self) -> int:
        rows = self.rows()
        return rows.count() if isinstance(rows, QuerySet) else len(rows)

    def page(self, number: int, size: int) -> Iterable[Row]:
        start = (number - 1) * size
        return self.rows()[start : start + size]


class NamedPages(Section):
    """Pages without a slug, by URL name (home, lists); no lastmod."""

    names: tuple[str, ...] = ()

    def rows(self) -> list[Row]:
        return [(name,) for name in self.names]

    def location(self, key: str) -> str:
        return reverse(key)


def _site() -> str:
    """SITE_URL's scheme and host: addresses on it, whatever the request's host."""
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme or 'https'}://{parts.netloc}"


def page_size() -> int:
    return settings.SITEMAP_PAGE_SIZE


def file_path(section: str, number: int) -> str:
    return reverse("sitemap_file", kwargs={"section": section, "page": number})


def file_paths(section: str, count: int) -> list[str]:
    """The addresses of a section's files for `count` rows (one at least)."""
    pages = max(1, math.ceil(count / page_size()))
    return [file_path(section, n) for n in range(1, pages + 1)]


def _lastmod(row: Row) -> str:
    """The row's lastmod element: a day. Sections give dates made by the database
    (TruncDate, in the current time zone): converting thousands of datetimes in
    Python would cost more than the rest of the file."""
    value = row[1] if len(row) > 1 else None
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value)
    return f"<lastmod>{value.isoformat()}</lastmod>"


def _xml(body: Iterable[str]) -> HttpResponse:
    response = HttpResponse(
        "".join(['<?xml version="1.0" encoding="UTF-8"?>\n', *body]),
        content_type="application/xml",
    )
    # As django.contrib.sitemaps: the files are for crawlers, not search results.
    response["X-Robots-Tag"] = "noindex, noodp, noarchive"
    return response


@require_safe
def sitemap_index(request: HttpRequest, sections: Mapping[str, Section]):
    """/sitemap.xml: every file of every section with something to list."""
    site = _site()
    entries = [
        f"<sitemap><loc>{escape(site + path)}</loc></sitemap>\n"
        for name, section in sections.items()
        if (count := section().count())
        for path in file_paths(name, count)
    ]
    return _xml(
        [f'<sitemapindex xmlns="{NAMESPACE}">\n', *entries, "</sitemapindex>\n"]
    )


@require_safe
def sitemap_file(
    request: HttpRequest, sections: Mapping[str, Section], section: str, page: int
):
    """One file of a section: its rows `page` (from 1) of SITEMAP_PAGE_SIZE."""
    if section not in sections or page < 1:
        raise Http404("No such sitemap.")
    part = sections[section]()
    rows = list(part.page(page, page_size()))
    if not rows and page > 1:
        raise Http404("No such sitemap page.")
    site = _site()
    changefreq = (
        f"<changefreq>{part.changefreq}</changefreq>" if part.changefreq else ""
    )
    entries = [
        f"<url><loc>{escape(site + part.location(row[0]))}</loc>"
        f"{_lastmod(row)}{changefreq}</url>\n"
        for row in rows
    ]
    return _xml([f'<urlset xmlns="{NAMESPACE}">\n', *entries, "</urlset>\n"])
