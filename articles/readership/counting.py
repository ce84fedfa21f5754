"""Adding one page view to an article's day, cheaply, within a flood limit.

A view is a dictionary update in the process (core/counters.py); the views are
written every READERSHIP_FLUSH_SECONDS in one statement that stores only those of
live articles. A commit per beacon held the beacon to a fifth of a cached page's
speed (docs/performance.md). A process killed without stopping loses the views of
its last seconds; one that stops writes them at exit.

The limit is a fixed one-minute window counted in Django's cache, per article
and for the whole site, never per visitor: nothing about who sent a beacon is
kept, not even for a minute. It bounds what one script posting beacons in a loop
can add (settings.READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE to one article,
READERSHIP_VIEWS_PER_MINUTE in all) and the rows a flood can make the process hold.
Beacons over the limit are dropped and logged. With the default per-process memory
cache each process counts its own window; REDIS_URL shares it.
"""

import logging
import time
from collections import Counter
from datetime import date, datetime
from functools import cache

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import connection
from django.utils import timezone

from articles.models import Article, DailyReadership
from core.counters import BufferedCounts, LocalDay

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def _over(key: str, limit: int) -> bool:
    # add() makes the counter atomically, incr() raises it atomically: both are
    # atomic in the memory, Redis and Memcached backends.
    shared_cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        return shared_cache.incr(key) > limit
    except ValueError:  # evicted between the two calls
        return False


def within_limits(*, article_id: int) -> bool:
    """Count one beacon against the minute's limits; False once one is spent."""
    minute = int(time.time() // WINDOW_SECONDS)
    if _over(f"readership:all:{minute}", settings.READERSHIP_VIEWS_PER_MINUTE):
        logger.warning("Readership beacons over the site's limit; dropped.")
        return False
    per_article = settings.READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE
    if _over(f"readership:{article_id}:{minute}", per_article):
        logger.warning("Readership beacons for article %s over its limit.", article_id)
        return False
    return True


@cache
def _upsert_sql(vendor: str) -> str:
    """Adds views to their rows, in one statement for all of them, only for an
    article live at the time of writing: the SELECT finds no row for an unknown,
    draft, scheduled or unpublished article, so nothing of it is stored. The live
    condition is published_q's (articles/models/content.py), spelt in SQL. The
    WHERE also keeps SQLite from reading ON CONFLICT as a join's ON. The same SQL
    on SQLite and PostgreSQL; only the quoting could differ."""
    quote = connection.ops.quote_name
    table = quote(DailyReadership._meta.db_table)
    articles = quote(Article._meta.db_table)
    views = quote("views")
    columns = ", ".join(quote(c) for c in ("article_id", "day", "source", "views"))
    # The day is a parameter in the SELECT list: psycopg sends a date typed as
    # one ('...'::date), so PostgreSQL needs no cast SQLite would misread.
    return (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT {quote('id')}, %s, %s, %s FROM {articles} "
        f"WHERE {quote('id')} = %s AND {quote('status')} = %s "
        f"AND {quote('published_at')} <= %s "
        f"ON CONFLICT ({quote('article_id')}, {quote('day')}, {quote('source')}) "
        f"DO UPDATE SET {views} = {table}.{views} + excluded.{views}"
    )


# (article id, day, source): one row of DailyReadership.
Key = tuple[int, date, str]
# Most rows a process holds before it writes them, whatever the time; four times
# as many while the database refuses them, then new rows go uncounted.
BUFFER_KEYS = 500


def _write(counts: Counter[Key]) -> None:
    now = timezone.now()
    published = Article.Status.PUBLISHED
    with connection.cursor() as cursor:
        cursor.executemany(
            _upsert_sql(connection.vendor),
            [
                (day, source, n, article_id, published, now)
                for (article_id, day, source), n in counts.items()
            ],
        )


# This process's views not yet written, by row (core/counters.py).
_BUFFER: BufferedCounts[Key] = BufferedCounts(
    name="Readership counts",
    write=_write,
    seconds=lambda: settings.READERSHIP_FLUSH_SECONDS,
    max_keys=lambda: BUFFER_KEYS,
)

_today = LocalDay()


def count_view(*, article_id: int, source: str, now: datetime | None = None) -> None:
    """Add one view of the article from `source` to today's row.

    Views are held in the process and written together, in one statement, every
    READERSHIP_FLUSH_SECONDS (by the first beacon after that) or once BUFFER_KEYS
    rows wait; 0 writes each at once. Whether the article is live is checked when
    they are written: a view of an unknown or unpublished article is dropped
    then, never stored."""
    if now is not None:
        day = timezone.localdate(now)
    elif settings.READERSHIP_FLUSH_SECONDS > 0:
        day = _today()
    else:
        day = timezone.localdate()
    _BUFFER.add((article_id, day, source))


def flush() -> int:
    """Write this process's buffered views (one statement); how many were held
    (views of articles that are not live among them, dropped by the write)."""
    return _BUFFER.flush()


def discard_buffer() -> None:
    """Forget this process's unwritten views (tests start without any)."""
    _BUFFER.discard()
