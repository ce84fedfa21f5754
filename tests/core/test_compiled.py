"""Read queries compiled once per process (core/compiled.py): the same rows as the
queryset, with the value put in each time, on SQLite and PostgreSQL; and the Django
internals it uses (QuerySet._fields, SQLCompiler.col_count, select,
get_converters, apply_converters), pinned."""

import inspect

import pytest
from django.db import connection
from django.db.models import Count
from django.db.models.sql.compiler import SQLCompiler

from articles.models import Article, Correction, PreparedPage
from articles.publishing import corrections
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


# The Django internals CompiledValues relies on, pinned: a Django upgrade that
# changes any of them fails here, naming what core/compiled.py must follow.
# (bench/page_speed.py's "uncached / plain" ratio measures what it gains.)

UPGRADE = "Django changed an internal that core/compiled.py relies on: "


def dated_values(value):
    return (
        Article.objects.filter(slug=value)
        .annotate(correction_total=corrections.count_subquery())
        .values_list("pk", "published_at", "prepared__outline", "correction_total")
    )


def test_values_list_keeps_its_names_in_fields():
    queryset = dated_values("x")

    assert queryset._fields == (
        "pk",
        "published_at",
        "prepared__outline",
        "correction_total",
    ), UPGRADE + "QuerySet._fields no longer names values_list()'s columns in order"


def test_the_compiler_counts_and_lists_the_selected_columns_once_compiled():
    compiler = dated_values("x").query.get_compiler("default")
    compiler.as_sql()

    assert compiler.col_count == 4, UPGRADE + "SQLCompiler.col_count after as_sql()"
    fields = [column[0] for column in compiler.select[: compiler.col_count]]
    assert [field.output_field.name for field in fields[:3]] == [
        "id",
        "published_at",
        "outline",
    ], UPGRADE + "SQLCompiler.select no longer lists (expression, sql, alias)"


def test_converters_turn_the_database_values_into_what_the_queryset_returns():
    article = make_article(title="Converted")
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
    Correction.objects.create(article=article, text="Fixed.")
    compiler = dated_values(article.slug).query.get_compiler("default")
    sql, params = compiler.as_sql()
    fields = [column[0] for column in compiler.select[: compiler.col_count]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()

    converters = compiler.get_converters(fields)
    rows = list(compiler.apply_converters(fetched, converters))

    assert isinstance(converters, dict), UPGRADE + "get_converters() returns a dict"
    assert all(
        isinstance(position, int) and callable(found[0][0])
        for position, found in converters.items()
    ), UPGRADE + "get_converters() maps a column to ([converters], expression)"
    assert [tuple(row) for row in rows] == list(dated_values(article.slug)), (
        UPGRADE + "apply_converters() no longer gives the rows values_list() gives"
    )
    assert rows[0][2] == [{"id": "a", "children": []}]
    assert rows[0][3] == 1


def test_the_internals_keep_the_signatures_compiled_values_calls():
    assert list(inspect.signature(SQLCompiler.get_converters).parameters) == [
        "self",
        "expressions",
    ], UPGRADE + "SQLCompiler.get_converters(expressions)"
    assert list(inspect.signature(SQLCompiler.apply_converters).parameters) == [
        "self",
        "rows",
        "converters",
    ], UPGRADE + "SQLCompiler.apply_converters(rows, converters)"
