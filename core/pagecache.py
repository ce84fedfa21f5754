"""Public pages served from a cache, answered with 304 when unchanged, and kept
by CDNs for a while: exact, because every change bumps one version.

Pages are stored under a key made of the release (the code and templates that
render them), the page version (core.models.PageVersion) and the address. A change
to anything public calls `content_changed()` in the same transaction, so the very
next request, on any process of any machine, reads the new version and renders
afresh; pages under the old version are never read again and age out. The version
is read from the database on each request (one primary-key query), which is what
makes this exact with a per-process memory cache as much as with Redis.

Time changes pages too: a scheduled article appears when its time comes. Apps
register when that next happens (`register_next_change`); once it has passed, the
first request bumps the version, and CDNs are told to keep pages no longer than
until then.

Only anonymous GET/HEAD requests are served from the cache, and only responses
that set no cookie are stored: public pages hold no per-visitor state (the
sign-up form checks Origin instead of carrying a CSRF token, newsletter/web/origin.py).
"""

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, wraps
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from django.utils.module_loading import import_string

from core import frontproxy
from core.models import PageVersion

logger = logging.getLogger(__name__)

CACHE_ALIAS = "pages"
# Query parameters a cached page depends on; others (utm_source, fbclid...) are
# ignored by the views, so they do not make a page (or a cache entry) of their own.
KEPT_PARAMETERS = ("page",)
# Response headers that belong to one response, not to the stored page.
PER_RESPONSE_HEADERS = frozenset(
    {"cache-control", "etag", "last-modified", "vary", "set-cookie", "content-length"}
)
# Files whose content decides what a page looks like; a deploy that changes any
# of them starts a new set of cache keys and ETags.
RELEASE_SUFFIXES = frozenset({".py", ".html", ".txt", ".xml", ".json", ".css", ".js"})
# Folders under BASE_DIR that never render a page (or are generated).
NOT_RELEASED = frozenset(
    {"node_modules", "media", "staticfiles", "tests", "bench", "sent-emails"}
)

_next_change_providers: list[Callable[[], datetime | None]] = []


@dataclass(frozen=True)
class Stamp:
    version: int
    changed_at: datetime
    next_change_at: datetime | None


def register_next_change(provider: Callable[[], datetime | None]) -> None:
    """`provider()` says when public pages next change by themselves (or None).
    Apps register theirs in AppConfig.ready()."""
    if provider not in _next_change_providers:
        _next_change_providers.append(provider)


def _next_change_at() -> datetime | None:
    moments = [m for m in (p() for p in _next_change_providers) if m is not None]
    return min(moments, default=None)


def content_changed(
    *, paths: Iterable[str] | Callable[[], Iterable[str]] = (), reason: str = ""
) -> None:
    """Public pages changed: bump the version in the caller's transaction, and,
    once it commits, have the front proxy and the CDN drop `paths` (site-relative
    addresses, or a function listing them: only called when there is one)."""
    now = timezone.now()
    updated = PageVersion.objects.filter(id=1).update(
        version=F("version") + 1, changed_at=now, next_change_at=_next_change_at()
    )
    if not updated:
        PageVersion.objects.get_or_create(
            id=1, defaults={"changed_at": now, "next_change_at": _next_change_at()}
        )
    logger.debug("Public pages changed: %s", reason or "unspecified")
    if not settings.PAGE_CACHE_PURGE and not frontproxy.is_on():
        return
    changed = sorted(set(paths() if callable(paths) else paths))
    if changed:
        transaction.on_commit(lambda: purge(changed), robust=True)


def purge(paths: list[str]) -> None:
    """Refresh changed addresses on the front proxy (core/frontproxy.py), then
    hand them to the CDN purge hook (settings.PAGE_CACHE_PURGE, a dotted path to
    a function taking a list of absolute URLs); neither by default."""
    base = settings.SITE_URL.rstrip("/")
    urls = [f"{base}{path}" for path in paths]
    # The proxy first: a CDN purged before it would fetch the proxy's old copy.
    if frontproxy.is_on():
        frontproxy.refresh(urls)
    if settings.PAGE_CACHE_PURGE:
        import_string(settings.PAGE_CACHE_PURGE)(urls)


