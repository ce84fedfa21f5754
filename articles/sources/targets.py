"""What a source points at, normalised: the key its check history is kept under,
and why an address is refused without a request."""

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import idna

from articles.models import TargetKind
from articles.models.sources import VALUE_MAX

DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:")
DOI_SHAPE = re.compile(r"^10\.\d{4,9}/\S+$")
PMID_SHAPE = re.compile(r"^\d{1,9}$")
# Longer addresses are refused unchecked: no browser or server promises more.
URL_MAX = 2000


@dataclass(frozen=True)
class Target:
    kind: str
    value: str


def normalise_doi(raw: str) -> str:
    """DOIs are case-insensitive: lower case, without any resolver prefix."""
    doi = raw.strip()
    for prefix in DOI_PREFIXES:
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
    return doi.strip().lower()


def normalise_url(raw: str) -> str:
    """Scheme and host in lower case, no fragment (never sent to the server);
    otherwise as written. Left as it is when it does not parse."""
    url = raw.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:VALUE_MAX]
    if not parts.scheme or not parts.netloc:
        return url[:VALUE_MAX]
    netloc = parts.netloc
    if "@" not in netloc:
        netloc = netloc.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))[
        :VALUE_MAX
    ]


def targets_of(source: Any) -> list[Target]:
    """What one source (a Reference, or its dict) asks to check: its URL, DOI and
    PMID, each once."""
    get = source.get if isinstance(source, dict) else source.__dict__.get
    found = []
    if url := (get("url") or "").strip():
        found.append(Target(TargetKind.URL, normalise_url(url)))
    if doi := normalise_doi(get("doi") or ""):
        found.append(Target(TargetKind.DOI, doi[:VALUE_MAX]))
    if pmid := (get("pmid") or "").strip():
        found.append(Target(TargetKind.PMID, pmid[:VALUE_MAX]))
    return found


def url_refusal(url: str) -> str:
    """Why `url` is not fetched, whatever the host resolves to; empty when it may
    be. Never makes a request (refusal_of_address looks the host up)."""
    if len(url) > URL_MAX:
        return f"The address is longer than {URL_MAX} characters."
    try:
        parts = urlsplit(url)
    except ValueError:
        return "The address does not parse as a URL."
    scheme = parts.scheme.lower()
    if not scheme:
        return (
            "The address is relative (no http:// or https://): readers cannot "
            "follow it."
        )
    if scheme not in ("http", "https"):
        return (
            f"A {scheme}: address is not a web page; only http and https are checked."
        )
    if not parts.hostname:
        return "The address has no host name."
    if parts.username or parts.password:
        return "The address carries a user name or password: not fetched."
    try:
        ascii_host(parts.hostname)
    except UnicodeError:
        return f"The host name {parts.hostname!r} cannot be encoded (IDNA)."
    try:
        _port = parts.port
    except ValueError:
        return "The address has an invalid port."
    return ""


def ascii_host(host: str) -> str:
    """The host as DNS knows it: an international name encoded by the rules
    httpx follows (IDNA 2008, with UTS 46 mapping); raises UnicodeError (IDNAError
    is one) when it cannot be."""
    if host.isascii():
        return host
    return idna.encode(host, uts46=True).decode("ascii")


def address_refusal(host: str, port: int, *, allow_private: bool) -> str:
    """Why a host is not contacted: it is, or resolves to, a private, loopback,
    link-local or reserved address (the check must not reach inside our own
    network). Empty when it may be."""
    if allow_private:
        return ""
    try:
        infos = socket.getaddrinfo(ascii_host(host), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        # Not resolvable: the request fails as a broken link, telling the same.
        return ""
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return (
                f"The host {host} is a private or local address ({address}): "
                "not fetched."
            )
    return ""


def quoted(value: str) -> str:
    """A DOI or PMID as one path segment of an API address."""
    return quote(value, safe="/")
