"""Counts held in the process and written together, for things public requests
count per day (searches, article views).

A request adds one to a key in a dictionary; every `seconds` (by the first count
after that) or once `max_keys` keys wait, the writer is handed them all, a
Counter of key -> how many, to write in one statement. A commit per request
cost searches 10-25% and readership beacons four fifths of their speed
(docs/performance.md); a dictionary update costs next to nothing.

What it gives up: a process that dies without stopping (killed, out of memory)
loses the counts of its last `seconds`. A process that stops writes what it
holds at exit. When the database refuses a write the counts are kept for the
next try, up to four times `max_keys` keys; then new keys go uncounted (known
ones still add up), so a database that is down never fills the memory.
"""

import atexit
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Hashable
from datetime import date, datetime, timedelta
from datetime import time as day_start
from threading import Lock
from typing import Generic, TypeVar

from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)

# While the database refuses the counts, a buffer holds this many times its
# max_keys before it drops new keys.
HELD_WHILE_REFUSED = 4


class BufferedCounts(Generic[Key]):
    """This process's counts of one kind not yet written, by key.

    `seconds` and `max_keys` are read at every count, so a setting (or a test)
    may change them; `seconds` of 0 or less writes each count at once.
    `write` gets a Counter and writes it in one statement; a DatabaseError from
    it keeps the counts for the next try (raised inside a transaction, which it
    spoilt, logged outside one: a failed write never fails a request)."""

    def __init__(
        self,
        *,
        name: str,
        write: Callable[[Counter[Key]], object],
        seconds: Callable[[], float],
        max_keys: Callable[[], int],
    ) -> None:
        self.name = name
        self.write = write
        self.seconds = seconds
        self.max_keys = max_keys
        self.lock = Lock()
        self.counts: Counter[Key] = Counter()
        self.started: float | None = None
        atexit.register(self._flush_at_exit)

    def add(self, key: Key) -> None:
        """Count one; writes them all when it is time."""
        seconds = self.seconds()
        if seconds <= 0:
            self._put_back(Counter({key: 1}))
            self.flush()
            return
        max_keys = self.max_keys()
        with self.lock:
            if len(self.counts) < max_keys * HELD_WHILE_REFUSED or key in self.counts:
                self.counts[key] += 1
            now = time.monotonic()
            if self.started is None:
                self.started = now
            due = now - self.started >= seconds or len(self.counts) >= max_keys
        if due:
            self.flush()

    def flush(self) -> int:
        """Write what this process holds (one statement); how many counts."""
        with self.lock:
            counts, self.counts, self.started = self.counts, Counter(), None
        if not counts:
            return 0
        try:
            self.write(counts)
        except DatabaseError:
            self._put_back(counts)
            if connection.in_atomic_block:
                raise
            logger.warning("%s could not be written yet.", self.name, exc_info=True)
            return 0
        return sum(counts.values())

    def discard(self) -> None:
        """Forget what this process holds (tests start without any)."""
        with self.lock:
            self.counts, self.started = Counter(), None

    def _put_back(self, counts: Counter[Key]) -> None:
        with self.lock:
            self.counts.update(counts)
            if self.started is None:
                self.started = time.monotonic()

    def _flush_at_exit(self) -> None:
        # A worker stopping (a deploy, a restart) writes what it holds; at exit the
        # database may be gone already, and nothing is left to tell.
        with contextlib.suppress(Exception):
            self.flush()


class LocalDay:
    """The site's local day, worked out again only once it is over:
    timezone.localdate() costs as much as the rest of a buffered count."""

    def __init__(self) -> None:
        self.until = 0.0
        self.day = date.min

    def __call__(self) -> date:
        if time.time() >= self.until:
            now = timezone.localtime()
            self.day = now.date()
            midnight = datetime.combine(self.day + timedelta(days=1), day_start.min)
            self.until = timezone.make_aware(midnight, now.tzinfo).timestamp()
        return self.day
