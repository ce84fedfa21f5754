"""/sitemap.xml's newsletter parts: the public archive and every issue in it, as
value rows (core/sitemaps.py)."""

from django.db.models.functions import TruncDate

from core.sitemaps import NamedPages, Section, path_for
from newsletter.models import Issue


class ArchivePageSitemap(NamedPages):
    changefreq = "weekly"
    names = ("newsletter:archive",)


class ArchivedIssueSitemap(Section):
    changefreq = "yearly"

    def __init__(self):
        self._path = path_for("newsletter:archive_detail")

    def location(self, key: str) -> str:
        return self._path(key)

    def rows(self):
        return (
            Issue.objects.archived()
            .order_by("-sent_at", "-pk")
            .values_list("slug", TruncDate("sent_at"))
        )


SITEMAPS = {"newsletter": ArchivePageSitemap, "issues": ArchivedIssueSitemap}
