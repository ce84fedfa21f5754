"""Refresh the front proxy's copies of changed pages (deploy/nginx/skincare.conf).

nginx keeps public pages for their `s-maxage`; open-source nginx has no PURGE. So
after a change commits, the site asks each front proxy for every changed address
again with the refresh secret (X-Skincare-Refresh), which makes nginx fetch the
page from Django and store it in place of the old copy. Django's page version has
moved on in the same commit, so that fetch is the new page. Until a refresh
returns, readers get the old copy; after, the new one: a publish is visible
through the proxy once the publishing request or task is done.

The addresses are fetched a few at a time (FRONT_PROXY_REFRESH_CONCURRENCY); a
proxy that fails is logged, never raised: the page is then as stale as its
`s-maxage` allows, never wrong for longer.
"""

import http.client
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

REFRESH_HEADER = "X-Skincare-Refresh"


def is_on() -> bool:
    return bool(settings.FRONT_PROXY_URLS and settings.FRONT_PROXY_REFRESH_SECRET)


def refresh(urls: list[str]) -> None:
    """Ask every front proxy for each absolute URL again, replacing its copy.
    The site's own lists come first, page numbers beyond the first last."""
    ordered = sorted(urls, key=lambda url: ("?page=" in url, url))
    jobs = [(proxy, url) for url in ordered for proxy in settings.FRONT_PROXY_URLS]
    workers = max(1, min(settings.FRONT_PROXY_REFRESH_CONCURRENCY, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answered = pool.map(_refresh_one, jobs)
        failed = [job for job, ok in zip(jobs, answered, strict=True) if not ok]
    if failed:
        logger.warning(
            "Front proxy refresh failed for %d of %d pages (first: %s via %s)",
            len(failed),
            len(jobs),
            failed[0][1],
            failed[0][0],
        )


def _refresh_one(job: tuple[str, str]) -> bool:
    proxy, url = job
    public = urlsplit(url)
    target = urlsplit(proxy)
    path = public.path + (f"?{public.query}" if public.query else "")
    connection_class = (
        http.client.HTTPSConnection
        if target.scheme == "https"
        else http.client.HTTPConnection
    )
    connection = connection_class(
        target.netloc, timeout=settings.FRONT_PROXY_REFRESH_TIMEOUT
    )
    try:
        connection.request(
            "GET",
            path,
            headers={
                "Host": public.netloc,
                REFRESH_HEADER: settings.FRONT_PROXY_REFRESH_SECRET,
                "X-Forwarded-Proto": public.scheme,
                "Accept-Encoding": "gzip",
            },
        )
        response = connection.getresponse()
        response.read()
    except OSError as error:
        logger.warning("Front proxy refresh of %s via %s: %s", url, proxy, error)
        return False
    finally:
        connection.close()
    return response.status < 500
