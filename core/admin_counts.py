"""Counting admin lists over big tables without reading every row.

Django's changelist asks its paginator for `count` on every page and, unless
`show_full_result_count` is False, counts the whole table a second time for its
"N total" (Django added that switch for exactly this cost, ticket #8408). On
PostgreSQL a COUNT(*) reads every row (MVCC keeps no stored row count), so on a
million-row table the counts cost more than the page. The well-known remedy, the
PostgreSQL wiki's "Count estimate", is the planner's own row estimate
(`pg_class.reltuples`, kept current by autovacuum and ANALYZE).

BigTableAdmin's paginator counts:
- tables of at most settings.ADMIN_COUNT_ESTIMATE_ABOVE rows: exactly, as Django does;
- a bigger table's whole list: from the statistics, shown as "about 1,000,000";
- a bigger table's filtered or searched list: up to settings.ADMIN_COUNT_CAP rows
  (a COUNT over a LIMIT subquery stops there), shown as "10,000+".

SQLite keeps no row estimate, but counts a table through its narrowest index: at
the tenth of the scale it serves (100k rows) an exact count takes milliseconds,
so there the table's size is counted and never shown as "about".

The counts are ints (Django compares them, works out the pages from them, and
offers "Show all" below list_max_show_all) that read as words where a template or
message shows them: tests/core/test_admin_counts.py pins both.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import QuerySet
from django.utils.functional import cached_property


class EstimatedCount(int):
    """A row count from table statistics: a number to compare, "about N" to read."""

    def __str__(self) -> str:
        return f"about {int(self):,}"


class AtLeast(int):
    """A count that stopped one row past its cap: AtLeast(10_001) reads "10,000+"."""

    def __str__(self) -> str:
        return f"{int(self) - 1:,}+"


def table_rows(model: type[models.Model], *, using: str = "default") -> int | None:
    """How many rows the model's table holds: PostgreSQL's estimate (None before
    the table was first analysed), SQLite's exact count."""
    connection = connections[using]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(table)],
            )
            (rows,) = cursor.fetchone()
            return rows if rows >= 0 else None
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def is_big(model: type[models.Model], *, using: str = "default") -> bool:
    rows = table_rows(model, using=using)
    return rows is not None and rows > settings.ADMIN_COUNT_ESTIMATE_ABOVE


def counts_estimated(using: str) -> bool:
    # SQLite's "estimate" is an exact count: shown as a plain number.
    return connections[using].vendor == "postgresql"


class BigTablePaginator(Paginator):
    """The changelist's paginator over a possibly big table (module docstring)."""

    object_list: QuerySet

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        rows = table_rows(queryset.model, using=queryset.db)
        if rows is None or rows <= settings.ADMIN_COUNT_ESTIMATE_ABOVE:
            return queryset.count()
        query = queryset.query
        if not query.where and not query.distinct and not query.combinator:
            return EstimatedCount(rows) if counts_estimated(queryset.db) else rows
        cap = settings.ADMIN_COUNT_CAP
        counted = queryset.order_by()[: cap + 1].count()
        return AtLeast(counted) if counted > cap else counted


class SortableOnlyChangeList(ChangeList):
    """A changelist that sorts only by the columns in sortable_by. Django's
    hides the other headings but still sorts by any column typed into the
    address (?o=2), which on a big table sorts every row. get_ordering_field is
    a Django internal: tests/newsletter/test_admin_big_lists.py pins it."""

    def get_ordering_field(self, field_name):
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)


class BigTableAdmin(admin.ModelAdmin):
    """A ModelAdmin over a table that grows without bound (subscribers, their
    events, deliveries): no full count, no facet counts (each filter choice
    would count the table), the paginator above, sorting by the indexed columns
    named in sortable_by only. Don't add a date_hierarchy to one: with nothing
    chosen it reads every row for the years to offer."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = BigTablePaginator

    def get_changelist(self, request, **kwargs):
        return SortableOnlyChangeList


def summaries(
    model: type[models.Model],
    computes: dict[str, Callable[[], Any]],
    *,
    using: str = "default",
) -> dict[str, Any]:
    """Each compute() by its key: figures over the whole of model's table for a
    list page. Live while the table is small; over a big table computed at most
    once every settings.ADMIN_SUMMARY_SECONDS and shared through the cache,
    since every staff page load would otherwise read every row again. forget()
    drops one."""
    if not is_big(model, using=using):
        return {key: compute() for key, compute in computes.items()}
    return {
        key: cache.get_or_set(
            f"admin-summary:{key}", compute, settings.ADMIN_SUMMARY_SECONDS
        )
        for key, compute in computes.items()
    }


def forget(key: str) -> None:
    """After staff change what summaries() counted: their next page shows it."""
    cache.delete(f"admin-summary:{key}")
