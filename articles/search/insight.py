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

Counting is buffered in the process (count_search, core/counters.py) and written in
one statement, INSERT ... ON CONFLICT DO UPDATE adding to the count (the same SQL on
SQLite and PostgreSQL), every SEARCH_INSIGHT_FLUSH_SECONDS: a commit per search cost
10-25% of a rare word's search (bench/search_latency.py). A process that dies
without stopping loses the searches of its last few seconds.
"""

import re
import unicodedata
from collections import Counter
from datetime import date, timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from articles.models import Article, SearchCount, SearchPromotion
from articles.models.insight import QUERY_LENGTH
from core.compiled import CompiledValues
from core.counters import BufferedCounts, LocalDay

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


@cache
def _upsert_sql(vendor: str) -> str:
    """The upsert, written once per database kind (SQLite and PostgreSQL take
    the same SQL; only the quoting could differ)."""
    quote = connection.ops.quote_name
    table = quote(SearchCount._meta.db_table)
    count = quote("count")
    columns = ", ".join(
        quote(c) for c in ("day", "query", "found_nothing", "withheld", "count")
    )
    return (
        f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT ({quote('day')}, {quote('query')}, {quote('found_nothing')}) "
        f"DO UPDATE SET {count} = {table}.{count} + excluded.{count}"
    )


# (day, query, found nothing, withheld): one row of SearchCount.
Key = tuple[date, str, bool, bool]
# Most rows a process holds before it writes them, whatever the time; four times
# as many while the database refuses them, then new searches go uncounted.
BUFFER_KEYS = 500


def _write(counts: Counter[Key]) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(
            _upsert_sql(connection.vendor),
            [(*key, n) for key, n in counts.items()],
        )


# This process's searches not yet written, by row (core/counters.py).
_BUFFER: BufferedCounts[Key] = BufferedCounts(
    name="Search counts",
    write=_write,
    seconds=lambda: settings.SEARCH_INSIGHT_FLUSH_SECONDS,
    max_keys=lambda: BUFFER_KEYS,
)


def flush() -> int:
    """Write this process's buffered searches (one statement); how many. Kept for
    the next try when the database refuses them."""
    return _BUFFER.flush()


def discard_buffer() -> None:
    """Forget this process's unwritten searches (tests start without any)."""
    _BUFFER.discard()


_today = LocalDay()


def count_search(*, query: str, found_nothing: bool, day: date | None = None) -> None:
    """Count one search for `query` today. A query that looks personal is counted
    as withheld, its text dropped.

    Counts are held in the process and written together, in one statement, every
    SEARCH_INSIGHT_FLUSH_SECONDS (by the first search after that) or once
    BUFFER_KEYS rows wait: a search costs a dictionary update, the write a few
    milliseconds now and then (docs/performance.md). With 0 each search is
    written at once. A failure to write never fails a search (outside a
    transaction, which it would have spoilt: there it is raised)."""
    normalised = normalise(query)
    if not normalised:
        return
    withheld = is_personal(normalised)
    seconds = settings.SEARCH_INSIGHT_FLUSH_SECONDS
    key = (
        day or (_today() if seconds > 0 else timezone.localdate()),
        "" if withheld else normalised,
        found_nothing,
        withheld,
    )
    _BUFFER.add(key)


# The pins of one query, compiled to SQL once (core/compiled.py): the search page
# asks on every first page, and most queries have none.
_PINS = CompiledValues(
    lambda query: SearchPromotion.objects.filter(query=query).values_list(
        "article_id", "position"
    )
)


def pinned(query: str) -> list[Article]:
    """The live articles editors pinned to the query, in their order (a pinned
    draft or scheduled article is left out until it is live).

    The pins are read first, by their (query, article) index: most queries have
    none, and that one small query is all they cost. Asking for the articles in
    the same query let SQLite walk every live article instead (several times a
    rare word's search, bench/search_latency.py)."""
    normalised = normalise(query)
    if not normalised:
        return []
    pins = {row["article_id"]: row["position"] for row in _PINS.rows(normalised)}
    if not pins:
        return []
    found = Article.objects.for_listing().published().in_bulk(list(pins))
    return sorted(found.values(), key=lambda a: (pins[a.pk], a.pk))


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
