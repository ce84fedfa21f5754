from django.conf import settings
from django.core.management.base import BaseCommand

from articles.sources import checking
from articles.sources.schedule import queue_source_check, queued_source_check
from articles.sources.targets import url_refusal
from core.tasks import next_run


class Command(BaseCommand):
    help = (
        "Start the weekly check of the sources of every live article (links, "
        "DOIs and PMIDs; retractions through Crossref and PubMed): queue a run "
        "now for the background worker (manage.py db_worker), which then queues "
        f"the next one every {settings.SOURCE_CHECK_EVERY_DAYS} days. Safe to run "
        "again: does nothing while a run is waiting in the queue. `make run` "
        "calls it. Pause it in the admin (Articles > Source check)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what a run would check (and what it would refuse without a "
            "request); queue and change nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        if dry_run:
            planned = checking.planned()
            for target, count in sorted(
                planned.items(), key=lambda item: (item[0].kind, item[0].value)
            ):
                refused = url_refusal(target.value) if target.kind == "url" else ""
                note = f"  (not fetched: {refused})" if refused else ""
                self.stdout.write(f"{target.kind} {target.value}  cited {count}x{note}")
            self.stdout.write(
                f"Would check {len(planned)} source(s) of live articles. Dry run: "
                "nothing queued or changed."
            )
            return
        waiting = queued_source_check()
        if waiting is not None:
            when = next_run(waiting)
            self.stdout.write(
                f"The source check is queued already (next run: {when}); nothing to do."
            )
            return
        queue_source_check()
        self.stdout.write(
            self.style.SUCCESS(
                "Queued the source check: the worker runs it now, then every "
                f"{settings.SOURCE_CHECK_EVERY_DAYS} days."
            )
        )
