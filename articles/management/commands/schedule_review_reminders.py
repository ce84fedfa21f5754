from django.core.management.base import BaseCommand
from django.utils import timezone

from articles.editorial import reminders
from articles.tasks import queue_review_reminders, queued_review_reminders
from core.tasks import next_run


class Command(BaseCommand):
    help = (
        "Start the weekly email to medical reviewers about reviews due within "
        f"{reminders.DUE_WITHIN.days} days or overdue: queue a run now for the "
        "background worker (manage.py db_worker), which then queues itself every "
        "Monday. Safe to run again: does nothing while a run is waiting in the "
        "queue. `make run` calls it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say whether a run would be queued and whom this week's email "
            "would reach; queue and send nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        waiting = queued_review_reminders()
        if waiting is not None:
            when = next_run(waiting)
            self.stdout.write(
                f"The weekly review reminders are queued already (next run: {when}); "
                "nothing to do."
            )
            return
        if dry_run:
            planned = reminders.plan(today=timezone.localdate())
            articles = {r.article.pk for reviews in planned.values() for r in reviews}
            for user, reviews in planned.items():
                self.stdout.write(f"{user.get_username()}: {len(reviews)} article(s)")
            self.stdout.write(
                f"Would queue the weekly review reminders to run now: "
                f"{len(planned)} reviewer(s) have {len(articles)} article(s) due "
                "(less any already reminded this week). Dry run: nothing queued."
            )
            return
        queue_review_reminders()
        self.stdout.write(
            self.style.SUCCESS(
                "Queued the weekly review reminders: the worker runs them now, then "
                "every Monday."
            )
        )
