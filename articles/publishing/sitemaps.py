"""/sitemap.xml's articles part: the home and list pages, and every live article,
topic and author (the newsletter adds its archive, newsletter/web/sitemaps.py)."""

from django.db.models import Exists, OuterRef
from django.urls import reverse

from articles.models import Article, Author
from articles.selectors import topics_with_articles
from core.sitemaps import SiteURLSitemap


class StaticPagesSitemap(SiteURLSitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return [
            "articles:home",
            "articles:list",
            "articles:topics",
            "articles:editorial_policy",
        ]

    def location(self, item: str) -> str:
        return reverse(item)


class ArticleSitemap(SiteURLSitemap):
    changefreq = "weekly"

    def items(self):
        return (
            Article.objects.published()
            .only("slug", "published_at", "content_updated_at")
            .order_by("-published_at", "-pk")
        )

    def lastmod(self, article: Article):
        return article.content_updated_at or article.published_at


class TopicSitemap(SiteURLSitemap):
    changefreq = "weekly"

    def items(self):
        return topics_with_articles()


class AuthorSitemap(SiteURLSitemap):
    changefreq = "monthly"

    def items(self):
        live = Article.objects.published().filter(author=OuterRef("pk"))
        return Author.objects.filter(Exists(live)).order_by("name", "pk")


SITEMAPS = {
    "pages": StaticPagesSitemap,
    "articles": ArticleSitemap,
    "topics": TopicSitemap,
    "authors": AuthorSitemap,
}
