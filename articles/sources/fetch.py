"""Asking the web about one source: a URL with HEAD (GET when HEAD is refused),
redirects followed one hop at a time (each hop checked before it is contacted),
a DOI through the DOI resolver and Crossref, a PMID through NCBI E-utilities.

No database here: the run (checking.py) hands targets to a few threads that call
Fetcher.check, and writes what they found itself. Every request to a host waits
its turn (HostPacer): one at a time per host, SOURCE_CHECK_HOST_DELAY apart.
"""

import json
import math
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.utils import parseaddr
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from articles.models import Outcome, TargetKind
from articles.sources.targets import (
    DOI_SHAPE,
    PMID_SHAPE,
    address_refusal,
    quoted,
    url_refusal,
)

MAX_REDIRECTS = 10
# A HEAD answered with one of these is asked again with GET: many servers refuse
# HEAD (405, 501) or answer it differently from GET (403 behind some firewalls).
HEAD_REFUSED = {403, 405, 501}
PERMANENT = {301, 308}
REASON_MAX = 500


@dataclass(frozen=True)
class Result:
    outcome: str
    http_status: int | None = None
    final_url: str = ""
    reason: str = ""
    duration_ms: int = 0


class HostPacer:
    """One request per host at a time, each starting at least `delay` seconds
    after the previous one to that host ended. Shared by the run's threads."""

    def __init__(self, delay: float):
        self.delay = delay
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            wait = self._last.get(host, -math.inf) + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                self._last[host] = time.monotonic()


def user_agent() -> str:
    """Names the site and whom to write to, so that a server's owner who sees our
    requests knows who asks and why."""
    contact = settings.SOURCE_CHECK_CONTACT or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return (
        f"{settings.SITE_NAME}SourceCheck/1.0 (+{settings.SITE_URL}; checks the "
        f"sources our articles cite; contact: {contact})"
    )


