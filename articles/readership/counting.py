"""Adding one page view to an article's day, cheaply, within a flood limit.

The limit is a fixed one-minute window counted in Django's cache, per article
and for the whole site, never per visitor: nothing about who sent a beacon is
kept, not even for a minute. It bounds what one script posting beacons in a loop
can add (settings.READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE to one article,
READERSHIP_VIEWS_PER_MINUTE in all) and the database writes a flood can cause.
Beacons over the limit are dropped and logged. With the default per-process memory
cache each process counts its own window; REDIS_URL shares it.
"""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from articles.models import Article, DailyReadership

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def _over(key: str, limit: int) -> bool:
    # add() makes the counter atomically, incr() raises it atomically: both are
    # atomic in the memory, Redis and Memcached backends.
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        return cache.incr(key) > limit
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


def count_view(*, article_id: int, source: str, now: datetime | None = None) -> bool:
    """Add one view of a live article from `source` to today's row; False (and
    nothing written) for an article that is unknown or not live.

    The common case is one UPDATE, which checks the article is live in the same
    statement; the day's first view of a source inserts its row.
    """
    now = now or timezone.now()
    day = timezone.localdate(now)
    live = Article.objects.published().filter(pk=article_id)
    row = DailyReadership.objects.filter(
        article__in=live.values("pk"), day=day, source=source
    )
    if row.update(views=F("views") + 1):
        return True
    if not live.exists():
        return False
    try:
        with transaction.atomic():
            DailyReadership.objects.create(
                article_id=article_id, day=day, source=source, views=1
            )
    except IntegrityError:
        # Another view of the same article and source made the row first.
        row.update(views=F("views") + 1)
    return True
