"""Read queries compiled once per process (core/compiled.py): the same rows as the
queryset, with the value put in each time, on SQLite and PostgreSQL."""

import pytest
from django.db.models import Count

from articles import corrections
from articles.models import Article, Correction, PreparedPage
from core.compiled import CompiledValues
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def by_slug(slug: str):
    return (
        Article.objects.filter(slug=slug)
        .annotate(correction_total=corrections.count_subquery())
        .values_list("pk", "title", "published_at", "author__name", "correction_total")
    )


def test_rows_are_what_the_queryset_returns_for_each_value():
    first = make_article(title="First one")
    second = make_article(title="Second one")
    Correction.objects.create(article=second, text="Fixed.")
    query = CompiledValues(by_slug)
    for article in (first, second, first):
        [row] = query.rows(article.slug)
        assert tuple(row.values()) == tuple(by_slug(article.slug).get())
        assert list(row) == [
            "pk",
            "title",
            "published_at",
            "author__name",
            "correction_total",
        ]
    assert query.rows("no-such-article") == []


def test_dates_and_json_come_back_as_python_values():
    article = make_article(title="Dated")
    PreparedPage.objects.create(
        article=article,
        body_html="<p>x</p>",
        outline=[{"id": "a", "children": []}],
        reading_minutes=1,
        json_ld="{}",
        source_count=0,
        correction_count=0,
        site_key="k",
        related_basis="b",
    )
    query = CompiledValues(
        lambda slug: Article.objects.filter(slug=slug).values_list(
            "published_at", "prepared__outline", "prepared__prepared_at"
        )
    )
    [row] = query.rows(article.slug)
    assert row["published_at"] == article.published_at
    assert row["prepared__outline"] == [{"id": "a", "children": []}]
    assert row["prepared__prepared_at"].tzinfo is not None


def test_the_value_is_a_parameter_never_sql():
    make_article(title="Kept")
    query = CompiledValues(by_slug)
    assert query.rows("x' OR '1'='1") == []
    assert Article.objects.filter(title="Kept").exists()


def test_a_query_without_the_value_is_refused():
    query = CompiledValues(lambda value: Article.objects.values_list("pk"))
    with pytest.raises(ValueError, match="once, not 0 times"):
        query.rows("anything")


def test_a_query_holding_the_value_twice_is_refused():
    query = CompiledValues(
        lambda value: Article.objects.filter(slug=value, title=value).values_list("pk")
    )
    with pytest.raises(ValueError, match="once, not 2 times"):
        query.rows("anything")


def test_every_column_must_be_named():
    query = CompiledValues(
        lambda value: (
            Article.objects.filter(slug=value)
            .annotate(n=Count("corrections"))
            .values_list("pk")
            .annotate(total=Count("pk"))
        )
    )
    with pytest.raises(ValueError, match="Name every column"):
        query.rows("anything")
