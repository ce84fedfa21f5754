"""Read queries compiled to SQL once per process, for the busiest pages.

Django builds and compiles a queryset to SQL each time one is evaluated. For a
values_list() read joining a few tables that is 0.3-0.8 ms, while running the SQL
takes 0.03 ms: most of what the article page spent on its database. A
CompiledValues builds its queryset once per database alias, with a marker where
the one value that changes goes, keeps the SQL, and afterwards only runs it with
the value in place and passes the rows through the converters Django found for
its columns (dates, JSON): each row is what values() would have returned.

Only for querysets whose SQL depends on nothing but that value: no timezone.now(),
no settings read while filtering (compare such things in Python on the rows).

It earns its place: the uncached article page, whose two reads these are, serves
about twice the requests per second it serves with plain ORM reads (median
2.27-2.44 on SQLite, 2.06 on PostgreSQL: bench/page_speed.py, "uncached / plain";
docs/performance.md). The Django
internals it uses (QuerySet._fields, SQLCompiler.col_count, select,
get_converters, apply_converters) are pinned by tests/core/test_compiled.py, so
an upgrade that changes them fails there.
"""

from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

# Never a value a page asks for: slugs and numbers hold no NUL. Equal to it is
# enough (a parameter stays a str through the field's preparation).
MARKER = "\x00compiled-value\x00"


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list
    # Where the value goes among the parameters.
    place: int
    names: list[str]
    compiler: SQLCompiler
    # What turns the database's values into Python ones, as results_iter finds.
    converters: dict


class CompiledValues:
    """build(MARKER) -> a values_list() queryset naming its fields, compiled on
    first use per database alias; rows(value) runs it with `value` where MARKER
    was."""

    def __init__(self, build: Callable[[str], QuerySet]):
        self.build = build
        self._compiled: dict[str, Compiled] = {}
        self._lock = Lock()
        self._model_class = None

    def _model(self):
        if self._model_class is None:
            self._model_class = self.build(MARKER).model
        return self._model_class

    def _compile(self, using: str) -> Compiled:
        with self._lock:
            found = self._compiled.get(using)
            if found is None:
                queryset = self.build(MARKER)
                compiler = queryset.query.get_compiler(using)
                sql, params = compiler.as_sql()
                places = [n for n, param in enumerate(params) if param == MARKER]
                if len(places) != 1:
                    raise ValueError(
                        f"The query must hold the value once, not {len(places)} "
                        f"times: {sql}"
                    )
                names = list(queryset._fields)
                if len(names) != compiler.col_count:
                    raise ValueError(f"Name every column in values_list(): {sql}")
                fields = [column[0] for column in compiler.select[: compiler.col_count]]
                found = Compiled(
                    sql,
                    list(params),
                    places[0],
                    names,
                    compiler,
                    compiler.get_converters(fields),
                )
                self._compiled[using] = found
            return found

    def rows(self, value: str, *, using: str | None = None) -> list[dict]:
        """The rows for `value`, from `using` or where the routers send reads of
        the query's model (a replica, for a public page: core/db_routers.py)."""
        if using is None:
            using = router.db_for_read(self._model())
        compiled = self._compile(using)
        params = [*compiled.params]
        params[compiled.place] = value
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        if compiled.converters:
            fetched = compiled.compiler.apply_converters(fetched, compiled.converters)
        names = compiled.names
        return [dict(zip(names, row, strict=True)) for row in fetched]
