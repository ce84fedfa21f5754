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
`s-maxage` allows, never wrong for longer. Each refresh is one render, and a
change to an article lists every page number of the article list (2,000 of them
at 20,000 articles): the first FRONT_PROXY_REFRESH_AT_ONCE addresses (the article,
its topic and people, the first pages of lists, feeds, the sitemap: page numbers
come last) are refreshed at once, the rest by a background task.
"""

import http.client
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django_tasks import task

logger = logging.getLogger(__name__)

REFRESH_HEADER = "X-Skincare-Refresh"


def is_on() -> bool:
    return bool(settings.FRONT_PROXY_URLS and settings.FRONT_PROXY_REFRESH_SECRET)


def refresh(urls: list[str]) -> None:
    """Ask every front proxy for each absolute URL again, replacing its copy:
    page numbers beyond the first last, and those past
    FRONT_PROXY_REFRESH_AT_ONCE addresses left to a background task."""
    ordered = sorted(set(urls), key=_page_number_first)
    now = ordered[: settings.FRONT_PROXY_REFRESH_AT_ONCE]
    later = ordered[settings.FRONT_PROXY_REFRESH_AT_ONCE :]
    _refresh(now)
    if later:
        refresh_later.enqueue(urls=later)


def _page_number_first(url: str) -> tuple[int, str]:
    """Pages without a page number and first pages first, then page 2s, 3s..."""
    number = parse_qs(urlsplit(url).query).get("page", ["1"])[0]
    return (int(number) if number.isdigit() else 1, url)


@task()
def refresh_later(urls: list[str]) -> None:
    """The rest of a change's pages (deep page numbers of the lists)."""
    if is_on():
        _refresh(urls)


def _refresh(urls: list[str]) -> None:
    if not urls:
        return
    jobs = [(proxy, url) for url in urls for proxy in settings.FRONT_PROXY_URLS]
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
