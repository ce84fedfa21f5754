"""Public pages read from PostgreSQL streaming replicas; everything else from the
primary.

With DATABASE_REPLICA_URL set (settings.DATABASE_REPLICAS names the aliases),
ReplicaReadsMiddleware marks the one kind of request a replica may answer: an
anonymous GET or HEAD (no session cookie) of a public page (a @public_page view,
core/pagecache.py). For that request only, ReplicaRouter sends reads to a replica;
the admin, staff, every POST, management commands, tasks and workers (which never
pass through the middleware) read and write the primary.

A replica lags the primary by a little. Pages are cached under the page version,
which core/pagecache.py reads from the primary on every request (raw SQL on the
default connection), so a publish is seen at once; a page rendered from a replica
that has not yet replayed that publish would be kept under the new version, stale,
until the next change. So before its first read a request asks the chosen replica
for its own page version: a replica behind the version the request is served
under (or one that cannot be reached) is passed over, and the request reads the
primary. Within a request, a write, or a read inside a transaction, goes to the
primary, and every read after a write does too.
"""

import logging
import random
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponseBase

from core.pagecache import VERSION_SQL, is_public_page

logger = logging.getLogger(__name__)


@dataclass
class ReplicaReads:
    """One request a replica may answer, and what was decided for it."""

    request: HttpRequest
    # The replica chosen once checked, "" for the primary, None before the check.
    alias: str | None = None
    wrote: bool = False


_reads: ContextVar[ReplicaReads | None] = ContextVar("replica_reads", default=None)


def replica_allowed(request: HttpRequest) -> bool:
    """Whether a replica may answer this request (before any check of its lag)."""
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and is_public_page(request)
    )


def _replica_version(alias: str) -> int | None:
    with connections[alias].cursor() as cursor:
        cursor.execute(VERSION_SQL)
        found = cursor.fetchone()
    return None if found is None else found[0]


def _choose(reads: ReplicaReads) -> str:
    """A replica that has seen the request's page version, or "" (the primary)."""
    stamp = getattr(reads.request, "page_stamp", None)
    replicas = settings.DATABASE_REPLICAS
    if stamp is None or not replicas:
        return ""
    alias = random.choice(replicas)
    try:
        version = _replica_version(alias)
    except DatabaseError:
        logger.warning("Replica %s could not be reached; reading the primary", alias)
        connections[alias].close()
        return ""
    return alias if version is not None and version >= stamp.version else ""


class ReplicaRouter:
    """Reads of a public page's request to a replica that has caught up; all
    else, and every migration, on the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        reads = _reads.get()
        if (
            reads is None
            or reads.wrote
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return DEFAULT_DB_ALIAS
        if reads.alias is None:
            reads.alias = _choose(reads)
        return reads.alias or DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        reads = _reads.get()
        if reads is not None:
            reads.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # A replica holds the primary's rows: objects read from either relate.
        ours = {DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS}
        if obj1._state.db in ours and obj2._state.db in ours:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        # A replica replays the primary's changes; it is never migrated itself.
        return False if db in settings.DATABASE_REPLICAS else None


class ReplicaReadsMiddleware:
    """Lets ReplicaRouter send the reads of an anonymous GET of a public page to a
    replica; above PageCacheMiddleware, which reads the page version (from the
    primary) that the replica must have reached. Off without replicas."""

    def __init__(self, get_response: Callable):
        if not settings.DATABASE_REPLICAS:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not replica_allowed(request):
            return self.get_response(request)
        token = _reads.set(ReplicaReads(request))
        try:
            return self.get_response(request)
        finally:
            _reads.reset(token)
