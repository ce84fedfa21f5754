from django.core.management.base import BaseCommand

from articles.search import insight
from articles.tasks import queue_search_cleanup, queued_search_cleanup


class Command(BaseCommand):
    help = (
        "Delete the search counts (the search insight report's) older than "
        "SEARCH_INSIGHT_RETENTION_DAYS days, and start the daily run that keeps "
        "deleting them for the background worker (manage.py db_worker). Safe to "
        "run again: what is deleted is gone, and a daily run already waiting in "
        "the queue is left as it is. `make run` calls it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say how many rows would be deleted and whether the daily run "
            "would be queued; delete and queue nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        days = insight.retention_days()
        first_kept = insight.cutoff()
        rows = insight.forget_old_counts(dry_run=dry_run)
        waiting = queued_search_cleanup() is not None
        if dry_run:
            self.stdout.write(
                f"Would delete {rows} search count row(s) from before {first_kept} "
                f"(keeping {days} days)"
                + (
                    "; the daily run is queued already."
                    if waiting
                    else " and queue the daily run."
                )
                + " Dry run: nothing deleted or queued."
            )
            return
        # Runs once a worker is free (deleting nothing more today), then daily.
        queued = queue_search_cleanup()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {rows} search count row(s) from before {first_kept} "
                f"(keeping {days} days); "
                + (
                    "queued the daily run."
                    if queued
                    else "the daily run was queued already."
                )
            )
        )
