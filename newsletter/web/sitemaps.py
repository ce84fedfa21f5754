"""/sitemap.xml's newsletter part: the public archive and every issue in it."""

from django.urls import reverse

from core.sitemaps import SiteURLSitemap
from newsletter.models import Issue


class ArchivePageSitemap(SiteURLSitemap):
    changefreq = "weekly"

    def items(self) -> list[str]:
        return ["newsletter:archive"]

    def location(self, item: str) -> str:
        return reverse(item)


class ArchivedIssueSitemap(SiteURLSitemap):
    changefreq = "yearly"

    def items(self):
        return (
            Issue.objects.archived().only("slug", "sent_at").order_by("-sent_at", "-pk")
        )

    def lastmod(self, issue: Issue):
        return issue.sent_at


SITEMAPS = {"newsletter": ArchivePageSitemap, "issues": ArchivedIssueSitemap}
