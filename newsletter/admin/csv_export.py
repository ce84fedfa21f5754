"""Subscribers as CSV, streamed: memory stays flat however many there are."""

import csv
from collections.abc import Iterator
from datetime import datetime

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

EXPORT_COLUMNS = [
    ("email", "email"),
    ("first_name", "first_name"),
    ("status", "status"),
    ("source", "consent_source"),
    ("consent_version", "consent_version"),
    ("consent_at", "consent_at"),
    ("consent_ip", "consent_ip"),
    ("lawful_basis", "lawful_basis"),
    ("confirmed_at", "confirmed_at"),
    ("left_at", "left_at"),
    ("left_how", "left_how"),
]
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000


def csv_cell(value) -> str:
    """A value as CSV text that a spreadsheet shows as text, never runs."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write() hands the line back, for streaming."""

    def write(self, value: str) -> str:
        return value


def subscriber_csv_lines(queryset: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in EXPORT_COLUMNS])
    fields = [field for _, field in EXPORT_COLUMNS]
    rows = queryset.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def subscribers_csv_response(queryset: QuerySet) -> StreamingHttpResponse:
    """Stream rows as CSV: memory stays flat however many subscribers there are."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        subscriber_csv_lines(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