def current() -> Stamp:
    """The page version now. Past the next scheduled change, the first request
    to see it moves the version on (once: the update only succeeds against the
    version it read)."""
    # Raw SQL: this runs on every public request, and the ORM would spend more
    # time building the query than the database spends answering it. Always on
    # the primary (the default connection, never a replica): a publish is seen
    # by the very next request, whatever a replica's lag.
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL)
        found = cursor.fetchone()
    if found is None:
        PageVersion.objects.get_or_create(id=1)
        return current()
    version, changed_at, next_change_at = found
    stamp = Stamp(version, _aware(changed_at), _aware(next_change_at))
    if stamp.next_change_at is not None and stamp.next_change_at <= timezone.now():
        PageVersion.objects.filter(id=1, version=stamp.version).update(
            version=stamp.version + 1,
            changed_at=stamp.next_change_at,
            next_change_at=_next_change_at(),
        )
        return current()
    return stamp


VERSION_SQL = (
    f"SELECT version, changed_at, next_change_at FROM {PageVersion._meta.db_table} "
    "WHERE id = 1"
)


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp as the database driver returned it, as an aware datetime
    (SQLite's driver gives naive UTC datetimes, or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@cache
def release() -> str:
    """A digest of the code and templates that render pages, read once per
    process: a new deploy never serves pages (or ETags) made by the old one."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for folder, subfolders, files in os.walk(base):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and name not in NOT_RELEASED
        )
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix in RELEASE_SUFFIXES:
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _page_address(request: HttpRequest) -> str:
    if not request.META.get("QUERY_STRING"):
        return request.path
    kept = [
        f"{name}={value}"
        for name in KEPT_PARAMETERS
        for value in request.GET.getlist(name)[:1]
    ]
    return request.path + ("?" + "&".join(kept) if kept else "")


def _accepts_gzip(request: HttpRequest) -> bool:
    return "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "").lower()


def _is_anonymous(request: HttpRequest) -> bool:
    # Most visitors have no session cookie at all: no session or user lookup.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return True
    user = getattr(request, "user", None)
    return user is None or not user.is_authenticated


def _shared_max_age(stamp: Stamp) -> int:
    seconds = settings.PAGE_CACHE_SHARED_MAX_AGE
    if stamp.next_change_at is not None:
        until = (stamp.next_change_at - timezone.now()).total_seconds()
        seconds = max(0, min(seconds, int(until)))
    return seconds


def _public_headers(response: HttpResponseBase, stamp: Stamp, etag: str) -> None:
    response["ETag"] = etag
    response["Last-Modified"] = http_date(stamp.changed_at.timestamp())
    # Browsers check back every time (a 304 costs a few hundred bytes); CDNs and
    # caching proxies keep the page, then serve it stale while they refetch.
    response["Cache-Control"] = (
        f"public, max-age=0, s-maxage={_shared_max_age(stamp)}, "
        f"stale-while-revalidate={settings.PAGE_CACHE_STALE_WHILE_REVALIDATE}"
    )
    if "Vary" in response:
        patch_vary_headers(response, ("Accept-Encoding",))
    else:
        response["Vary"] = "Accept-Encoding"


def _validators(request: HttpRequest, stamp: Stamp) -> tuple[str, str]:
    """The page's key (release, version, address) and the ETag made from it."""
    key = f"{release()}:{stamp.version}:{_page_address(request)}"
    return key, f'W/"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def _request_stamp(request: HttpRequest) -> Stamp:
    # PageCacheMiddleware has read it already for most public requests. Kept on
    # the request: a replica must have reached it to answer (core/db_routers.py).
    stamp = getattr(request, "page_stamp", None)
    if stamp is None:
        stamp = request.page_stamp = current()
    return stamp


def _not_modified(
    request: HttpRequest, stamp: Stamp, etag: str, *, by_date: bool = True
) -> HttpResponseBase | None:
    response = get_conditional_response(
        request,
        etag=etag,
        last_modified=int(stamp.changed_at.timestamp()) if by_date else None,
    )
    if response is not None:
        _public_headers(response, stamp, etag)
    return response


def public_page(view: Callable) -> Callable:
    """Mark a view's page as public: for visitors who are not signed in it gets an
    ETag, Last-Modified and CDN headers, a 304 when the browser's copy is current
    (answered before the view runs), and PageCacheMiddleware keeps it. Signed-in
    people get it rendered afresh and private."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD") or not _is_anonymous(request):
            response = view(request, *args, **kwargs)
            if "Cache-Control" not in response:
                response["Cache-Control"] = "private, no-cache"
            return response
        stamp = _request_stamp(request)
        key, etag = _validators(request, stamp)
        not_modified = _not_modified(request, stamp, etag)
        if not_modified is not None:
            return not_modified
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            # A public address that is gone (an unpublished article): its "not
            # found" may replace the copies proxies and CDNs keep of the page.
            request.public_page_gone = stamp
            raise
        if (
            response.status_code == 200
            and not response.cookies
            and "Cache-Control" not in response
        ):
            _public_headers(response, stamp, etag)
            response.public_page_key = key
        return response

    wrapped.public_page = True
    return wrapped


def is_public_page(request: HttpRequest) -> bool:
    """Whether the address is one of a @public_page view's (nothing else, not
    the admin nor the health check, waits on the page version)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return getattr(match.func, "public_page", False)


