"""One sending rate shared by every worker, on every machine.

NEWSLETTER_RATE_PER_SECOND is what the mail provider allows the site, not each
worker: two workers must not send twice as fast. So the rate lives in the database
every worker already shares, as one row (SendPace) holding the earliest moment the
next message may start. A worker about to send takes the next slot with one
statement, which reads and moves that moment forward under the row's lock, then
sleeps until its slot:

- slots are at least 1/rate apart whichever worker takes them, so no window of one
  second (started anywhere) holds more than `rate` of them; an idle spell earns no
  burst afterwards;
- a worker takes a slot only when it is ready to send, so a slow or stopped worker
  wastes its slot rather than sending late into another's;
- on PostgreSQL the slot is measured by the database's clock and handed back as a
  delay, so the workers' machines need not agree on the time; SQLite serves one
  machine, whose clock every worker reads.

It needs neither Redis nor more than one process: with the embedded defaults the
one worker paces itself through the same row.
"""

import time
from dataclasses import dataclass

from django.db import connection

from newsletter.models import SendPace

NAME = "smtp"
# The slot moment is never set further ahead than this: a database clock stepped
# back (say an hour) would otherwise hold every send for as long. Workers waiting
# their turn never queue this far ahead at any rate of one message a second or more.
MAX_AHEAD_SECONDS = 60.0

TABLE = SendPace._meta.db_table
POSTGRESQL_SQL = f"""
INSERT INTO {TABLE} AS pace (name, next_at)
VALUES (%(name)s, EXTRACT(EPOCH FROM statement_timestamp())::float8 + %(interval)s)
ON CONFLICT (name) DO UPDATE SET next_at = LEAST(
    GREATEST(pace.next_at, EXTRACT(EPOCH FROM statement_timestamp())::float8),
    EXTRACT(EPOCH FROM statement_timestamp())::float8 + %(ahead)s
) + %(interval)s
RETURNING next_at - %(interval)s, EXTRACT(EPOCH FROM statement_timestamp())::float8
"""
SQLITE_SQL = f"""
INSERT INTO {TABLE} (name, next_at) VALUES (%(name)s, %(now)s + %(interval)s)
ON CONFLICT (name) DO UPDATE SET next_at = MIN(
    MAX({TABLE}.next_at, %(now)s), %(now)s + %(ahead)s
) + %(interval)s
RETURNING next_at - %(interval)s, %(now)s
"""


@dataclass(frozen=True)
class Slot:
    at: float  # when the message may start, seconds since the epoch (see above)
    wait: float  # seconds from now until then; zero or less: at once


def take_slot(*, interval: float, name: str = NAME) -> Slot:
    """Reserve the next moment one message may start, `interval` after the last.

    One autocommitted statement: the row is locked only while it runs.
    """
    params = {"name": name, "interval": interval, "ahead": MAX_AHEAD_SECONDS}
    if connection.vendor == "postgresql":
        sql = POSTGRESQL_SQL
    else:
        sql, params["now"] = SQLITE_SQL, time.time()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        at, now = cursor.fetchone()
    return Slot(at=at, wait=at - now)


def wait_for_slot(*, rate: float) -> None:
    """Return when this worker may start its next message; at once without a rate."""
    if rate <= 0:
        return
    slot = take_slot(interval=1 / rate)
    if slot.wait > 0:
        time.sleep(slot.wait)


@dataclass
class Pacer:
    """Keeps all workers together under NEWSLETTER_RATE_PER_SECOND messages a
    second (above)."""

    rate: float

    def wait(self) -> None:
        wait_for_slot(rate=self.rate)