def short(text: str) -> str:
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def describe_error(error: httpx.HTTPError, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"No answer within {timeout:g} seconds (timed out)."
    text = str(error)
    cause = error.__context__
    if isinstance(cause, ssl.SSLError) or "SSL" in text or "certificate" in text:
        return short(f"The secure connection failed (TLS): {text}")
    if isinstance(error, httpx.ConnectError):
        return short(f"Could not connect: {text or 'connection refused'}")
    return short(f"The request failed: {text or type(error).__name__}")


def status_reason(status: int) -> str:
    if status == 404:
        return "The page is not there (404 Not Found)."
    if status == 410:
        return "The page was removed for good (410 Gone)."
    phrase = httpx.codes.get_reason_phrase(status)
    return f"The server answered {status} {phrase}".strip() + "."


class Fetcher:
    """Checks targets; safe to share between threads (httpx's pool is)."""

    def __init__(self, *, pacer: HostPacer | None = None):
        self.timeout = float(settings.SOURCE_CHECK_TIMEOUT)
        self.allow_private = bool(settings.SOURCE_CHECK_ALLOW_PRIVATE)
        self.pacer = pacer or HostPacer(float(settings.SOURCE_CHECK_HOST_DELAY))
        self.client = httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": user_agent()},
        )

    def close(self) -> None:
        self.client.close()

    def check(self, kind: str, value: str) -> Result:
        started = time.monotonic()
        if kind == TargetKind.URL:
            result = self.check_url(value)
        elif kind == TargetKind.DOI:
            result = self.check_doi(value)
        else:
            result = self.check_pmid(value)
        took = int((time.monotonic() - started) * 1000)
        return replace(result, duration_ms=took)

    # One request --------------------------------------------------------------

    def refusal(self, url: str) -> str:
        reason = url_refusal(url)
        if reason:
            return reason
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        return address_refusal(
            parts.hostname or "", port, allow_private=self.allow_private
        )

    def request(self, method: str, url: str) -> httpx.Response:
        """One request, in its host's turn; the body is never read past what
        the caller reads (a GET of a large page costs only its headers)."""
        host = (urlsplit(url).netloc or "").lower()
        with self.pacer.turn(host):
            request = self.client.build_request(method, url)
            response = self.client.send(request, stream=True)
            try:
                if method == "GET" and "json" in response.headers.get(
                    "content-type", ""
                ):
                    response.read()
            finally:
                response.close()
        return response

    def head_or_get(self, url: str) -> httpx.Response:
        response = self.request("HEAD", url)
        if response.status_code in HEAD_REFUSED:
            response = self.request("GET", url)
        return response

    # URLs ---------------------------------------------------------------------

    def check_url(self, url: str) -> Result:
        reason = self.refusal(url)
        if reason:
            return Result(Outcome.UNUSABLE, reason=reason)
        current = url
        moved = False
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                response = self.head_or_get(current)
            except httpx.HTTPError as error:
                return Result(
                    Outcome.BROKEN,
                    final_url=current if current != url else "",
                    reason=describe_error(error, self.timeout),
                )
            status = response.status_code
            location = response.headers.get("location")
            if 300 <= status < 400 and location:
                following = urljoin(current, location)
                if status in PERMANENT and not same_but_secure(current, following):
                    moved = True
                reason = self.refusal(following)
                if reason:
                    return Result(
                        Outcome.UNUSABLE,
                        http_status=status,
                        final_url=following[:2000],
                        reason=short(
                            f"It redirects to an address not checked: {reason}"
                        ),
                    )
                current = following
                continue
            if status >= 400:
                return Result(
                    Outcome.BROKEN,
                    http_status=status,
                    final_url=current if current != url else "",
                    reason=status_reason(status),
                )
            if moved:
                return Result(
                    Outcome.MOVED,
                    http_status=status,
                    final_url=current,
                    reason=f"Moved permanently to {current}: cite the new address.",
                )
            return Result(
                Outcome.OK,
                http_status=status,
                final_url=current if current != url else "",
            )
        return Result(
            Outcome.BROKEN,
            final_url=current,
            reason=f"More than {MAX_REDIRECTS} redirects.",
        )

    # DOIs ---------------------------------------------------------------------

    def check_doi(self, doi: str) -> Result:
        if not DOI_SHAPE.match(doi):
            return Result(
                Outcome.UNUSABLE, reason=f"{doi!r} is not a DOI (10.xxxx/...)."
            )
        resolver = settings.SOURCE_CHECK_DOI_RESOLVER + quoted(doi)
        try:
            response = self.head_or_get(resolver)
        except httpx.HTTPError as error:
            return Result(
                Outcome.UNKNOWN,
                reason=short(
                    "The DOI resolver did not answer: "
                    + describe_error(error, self.timeout)
                ),
            )
        status = response.status_code
        if status == 404:
            return Result(
                Outcome.BROKEN,
                http_status=status,
                reason="The DOI resolver does not know this DOI.",
            )
        if not 300 <= status < 400:
            return Result(
                Outcome.UNKNOWN,
                http_status=status,
                reason=f"The DOI resolver answered {status}.",
            )
        landing = urljoin(resolver, response.headers.get("location", ""))
        retraction = self.crossref_retraction(doi)
        if retraction:
            return Result(
                Outcome.RETRACTED,
                http_status=status,
                final_url=landing,
                reason=short(retraction),
            )
        return Result(Outcome.OK, http_status=status, final_url=landing)

    def crossref_retraction(self, doi: str) -> str:
        """Why Crossref says the work is retracted; empty when it does not (or
        cannot be asked, or does not hold the DOI: other agencies register some)."""
        try:
            response = self.request(
                "GET", settings.SOURCE_CHECK_CROSSREF_API + quoted(doi)
            )
        except httpx.HTTPError:
            return ""
        if response.status_code != 200:
            return ""
        try:
            message = response.json().get("message") or {}
        except (json.JSONDecodeError, AttributeError):
            return ""
        return retraction_in(message)

    # PMIDs --------------------------------------------------------------------

    def check_pmid(self, pmid: str) -> Result:
        if not PMID_SHAPE.match(pmid):
            return Result(Outcome.UNUSABLE, reason=f"{pmid!r} is not a PMID (digits).")
        url = (
            settings.SOURCE_CHECK_EUTILS_API
            + "esummary.fcgi?db=pubmed&retmode=json&id="
            + pmid
        )
        try:
            response = self.request("GET", url)
        except httpx.HTTPError as error:
            return Result(
                Outcome.UNKNOWN,
                reason=short(
                    f"PubMed did not answer: {describe_error(error, self.timeout)}"
                ),
            )
        if response.status_code != 200:
            return Result(
                Outcome.UNKNOWN,
                http_status=response.status_code,
                reason=f"PubMed answered {response.status_code}.",
            )
        try:
            result = response.json().get("result") or {}
        except (json.JSONDecodeError, AttributeError):
            return Result(Outcome.UNKNOWN, reason="PubMed's answer was not JSON.")
        entry = result.get(pmid)
        if pmid not in (result.get("uids") or []) or not entry or entry.get("error"):
            return Result(
                Outcome.BROKEN,
                http_status=200,
                reason=f"PubMed has no article with PMID {pmid}.",
            )
        if "Retracted Publication" in (entry.get("pubtype") or []):
            return Result(
                Outcome.RETRACTED,
                http_status=200,
                reason="PubMed lists it as a Retracted Publication.",
            )
        return Result(Outcome.OK, http_status=200)


def same_but_secure(before: str, after: str) -> bool:
    """http://x/y moving to https://x/y: an upgrade, not a new address to cite."""
    old, new = urlsplit(before), urlsplit(after)
    return (
        old.scheme == "http"
        and new.scheme == "https"
        and (old.hostname, old.path, old.query) == (new.hostname, new.path, new.query)
    )


def retraction_in(message: dict) -> str:
    """Why a Crossref work record says the work is retracted: a retraction among
    its updates (`updated-by`, or `update-to` on a notice), or a relation naming
    the work that retracts it (`is-retracted-by`). Empty when none does."""
    for field in ("updated-by", "update-to"):
        for update in message.get(field) or []:
            if str(update.get("type", "")).lower() == "retraction":
                notice = update.get("DOI") or update.get("doi") or ""
                return "Crossref records a retraction" + (
                    f" (notice {notice})." if notice else "."
                )
    relation = message.get("relation") or {}
    for related in relation.get("is-retracted-by") or []:
        notice = related.get("id", "")
        return "Crossref: it is retracted by " + (notice or "a later notice") + "."
    return ""
