from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from core.backup.archive import BackupError
from core.backup.restore import (
    RestorePlan,
    describe_rows,
    plan_restore,
    restore_backup,
)


class Command(BaseCommand):
    help = (
        "Put back the database and media files from an archive made by "
        "`manage.py backup`. Every file is checked against the manifest's checksums "
        "before anything changes. The database is replaced whole (SQLite through its "
        "backup API, PostgreSQL with pg_restore in one transaction); media files are "
        "written through the storage and read back to check them; files the backup "
        "does not have are left in place. Refuses to replace a database that holds "
        "data unless given --yes. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", metavar="PATH", help="The backup archive.")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Replace the database even though it holds data.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the archive and say what would be restored; change nothing.",
        )

    def handle(self, *args, archive: str, yes: bool, dry_run: bool, **options):
        path = Path(archive)
        try:
            plan = plan_restore(archive_path=path)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = plan.manifest
        self.stdout.write(
            f"{path}: a {manifest.vendor} database and {len(manifest.media)} media "
            f"file(s) ({filesizeformat(manifest.media_bytes)}), backed up at "
            f"{manifest.created_at}; every checksum matches."
        )
        if plan.unknown_migrations:
            self.stdout.write(
                self.style.WARNING(
                    "The backup comes from newer code: this code lacks its migrations "
                    + ", ".join(plan.unknown_migrations)
                )
            )
        rows = describe_rows(plan.existing_rows)
        if dry_run:
            self.stdout.write(
                f"Would replace the database, which holds data ({rows}): the real "
                "run needs --yes."
                if plan.existing_rows
                else "Would replace the database, which holds no data."
            )
            self.stdout.write(self.media_report(plan, "Would write"))
            self.stdout.write("Dry run: nothing changed.")
            return
        if plan.existing_rows and not yes:
            raise CommandError(
                f"The database holds data ({rows}): restoring replaces all of it "
                "with the backup's. "
                "Run again with --yes to go ahead (or --dry-run to see what would "
                "happen)."
            )
        try:
            result = restore_backup(archive_path=path, plan=plan)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Replaced the {manifest.vendor} database.")
        self.stdout.write(self.media_report(plan, "Wrote"))
        if result.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    f"The restored database lacks {len(result.pending_migrations)} "
                    "migration(s) of this code: run `manage.py migrate`."
                )
            )
        self.stdout.write(self.style.SUCCESS("Restore complete."))

    @staticmethod
    def media_report(plan: RestorePlan, verb: str) -> str:
        report = (
            f"{verb} {len(plan.media_to_write)} media file(s); "
            f"{len(plan.media_unchanged)} already identical"
        )
        if plan.media_not_in_backup:
            report += (
                f"; {len(plan.media_not_in_backup)} file(s) not in the backup left "
                "in place"
            )
        return report + "."