def _storable(response: HttpResponseBase, key: str) -> bool:
    return (
        getattr(response, "public_page_key", None) == key
        and isinstance(response, HttpResponse)
        and not response.streaming
        and not response.cookies
        and response.status_code == 200
    )


def _stored(response: HttpResponse) -> tuple[int, bytes, list]:
    headers = [
        (name, value)
        for name, value in response.items()
        if name.lower() not in PER_RESPONSE_HEADERS
    ]
    return response.status_code, response.content, headers


def _rebuilt(stored: tuple[int, bytes, list]) -> HttpResponse:
    status, content, headers = stored
    response = HttpResponse(content, status=status)
    for name, value in headers:
        response[name] = value
    response["Content-Length"] = str(len(content))
    return response


class PageCacheMiddleware:
    """Serve public pages (marked by @public_page) to visitors without a session
    from the page cache, as the middleware below made them: compressed, with their
    security headers. Near the top of MIDDLEWARE, so a cached page skips sessions,
    authentication, CSRF and the rest, which a visitor without cookies never needs.

    Requests with a session cookie go through: the view decides (a signed-in
    person gets a private page; anyone else the public one, uncached).
    """

    def __init__(self, get_response: Callable):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            not settings.PAGE_CACHE
            or request.method not in ("GET", "HEAD")
            or settings.SESSION_COOKIE_NAME in request.COOKIES
            or not is_public_page(request)
        ):
            return self.get_response(request)
        # CommonMiddleware, below, is where Django checks the Host against
        # ALLOWED_HOSTS; a cached page or a 304 never gets there. get_host() is
        # that check: its DisallowedHost becomes the same 400 here as there.
        request.get_host()
        stamp = request.page_stamp = current()
        key, etag = _validators(request, stamp)
        # An ETag of ours for this address and version: the page was public when
        # it was given, and is unchanged since.
        not_modified = _not_modified(request, stamp, etag, by_date=False)
        if not_modified is not None:
            return not_modified
        variant = "gz" if _accepts_gzip(request) else "id"
        cache_key = f"page:{key}:{variant}"
        stored = caches[CACHE_ALIAS].get(cache_key)
        if stored is not None:
            return _not_modified(request, stamp, etag) or self._served(
                stored, stamp, etag
            )
        response = self.get_response(request)
        if _storable(response, key):
            caches[CACHE_ALIAS].set(
                cache_key, _stored(response), timeout=settings.PAGE_CACHE_SECONDS
            )
        return response

    @staticmethod
    def _served(stored: tuple[int, bytes, list], stamp: Stamp, etag: str):
        response = _rebuilt(stored)
        _public_headers(response, stamp, etag)
        return response


class DefaultCacheControlMiddleware:
    """Anything that does not say how it may be cached is private: a CDN or proxy
    never keeps a page it was not told it could (the admin, newsletter links,
    search results, errors). The one shared error is a public address's "not
    found", which stands in for the page that was there."""

    def __init__(self, get_response: Callable):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "Cache-Control" in response:
            return response
        gone = getattr(request, "public_page_gone", None)
        if gone is not None and response.status_code == 404 and not response.cookies:
            # Shared caches keep it like the page it replaces, so a front proxy's
            # refresh after an unpublish stores it over the old copy.
            response["Cache-Control"] = (
                f"public, max-age=0, s-maxage={_shared_max_age(gone)}"
            )
        else:
            response["Cache-Control"] = "private, no-store"
        return response
