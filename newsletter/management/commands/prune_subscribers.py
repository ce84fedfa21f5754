"""Delete sign-ups that were never confirmed. Meant for a daily cron job."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from newsletter.subscribers import subscriptions


class Command(BaseCommand):
    help = (
        "Delete newsletter sign-ups never confirmed and last asked to confirm more "
        "than N days ago (default: NEWSLETTER_PRUNE_PENDING_DAYS), with their "
        "history. Confirmed and unsubscribed subscribers are never touched. Safe to "
        "run repeatedly, e.g. daily from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            metavar="N",
            help="Age in days after which an unconfirmed sign-up is deleted "
            f"(default {settings.NEWSLETTER_PRUNE_PENDING_DAYS}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count what would be deleted; change nothing.",
        )

    def handle(self, *args, days: int | None, dry_run: bool, **options):
        if days is None:
            days = settings.NEWSLETTER_PRUNE_PENDING_DAYS
        if days < 1:
            raise CommandError("--days must be at least 1.")
        count = subscriptions.prune_unconfirmed(
            older_than=timedelta(days=days), dry_run=dry_run
        )
        noun = "sign-up" if count == 1 else "sign-ups"
        if dry_run:
            self.stdout.write(
                f"Dry run: would delete {count} unconfirmed {noun} older than "
                f"{days} days. Nothing was changed."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {count} unconfirmed {noun} older than {days} days."
                )
            )
