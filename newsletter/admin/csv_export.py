"""Subscribers as CSV, streamed: memory stays flat however many there are."""

from collections.abc import Iterator

from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.spreadsheets import csv_lines

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
EXPORT_CHUNK = 2000


class ExportChangeList(ChangeList):
    """The list page's filters, search and order for an export, without its page:
    the page's counts would each read every subscriber, and the export streams
    the whole queryset anyway."""

    def get_results(self, request) -> None:
        self.result_list = self.queryset


def subscriber_csv_lines(queryset: QuerySet) -> Iterator[str]:
    # A generator: nothing is read before the response starts streaming.
    fields = [field for _, field in EXPORT_COLUMNS]
    rows = queryset.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK)
    yield from csv_lines([name for name, _ in EXPORT_COLUMNS], rows)


def subscribers_csv_response(queryset: QuerySet) -> StreamingHttpResponse:
    """Stream rows as CSV: memory stays flat however many subscribers there are."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        subscriber_csv_lines(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
