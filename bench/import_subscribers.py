"""Subscriber CSV import: the check and the import, as the worker's tasks run them.

Generates a CSV of N rows (a share of them already subscribers, in another case),
uploads it as staff would (services.create_import), then times
imports.check_import (every row, with progress saves) and imports.run_import (one
transaction, bulk inserts) and prints rows, seconds and rows per second.

Usage: .venv/bin/python bench/import_subscribers.py [--count 100000] [--existing 5000]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
test_import_bench); otherwise a temporary SQLite file.
"""

import argparse
import time

from common import bench_database, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument(
        "--existing", type=int, default=5000, help="Rows already subscribers."
    )
    parser.add_argument(
        "--basis", choices=["consented", "confirm"], default="consented"
    )
    args = parser.parse_args()

    with bench_database("test_import_bench"):
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.utils import timezone

        from newsletter.models import Subscriber, SubscriberEvent, SubscriberImport
        from newsletter.subscribers import imports, services

        existing = min(args.existing, args.count)
        Subscriber.objects.bulk_create(
            (
                Subscriber(
                    email=f"reader{i}@example.com",
                    status=Subscriber.Status.CONFIRMED,
                    confirmed_at=timezone.now(),
                    consent_text="I agree",
                    consent_version="bench",
                    consent_source=Subscriber.Source.PAGE,
                )
                for i in range(existing)
            ),
            batch_size=2000,
        )
        # The file's first rows are known (in other case), the rest are new.
        lines = ["email,first_name"]
        lines += [f"Reader{i}@EXAMPLE.com,Reader {i}" for i in range(existing)]
        lines += [
            f"new.reader{i}@example.com,New {i}" for i in range(existing, args.count)
        ]
        text = "\n".join(lines) + "\n"
        user = get_user_model().objects.create_user(username="bench", is_staff=True)

        started = time.perf_counter()
        rows = imports.read_import_csv(text)
        subscriber_import = services.create_import(
            file_name="bench.csv",
            text=text,
            basis=args.basis,
            evidence="Benchmark: sign-up form export",
            total_rows=len(rows),
            user=user,
        )
        upload_seconds = time.perf_counter() - started

        started = time.perf_counter()
        status = imports.check_import(import_id=subscriber_import.pk)
        check_seconds = time.perf_counter() - started
        assert status == SubscriberImport.Status.CHECKED, status

        SubscriberImport.objects.filter(pk=subscriber_import.pk).update(
            status=SubscriberImport.Status.IMPORTING, started_at=timezone.now()
        )
        started = time.perf_counter()
        assert imports.run_import(import_id=subscriber_import.pk)
        import_seconds = time.perf_counter() - started

        subscriber_import.refresh_from_db()
        added = args.count - existing
        assert (subscriber_import.added, subscriber_import.existing) == (
            added,
            existing,
        ), (subscriber_import.added, subscriber_import.existing)
        assert (
            Subscriber.objects.filter(imported_from=subscriber_import).count() == added
        )
        assert SubscriberEvent.objects.filter(kind="imported").count() == added

        total = upload_seconds + check_seconds + import_seconds
        report(f"database: {connection.vendor}")
        report(
            f"rows: {args.count:,} ({added:,} new, {existing:,} already subscribers)"
        )
        report(f"upload (read the CSV, store it): {upload_seconds:6.2f} s")
        report(
            f"check  (every row, progress saved): {check_seconds:6.2f} s  "
            f"{args.count / check_seconds:,.0f} rows/s"
        )
        report(
            f"import (one transaction, bulk inserts): {import_seconds:6.2f} s  "
            f"{args.count / import_seconds:,.0f} rows/s"
        )
        report(f"total: {total:6.2f} s  {args.count / total:,.0f} rows/s")


if __name__ == "__main__":
    main()
