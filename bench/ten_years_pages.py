"""Every admin and public page, timed with Django's test client in this process
(bench/ten_years.py).

The pages are found, not listed by hand: for each ModelAdmin registered on the
admin site its list, the list searched, the list filtered by its first filter
link, the change page of a real row and the add page, then every extra view its
get_urls() adds (object ids filled with the same row; views that answer a GET
with 405 are POST-only and left out); the admin's own pages and the calendar;
then every public URL pattern, its slug filled with a live article, a topic, an
author or a sent issue, and links signed for a subscriber. What cannot be
filled is listed as not timed.

Each page: one warm-up with its queries counted (CaptureQueriesContext), then
RUNS requests timed; the public ones with the page cache emptied before each.
"""

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.contrib import admin
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from articles.models import Article, Author, Topic
from newsletter.models import Issue, Subscriber
from newsletter.subscribers.tokens import Purpose, make_token

ADMIN_GOAL_MS = 300.0
PUBLIC_GOAL_MS = 50.0
# The admin's standard views, timed per ModelAdmin below; and views that are no
# page (sign-in and out, lookups, redirects) or that change data on GET.
STANDARD = {"changelist", "add", "history", "delete", "change", ""}
NOT_PAGES = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "autocomplete",
    "jsi18n",
    "view_on_site",
    "app_list",
}
# Public views that are no page a reader opens.
NOT_PUBLIC = {
    "readership_beacon",
    "provider_webhook",
    "media",
    "favicon",
    "health",
    "health-web",
    "calendar_feed",
    "share_preview",
    "click",
    "data_delete",
    "confirm_resend",
}
# Answers to a GET that are no page: POST-only views (405), views a superuser
# may not open (403, an add page for a row only the site makes), and redirects
# (a workflow action refusing a GET, a one-row list sending to its row).
NOT_A_PAGE = {302, 403, 405}
SEARCH_TERMS = {
    Article: "retinol",
    Subscriber: "reader1234",
}
FILTER_LINK = re.compile(r'<a href="(\?[^"]+)"')


@dataclass
class Page:
    name: str
    url: str
    admin: bool
    status: int = 0
    queries: int = 0
    times_ms: list[float] = field(default_factory=list)
    # The warm-up's slowest query and its milliseconds, for EXPLAIN.
    slowest_sql: str = ""
    slowest_ms: float = 0.0

    @property
    def goal_ms(self) -> float:
        return ADMIN_GOAL_MS if self.admin else PUBLIC_GOAL_MS

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else 0.0

    @property
    def max_ms(self) -> float:
        return max(self.times_ms) if self.times_ms else 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.median_ms <= self.goal_ms

    def as_dict(self) -> dict:
        found = asdict(self)
        found.update(
            median_ms=self.median_ms,
            max_ms=self.max_ms,
            goal_ms=self.goal_ms,
            ok=self.ok,
        )
        return found


@dataclass
class Rows:
    """The real rows whose pages are timed."""

    article: Article | None
    unprepared: Article | None
    issue: Issue | None
    big_issue: Issue | None
    subscriber: Subscriber | None
    pending: Subscriber | None
    topic: Topic | None
    author: Author | None

    @classmethod
    def pick(cls, big_issue_id: int | None = None) -> "Rows":
        """The newest prepared live article (one with a correction if any is)
        and the newest live one not prepared, the latest sent issue but the big
        one, a confirmed and a pending subscriber, the first topic and author
        (each with a 24th and a 60th of the articles)."""
        live = Article.objects.filter(stage="live").order_by("-published_at")
        prepared = live.filter(prepared__isnull=False)
        article = (
            prepared.filter(corrections__isnull=False).first()
            or prepared.first()
            or live.first()
        )
        unprepared = live.filter(prepared__isnull=True).first()
        sent = Issue.objects.filter(status=Issue.Status.SENT).order_by("-pk")
        if big_issue_id is None:
            # Kept from an earlier load: the big issue is the one sent to far
            # more readers than the others.
            counts = list(
                sent.order_by("-recipient_count").values_list("pk", "recipient_count")[
                    :2
                ]
            )
            if len(counts) == 2 and (counts[0][1] or 0) > 2 * (counts[1][1] or 0):
                big_issue_id = counts[0][0]
        big = sent.filter(pk=big_issue_id).first() if big_issue_id else None
        return cls(
            article=article,
            unprepared=unprepared,
            issue=sent.exclude(pk=big_issue_id).first()
            if big_issue_id
            else sent.first(),
            big_issue=big,
            subscriber=Subscriber.objects.filter(status="confirmed")
            .order_by("pk")
            .last(),
            pending=Subscriber.objects.filter(status="pending").order_by("pk").last(),
            topic=Topic.objects.order_by("pk").first(),
            author=Author.objects.order_by("pk").first(),
        )

    def of(self, model) -> object | None:
        """The row whose pages stand for the model's."""
        chosen = {Article: self.article, Issue: self.issue, Subscriber: self.subscriber}
        if model in chosen:
            return chosen[model]
        return model._default_manager.order_by("-pk").first()


