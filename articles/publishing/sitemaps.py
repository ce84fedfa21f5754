"""/sitemap.xml's articles parts: the home and list pages, and every live article,
topic and author (the newsletter adds its archive, newsletter/web/sitemaps.py).
Value rows only, each read through an index (core/sitemaps.py)."""

from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce, TruncDate

from articles.models import Article, Author, Topic
from core.sitemaps import NamedPages, Section, path_for


class StaticPagesSitemap(NamedPages):
    changefreq = "daily"
    names = (
        "articles:home",
        "articles:list",
        "articles:topics",
        "articles:editorial_policy",
    )


class ArticleSitemap(Section):
    changefreq = "weekly"

    def __init__(self):
        self._path = path_for("articles:detail")

    def location(self, key: str) -> str:
        return self._path(key)

    def rows(self):
        return (
            Article.objects.published()
            .order_by("-published_at", "-pk")
            .values_list(
                "slug", TruncDate(Coalesce("content_updated_at", "published_at"))
            )
        )


class TopicSitemap(Section):
    changefreq = "weekly"

    def __init__(self):
        self._path = path_for("articles:topic")

    def location(self, key: str) -> str:
        return self._path(key)

    def rows(self):
        live = Article.objects.published().filter(topic=OuterRef("pk"))
        return (
            Topic.objects.filter(Exists(live))
            .order_by("name", "pk")
            .values_list("slug")
        )


class AuthorSitemap(Section):
    changefreq = "monthly"

    def __init__(self):
        self._path = path_for("articles:author")

    def location(self, key: str) -> str:
        return self._path(key)

    def rows(self):
        live = Article.objects.published().filter(author=OuterRef("pk"))
        return (
            Author.objects.filter(Exists(live))
            .order_by("name", "pk")
            .values_list("slug")
        )


SITEMAPS = {
    "pages": StaticPagesSitemap,
    "articles": ArticleSitemap,
    "topics": TopicSitemap,
    "authors": AuthorSitemap,
}
