"""/sitemap.xml: the home and list pages, and every live article, topic and author."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import Exists, OuterRef
from django.urls import reverse

from articles.models import Article, Author
from articles.selectors import topics_with_articles


class SiteURLSitemap(Sitemap):
    """Addresses on SITE_URL, whichever host name the request came in on."""

    def get_protocol(self, protocol=None) -> str:
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None) -> str:
        return urlsplit(settings.SITE_URL).netloc


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
