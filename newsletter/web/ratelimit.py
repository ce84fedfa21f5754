"""Per-IP limit on newsletter sign-ups, counted in Django's cache.

The client address is REMOTE_ADDR and nothing else. X-Forwarded-For is never read:
any client can send it, so trusting it would let one machine pose as many. Behind a
reverse proxy or load balancer, the proxy must put the real client address in
REMOTE_ADDR (for example gunicorn's --forwarded-allow-ips with a proxy that sets the
header, or the proxy protocol); otherwise every visitor shares the proxy's address
and one budget.

Counting is a fixed window of one hour per address: cache.add creates the counter
atomically, cache.incr raises it atomically (both are atomic in the memory, Redis
and Memcached backends). With the default per-process memory cache each process
counts on its own; set REDIS_URL to share the count between processes.
"""

import ipaddress
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

WINDOW_SECONDS = 60 * 60


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the server saw it, or None if there is none."""
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip()))
    except ValueError:
        return None


def bucket(ip: str | None) -> str:
    """Who shares a budget: one IPv4 address, or one IPv6 /64 (one household or
    server usually holds a whole /64 and can pick any address in it)."""
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends


def hit(
    *, scope: str, ip: str | None, limit: int, window: int = WINDOW_SECONDS
) -> Decision:
    """Count one attempt from `ip`; allowed while the window's count is <= limit."""
    now = time.time()
    index = int(now // window)
    key = f"ratelimit:{scope}:{bucket(ip)}:{index}"
    retry_after = max(1, int((index + 1) * window - now) + 1)
    # A little longer than the window, so the key outlives it on a slow clock.
    timeout = window + 60
    if cache.add(key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            # The key expired between add and incr: this is the first hit again.
            cache.add(key, 1, timeout=timeout)
            count = 1
    return Decision(allowed=count <= limit, count=count, retry_after=retry_after)