def _params(pattern: URLPattern) -> list[str]:
    return (
        list(pattern.pattern.converters)
        if hasattr(pattern.pattern, "converters")
        else []
    )


def _fill(pattern: URLPattern, row) -> dict | None:
    """The URL arguments for the pattern from the row, or None."""
    kwargs = {}
    for name in _params(pattern):
        if name in {"object_id", "pk"} and row is not None:
            kwargs[name] = row.pk
        elif name == "number":
            kwargs[name] = 1
        else:
            return None
    return kwargs


def wanted(name: str, only: str) -> bool:
    """Whether a page is named by `only`: texts split by "|", any one in the
    name (empty: every page)."""
    return not only or any(text in name for text in only.split("|"))


def _url(name: str, *args) -> str | None:
    """The URL of a view the admin may not have (a list with no add page)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def admin_pages(
    rows: Rows, client: Client, only: str = ""
) -> tuple[list[Page], list[str]]:
    """Every admin page, and what could not be timed (and why); a list is
    opened for its filter links only when its filtered page is named `only`."""
    pages, skipped = [], []
    pages.append(Page("admin dashboard", reverse("admin:index"), True))
    for name in ("calendar:calendar", "calendar:feed_settings", "staff:factors"):
        pages.append(Page(f"admin {name.split(':')[1]}", reverse(name), True))
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        label = f"admin {meta.app_label}.{meta.model_name}"
        base = f"admin:{meta.app_label}_{meta.model_name}"
        changelist = reverse(f"{base}_changelist")
        pages.append(Page(f"{label} list", changelist, True))
        if model_admin.search_fields:
            term = SEARCH_TERMS.get(model, "skin")
            pages.append(Page(f"{label} list searched", f"{changelist}?q={term}", True))
        if model_admin.list_filter and wanted(f"{label} list filtered", only):
            html = client.get(changelist).content.decode(errors="replace")
            side = html.partition('id="changelist-filter"')[2]
            link = next((m for m in FILTER_LINK.findall(side) if "=" in m), None)
            if link:
                url = f"{changelist}{link.replace('&amp;', '&')}"
                pages.append(Page(f"{label} list filtered", url, True))
        row = rows.of(model)
        change = _url(f"{base}_change", row.pk) if row is not None else None
        if change:
            pages.append(Page(f"{label} change", change, True))
        else:
            skipped.append(f"{label} change: no row or no change page")
        if add := _url(f"{base}_add"):
            pages.append(Page(f"{label} add", add, True))
        rows_for = [(row, "")]
        if model is Issue and rows.big_issue is not None:
            rows_for.append((rows.big_issue, " (big issue)"))
            big = reverse(f"{base}_change", args=[rows.big_issue.pk])
            pages.append(Page(f"{label} change (big issue)", big, True))
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            short = pattern.name.removeprefix(f"{meta.app_label}_{meta.model_name}_")
            if short in STANDARD:
                continue
            for which, suffix in rows_for:
                kwargs = _fill(pattern, which)
                if kwargs is None:
                    skipped.append(
                        f"{label} {short}: needs {', '.join(_params(pattern))}"
                    )
                    break
                if not kwargs and suffix:
                    continue
                url = reverse(f"admin:{pattern.name}", kwargs=kwargs)
                pages.append(Page(f"{label} {short}{suffix}", url, True))
    return pages, skipped


def _public_arguments(rows: Rows) -> dict[str, Callable[[], dict]]:
    article, topic, author, issue = rows.article, rows.topic, rows.author, rows.issue

    def token(purpose: Purpose, subscriber: Subscriber | None) -> dict:
        return {"token": make_token(subscriber=subscriber, purpose=purpose)}

    return {
        "articles:detail": lambda: {"slug": article.slug},
        "articles:topic": lambda: {"slug": topic.slug},
        "articles:topic_feed": lambda: {"slug": topic.slug},
        "articles:topic_feed_atom": lambda: {"slug": topic.slug},
        "articles:author": lambda: {"slug": author.slug},
        "newsletter:archive_detail": lambda: {"slug": issue.slug},
        "newsletter:confirm": lambda: token(Purpose.CONFIRM, rows.pending),
        "newsletter:unsubscribe": lambda: token(Purpose.UNSUBSCRIBE, rows.subscriber),
        "newsletter:preferences": lambda: token(Purpose.PREFERENCES, rows.subscriber),
        "newsletter:data": lambda: token(Purpose.DATA, rows.subscriber),
    }


def _walk(patterns, namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin" or str(pattern.pattern).startswith("admin/"):
                continue
            inner = (
                f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            )
            yield from _walk(pattern.url_patterns, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}", pattern


def public_pages(rows: Rows) -> tuple[list[Page], list[str]]:
    """Every public page, a few with a query string, and what was not timed."""
    pages, skipped = [], []
    arguments = _public_arguments(rows)
    for name, pattern in _walk(get_resolver().url_patterns):
        if name.rpartition(":")[2] in NOT_PUBLIC or str(pattern.pattern).startswith(
            "admin/"
        ):
            continue
        sitemaps = (
            pattern.default_args.get("sitemaps")
            or pattern.default_args.get("sections")
            or {}
        )
        if _params(pattern) == ["section"] and sitemaps:
            # A sitemap index's files: each section's first page.
            for section in sitemaps:
                url = reverse(name, kwargs={"section": section})
                pages.append(Page(f"public {name} {section}", url, False))
            continue
        if _params(pattern) == ["section", "page"] and sitemaps:
            # A sitemap index's files: each section's first file (the fullest).
            for section in sitemaps:
                url = reverse(name, kwargs={"section": section, "page": 1})
                pages.append(Page(f"public {name} {section}", url, False))
            continue
        if _params(pattern) and name not in arguments:
            skipped.append(f"public {name}: needs {', '.join(_params(pattern))}")
            continue
        try:
            url = reverse(name, kwargs=arguments[name]() if name in arguments else {})
        except (AttributeError, TypeError):
            skipped.append(f"public {name}: no row to show")
            continue
        pages.append(Page(f"public {name}", url, False))
    if rows.unprepared is not None:
        url = reverse("articles:detail", kwargs={"slug": rows.unprepared.slug})
        pages.append(Page("public articles:detail (not prepared)", url, False))
    pages += [
        Page(
            "public search (one word)", reverse("articles:search") + "?q=retinol", False
        ),
        Page(
            "public search (two words)",
            reverse("articles:search") + "?q=dry+skin+routine",
            False,
        ),
        Page(
            "public article list, page 50", reverse("articles:list") + "?page=50", False
        ),
    ]
    return pages, skipped


def time_pages(
    pages: list[Page], staff: Client, public: Client, runs: int, say=lambda line: None
) -> list[Page]:
    """Warm-up with queries counted, then `runs` timed requests, each page; the
    pages timed (those answering a GET with NOT_A_PAGE are left out)."""
    pages_cache = caches["pages"]
    for page in pages:
        client = staff if page.admin else public
        pages_cache.clear()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(page.url)
        page.status, page.queries = response.status_code, len(captured)
        if page.status == 302 and page.name.endswith(" list"):
            # A one-row list (the source check, the home page) opens its row.
            page.url = response["Location"]
            with CaptureQueriesContext(connection) as captured:
                response = client.get(page.url)
            page.status, page.queries = response.status_code, len(captured)
        slowest = max(
            captured.captured_queries, key=lambda q: float(q["time"]), default=None
        )
        if slowest is not None:
            page.slowest_sql = slowest["sql"]
            page.slowest_ms = float(slowest["time"]) * 1000
        if page.status in NOT_A_PAGE:
            continue
        for _ in range(runs):
            if not page.admin:
                pages_cache.clear()
            started = time.perf_counter()
            client.get(page.url)
            page.times_ms.append((time.perf_counter() - started) * 1000)
        say(
            f"  {page.name}: {page.median_ms:.0f} ms, {page.queries} queries"
            + ("" if page.status == 200 else f" (HTTP {page.status})")
        )
    return [page for page in pages if page.status not in NOT_A_PAGE]


def explain(page: Page) -> list[str]:
    """EXPLAIN ANALYZE of the page's slowest query (PostgreSQL, a SELECT)."""
    sql = page.slowest_sql
    if connection.vendor != "postgresql" or not sql.lstrip().upper().startswith(
        "SELECT"
    ):
        return []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [row[0] for row in cursor.fetchall()]


def table(pages: list[Page]) -> list[str]:
    """The pages as a Markdown table, slowest first within admin and public."""
    lines = [
        "| page | median ms | max ms | queries | goal | |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for page in sorted(pages, key=lambda p: (not p.admin, -p.median_ms)):
        verdict = (
            "OK"
            if page.ok
            else ("SLOW" if page.status == 200 else f"HTTP {page.status}")
        )
        lines.append(
            f"| {page.name} | {page.median_ms:,.0f} | {page.max_ms:,.0f} | "
            f"{page.queries} | ≤{page.goal_ms:.0f} | {verdict} |"
        )
    return lines
