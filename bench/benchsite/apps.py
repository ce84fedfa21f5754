"""The stored article page without core/compiled.py, for bench/page_speed.py only."""

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS

from core.compiled import CompiledValues


def plain_rows(self, value: str, *, using: str = DEFAULT_DB_ALIAS) -> list[dict]:
    """What CompiledValues.rows returns, read as the ORM reads it on every call:
    the queryset built, compiled to SQL and run, its rows made into dicts."""
    queryset = self.build(value).using(using)
    return list(queryset.values(*queryset._fields))


class PlainReads(AppConfig):
    name = "benchsite"
    label = "benchsite_plain_reads"

    def ready(self):
        # Every CompiledValues (the article page's two reads in
        # articles/publishing/prepared.py)
        # then reads through the ORM each time instead of its SQL compiled once.
        CompiledValues.rows = plain_rows
