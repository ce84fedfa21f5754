"""Search insight: every public search counted in aggregate, articles pinned to a
query, and forgetting old counts.

A search is counted once, by the search page's view when a reader asks for it (its
first page; the pages after it are the same search). The search page is never
served from the page cache (core/pagecache.py caches only @public_page views; the
search view is not one, and its responses are `private, no-store`), so the view
sees every search.

What is kept: the query normalised (NFKC, case-folded, whitespace collapsed, cut
to QUERY_LENGTH characters), the day (site's time zone), whether it found nothing,
and a count. Nothing about who searched. A query that looks like an email address
or a phone number is not kept at all: it adds to the day's `withheld` count.

Counting is one statement per search: INSERT ... ON CONFLICT DO UPDATE adding one
(the same SQL on SQLite and PostgreSQL).
"""

import logging
import re
import unicodedata
from datetime import date, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.utils import timezone

from articles.models import Article, ArticleQuerySet, SearchCount
from articles.models.insight import QUERY_LENGTH

logger = logging.getLogger(__name__)

# An @ between two characters: an email address, or near enough to one.
_EMAIL = re.compile(r"[^\s@]@[^\s@]")
# Digits with the separators phone numbers are written with; seven digits or more
# in one run make it a phone number.
_PHONE_RUN = re.compile(r"\+?\d[\d\s().\-/]*\d")
PHONE_DIGITS = 7


def normalise(query: str) -> str:
    """The query as it is counted and pinned: NFKC, case-folded, control
    characters and whitespace collapsed to one space, at most QUERY_LENGTH
    characters. A query of any length is cut first, so 10 KB of text costs no
    more than 200 characters."""
    text = unicodedata.normalize("NFKC", (query or "")[: QUERY_LENGTH * 2])
    # Control and format characters (a NUL byte PostgreSQL refuses, say) count as
    # spaces: a query is words.
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    return " ".join(text.casefold().split())[:QUERY_LENGTH].strip()


def is_personal(query: str) -> bool:
    """Whether the text looks like an email address or a phone number."""
    if _EMAIL.search(query):
        return True
    return any(
        sum(c.isdigit() for c in run) >= PHONE_DIGITS
        for run in _PHONE_RUN.findall(query)
    )


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(SearchCount._meta.db_table)
    count = quote("count")
    columns = ", ".join(
        quote(c) for c in ("day", "query", "found_nothing", "withheld", "count")
    )
    return (
        f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, 1) "
        f"ON CONFLICT ({quote('day')}, {quote('query')}, {quote('found_nothing')}) "
        f"DO UPDATE SET {count} = {table}.{count} + 1"
    )


def count_search(*, query: str, found_nothing: bool, day: date | None = None) -> None:
    """Add one search for `query` to today's counts: one statement. A query that
    looks personal is counted as withheld, its text dropped. A failure to count
    never fails the search (outside a transaction, where it cannot spoil one)."""
    normalised = normalise(query)
    if not normalised:
        return
    withheld = is_personal(normalised)
    params = [
        day or timezone.localdate(),
        "" if withheld else normalised,
        found_nothing,
        withheld,
    ]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(), params)
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        logger.warning("A search could not be counted.", exc_info=True)


def pinned(query: str) -> ArticleQuerySet:
    """The live articles editors pinned to the query, in their order (one query;
    a pinned draft or scheduled article is left out until it is live)."""
    return (
        Article.objects.for_listing()
        .published()
        .filter(search_promotions__query=normalise(query))
        .annotate(pin_position=F("search_promotions__position"))
        .order_by("pin_position", "pk")
    )


# Forgetting ---------------------------------------------------------------------


def retention_days() -> int:
    return settings.SEARCH_INSIGHT_RETENTION_DAYS


def cutoff(*, today: date | None = None) -> date:
    """The first day still kept: counts of days before it are deleted."""
    return (today or timezone.localdate()) - timedelta(days=retention_days() - 1)


def forget_old_counts(*, dry_run: bool = False, today: date | None = None) -> int:
    """Delete the counts older than the retention period (SEARCH_INSIGHT_RETENTION_DAYS
    days, today included); how many rows went (or would go, with `dry_run`). Safe
    to run again: a second run finds nothing to delete."""
    old = SearchCount.objects.filter(day__lt=cutoff(today=today))
    if dry_run:
        return old.count()
    deleted, _ = old.delete()
    return deleted
