"""An article's corrections and updates, for the foot of its page and its JSON-LD.

The public article page reads them inside the article's own query: a subquery
gathers them into one JSON array (json_group_array on SQLite, jsonb_agg on
PostgreSQL), so a page with many corrections runs no more queries than one with
none.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import (
    Aggregate,
    Count,
    IntegerField,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from articles.models import Article, Correction

# The annotation ArticleDetailView's query carries.
ANNOTATION = "corrections_data"


@dataclass(frozen=True)
class PublicCorrection:
    pk: int
    text: str
    published_at: datetime


class JSONArrayAgg(Aggregate):
    """The grouped rows' values as one JSON array. PostgreSQL gets jsonb_agg, not
    json_agg: the driver hands jsonb to JSONField as text to decode, like SQLite."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_AGG", **extra_context)


def corrections_subquery() -> Subquery:
    """The outer article's corrections as a JSON array, NULL when it has none."""
    rows = (
        Correction.objects.filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(
            items=JSONArrayAgg(
                JSONObject(pk="pk", text="text", published_at="published_at")
            )
        )
        .values("items")
    )
    return Subquery(rows, output_field=JSONField())


def count_subquery() -> Subquery:
    """How many corrections the outer article has; NULL when none."""
    rows = (
        Correction.objects.filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Subquery(rows, output_field=IntegerField())


def with_corrections(queryset: QuerySet[Article]) -> QuerySet[Article]:
    return queryset.annotate(**{ANNOTATION: corrections_subquery()})


def _moment(value: str) -> datetime:
    """A time as the JSON has it: SQLite's stored UTC text or PostgreSQL's ISO."""
    moment = parse_datetime(value)
    if moment is None:
        raise ValueError(f"Not a date and time: {value!r}")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def for_article(article: Article) -> list[PublicCorrection]:
    """The article's corrections, oldest first: from the query's annotation when
    it has one (the public page), else from the database (previews)."""
    if hasattr(article, ANNOTATION):
        items = getattr(article, ANNOTATION) or []
        found = [
            PublicCorrection(
                pk=item["pk"],
                text=item["text"],
                published_at=_moment(item["published_at"]),
            )
            for item in items
        ]
    elif article.pk is not None:
        found = [
            PublicCorrection(pk=c.pk, text=c.text, published_at=c.published_at)
            for c in Correction.objects.filter(article=article)
        ]
    else:
        found = []
    return sorted(found, key=lambda c: (c.published_at, c.pk))
