"""How many times each article was read, per day and per kind of referrer: counts
only. No row holds a visitor, an address, a referrer or anything that could tell
two readers apart (articles/readership/ counts; docs/operations.md explains)."""

from django.db import models
from django.db.models import Q

from articles.models.content import Article


class ReadershipSource(models.TextChoices):
    """Where a reader came from, as a category: the referrer itself is never kept."""

    SEARCH = "search", "Search engine"
    NEWSLETTER = "newsletter", "Newsletter"
    SOCIAL = "social", "Social network"
    OTHER_SITE = "other_site", "Other site"
    INTERNAL = "internal", "This site"
    DIRECT = "direct", "Direct or unknown"


class DailyReadership(models.Model):
    """Views of one article on one day (the site's time zone) from one source."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="readership"
    )
    day = models.DateField()
    source = models.CharField(max_length=16, choices=ReadershipSource.choices)
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "day", "source"], name="readership_one_row_per_day"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ReadershipSource.values),
                name="readership_source_known",
            ),
        ]
        # The site-wide chart and export read by day across every article.
        indexes = [models.Index(fields=["day"], name="readership_day")]
        verbose_name_plural = "daily readership"

    def __str__(self) -> str:
        return f"{self.article_id} {self.day} {self.source}: {self.views}"
