"""What readers search for, counted in aggregate, and what editors do about it:
articles pinned to a query, ideas for articles on the editorial calendar.

Nothing here says who searched: no address, account, cookie or session; only the
query as normalised (articles/search/insight.py), the day and how many times.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from articles.models.content import Article

# Longest query kept, after normalising (articles.search.common.MAX_QUERY_LENGTH
# cuts what is searched to the same length).
QUERY_LENGTH = 200


class SearchCount(models.Model):
    """How many searches for one normalised query on one day found something, or
    nothing. A query that looked like an email address or a phone number is not
    kept: it is counted with an empty query, `withheld`."""

    day = models.DateField()
    query = models.CharField(max_length=QUERY_LENGTH, blank=True)
    found_nothing = models.BooleanField(default=False)
    withheld = models.BooleanField(default=False)
    count = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = "search insight"
        verbose_name_plural = "search insight"
        constraints = [
            # The one row each search adds to (INSERT ... ON CONFLICT names it).
            models.UniqueConstraint(
                fields=["day", "query", "found_nothing"], name="search_count_unique"
            ),
            # A withheld query is never stored; a kept one is never empty.
            models.CheckConstraint(
                condition=Q(withheld=True, query="")
                | (Q(withheld=False) & ~Q(query="")),
                name="search_count_withheld_has_no_query",
            ),
            models.CheckConstraint(
                condition=Q(count__gte=1), name="search_count_positive"
            ),
        ]
        indexes = [models.Index(fields=["found_nothing", "day"])]

    def __str__(self) -> str:
        return f"{self.day}: {self.query or '(withheld)'} x {self.count}"


class SearchPromotion(models.Model):
    """An article editors pin to a query: shown first on the query's results while
    it is live (a draft never is)."""

    query = models.CharField(max_length=QUERY_LENGTH)
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="search_promotions"
    )
    position = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["query", "position", "pk"]
        verbose_name = "pinned search result"
        verbose_name_plural = "pinned search results"
        constraints = [
            models.UniqueConstraint(
                fields=["query", "article"], name="search_promotion_unique"
            ),
            models.CheckConstraint(
                condition=~Q(query=""), name="search_promotion_has_query"
            ),
        ]

    def __str__(self) -> str:
        return f"“{self.query}”: {self.article}"


class StoryIdea(models.Model):
    """A query readers searched for without finding anything, which an editor
    marked “write about this”: on the editorial calendar on `planned_for`."""

    query = models.CharField(max_length=QUERY_LENGTH, unique=True)
    planned_for = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["planned_for", "query"]
        verbose_name = "story idea"
        constraints = [
            models.CheckConstraint(condition=~Q(query=""), name="story_idea_has_query")
        ]

    def __str__(self) -> str:
        return self.query
