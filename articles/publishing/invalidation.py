"""Which public pages a change to articles touches, for the page cache and CDNs.

Every change bumps the page version (core.pagecache.content_changed), so nothing
stale is served from our own cache; the addresses listed here are what a CDN is
asked to drop. Saves of articles go through services.save_article, which calls
article_changed(); approving the live version, renditions and the site's other
public content (topics, authors, home page, policy, corrections) are wired in
signals.py and tasks.py.
"""

import math
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, Author, Topic
from articles.publishing import renditions
from core.pagecache import content_changed
from core.sitemaps import file_paths

LIST_PAGE_SIZE = 10


def _pages(path: str, count: int) -> set[str]:
    """A paginated list's addresses: the first page and ?page=2 onwards."""
    pages = max(1, math.ceil(count / LIST_PAGE_SIZE))
    return {path} | {f"{path}?page={n}" for n in range(2, pages + 1)}


def site_paths() -> set[str]:
    """Pages that show every live article: home, lists, feeds, the sitemap."""
    live = Article.objects.published().count()
    return (
        {
            reverse("articles:home"),
            reverse("articles:topics"),
            reverse("articles:feed"),
            reverse("articles:feed_atom"),
            reverse("sitemap"),
        }
        | _pages(reverse("articles:list"), live)
        | set(file_paths("articles", live))
    )


def topic_paths(topic: Topic | None) -> set[str]:
    if topic is None or not topic.slug:
        return set()
    live = Article.objects.published().filter(topic=topic).count()
    return _pages(topic.get_absolute_url(), live) | {
        reverse("articles:topic_feed", kwargs={"slug": topic.slug}),
        reverse("articles:topic_feed_atom", kwargs={"slug": topic.slug}),
    }


def author_paths(*authors: Author | None) -> set[str]:
    return {a.get_absolute_url() for a in authors if a is not None and a.slug}


def article_paths(article: Article) -> set[str]:
    """The article's own page, its topic's and its people's pages, site lists."""
    own = {article.get_absolute_url()} if article.slug else set()
    return (
        own
        | topic_paths(article.topic if article.topic_id else None)
        | author_paths(
            article.author if article.author_id else None,
            article.reviewer if article.reviewer_id else None,
        )
        | site_paths()
    )


def article_changed(
    *, article: Article, before: Article | None = None, reason: str = ""
) -> None:
    """An article's public state may have changed (saved, published, scheduled,
    unpublished, reviewed, deleted): pages showing it before or after."""

    def paths() -> set[str]:
        return article_paths(article) | (article_paths(before) if before else set())

    content_changed(paths=paths, reason=reason or f"article {article.pk}")


def articles_changed(*, articles: Iterable[Article], reason: str) -> None:
    def paths() -> set[str]:
        found = set().union(*(article_paths(a) for a in articles))
        return found or site_paths()

    content_changed(paths=paths, reason=reason)


def image_changed(*, source: str) -> None:
    """Renditions of a stored image were made or removed: the pages of articles
    (and authors) showing it change their picture markup."""
    using = Article.objects.filter(renditions.showing(source)).select_related(
        "topic", "author", "reviewer"
    )
    articles_changed(articles=using, reason=f"renditions of {source}")


def next_scheduled_publish() -> datetime | None:
    """When the next scheduled article goes live (pages change by themselves)."""
    return Article.objects.filter(
        status=Article.Status.PUBLISHED, published_at__gt=timezone.now()
    ).aggregate(at=Min("published_at"))["at"]
