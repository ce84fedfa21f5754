from django.core.management.base import BaseCommand

from core.held_uploads import HELD_MAX_AGE, remove_stale_held_uploads


class Command(BaseCommand):
    help = (
        "Delete uploads held for a form shown again with an error (a cover image "
        "chosen before the save failed) once their token has expired "
        f"({HELD_MAX_AGE} old). Safe to run at any time, from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List them; delete nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        names = remove_stale_held_uploads(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        for name in names:
            self.stdout.write(f"{verb} {name}")
        self.stdout.write(f"{verb} {len(names)} held upload(s).")
