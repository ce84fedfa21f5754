from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import retention
from core.tasks import RETENTION_EVERY, next_run, queue_retention, queued_retention


class Command(BaseCommand):
    help = (
        "Delete what the site keeps no longer: run every step of RETENTION_STEPS "
        "(old article revisions, subscribers' operational history, finished task "
        "results...; docs/operations.md, 'Retention'), one line per step with the "
        "rows it removed, then start the daily run for the background worker "
        "(manage.py db_worker). Safe to run again: what is deleted is gone, and a "
        "daily run already waiting in the queue is left as it is. `make run` calls it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say how many rows each step would remove and whether the daily "
            "run would be queued; delete and queue nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        results = retention.apply(dry_run=dry_run)
        for result in results:
            if result.error:
                self.stderr.write(f"{result.path}: failed, {result.error}")
                continue
            self.stdout.write(
                f"{result.path}: {'would remove' if dry_run else 'removed'} "
                f"{result.rows} row(s) ({result.seconds:.1f} s)"
            )
        waiting = queued_retention()
        if dry_run:
            self.stdout.write(
                (
                    f"The daily run is queued already ({next_run(waiting)})."
                    if waiting
                    else "Would queue the daily run."
                )
                + " Dry run: nothing deleted or queued."
            )
        elif waiting is not None:
            self.stdout.write(
                f"The daily run was queued already ({next_run(waiting)})."
            )
        else:
            # This run did today's work: the chain starts a day from now.
            queue_retention(run_after=timezone.now() + RETENTION_EVERY)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Queued the daily run ({next_run(queued_retention())})."
                )
            )
        failed = [r.path for r in results if r.error]
        if failed:
            raise CommandError("Retention steps failed: " + ", ".join(failed))
