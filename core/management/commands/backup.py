from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from core.backup.archive import BackupError, default_archive_name
from core.backup.create import create_backup


class Command(BaseCommand):
    help = (
        "Write the database and every uploaded media file to one archive (.tar.gz) "
        "with a manifest of checksums; `manage.py restore` puts it back. SQLite is "
        "copied with its online backup (safe while the site runs), PostgreSQL with "
        "pg_dump (which must be installed). Media are read through the storage, "
        "local or remote. The archive is readable by its owner only: it holds "
        "password hashes and subscribers' addresses. Changes nothing on the site."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            metavar="PATH",
            help="The archive to write, or a folder to write it in (default: "
            "backup-<date>-<time>.tar.gz in the current folder). An existing "
            "archive is never overwritten.",
        )

    def handle(self, *args, output: str | None = None, **options):
        path = Path(output) if output else Path(default_archive_name())
        if path.is_dir():
            path = path / default_archive_name()
        try:
            manifest = create_backup(output=path)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up the {manifest.vendor} database "
                f"({filesizeformat(manifest.database.size)}) and "
                f"{len(manifest.media)} media file(s) "
                f"({filesizeformat(manifest.media_bytes)}) to {path}"
            )
        )
