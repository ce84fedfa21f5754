"""A restore: what it would change (plan_restore, nothing touched), then the
database replaced and the media written back (`manage.py restore`)."""

import dataclasses
import shutil
import tarfile
import tempfile
from pathlib import Path

from django.core.files.storage import Storage, default_storage
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core.backup.archive import (
    CHUNK_BYTES,
    DATABASE_FILES,
    MEDIA_PREFIX,
    BackupError,
    Manifest,
    read_archive,
)
from core.backup.database import (
    pending_migrations,
    restore_database,
    rows_by_model,
    supported_vendor,
)
from core.backup.media import list_media, storage_sha256, write_media
from core.models import PageVersion


@dataclasses.dataclass(frozen=True)
class RestorePlan:
    """What a restore would do, worked out without changing anything."""

    manifest: Manifest
    # Rows in the target database now, by model label: what a restore replaces.
    existing_rows: dict[str, int]
    media_to_write: list[str]
    media_unchanged: list[str]
    # Files in storage that the backup does not have: left where they are.
    media_not_in_backup: list[str]
    # Migrations the backup's database has that this code does not know.
    unknown_migrations: list[str]


@dataclasses.dataclass(frozen=True)
class RestoreResult:
    media_written: int
    media_unchanged: int
    # Migrations this code has that the restored database lacks.
    pending_migrations: list[str]


def plan_restore(
    *,
    archive_path: Path,
    using: str = DEFAULT_DB_ALIAS,
    storage: Storage = default_storage,
) -> RestorePlan:
    """Check the archive and the target, and say what restoring would change."""
    manifest = read_archive(archive_path)
    connection = connections[using]
    vendor = supported_vendor(connection)
    if manifest.vendor != vendor:
        raise BackupError(
            f"This backup holds a {manifest.vendor} database but the configured "
            f"database is {vendor}: restore it into a {manifest.vendor} database "
            "(DATABASE_URL), then move the data across with dumpdata/loaddata."
        )
    if manifest.database.name != DATABASE_FILES[vendor]:
        raise BackupError(
            f"The manifest names {manifest.database.name} as the database file; "
            f"a {vendor} backup has {DATABASE_FILES[vendor]}."
        )
    known = set(MigrationExecutor(connection).loader.disk_migrations)
    backed_up = {
        (app, name) for app, names in manifest.migrations.items() for name in names
    }
    to_write, unchanged = [], []
    for item in manifest.media:
        same = storage.exists(item.name) and storage_sha256(storage, item.name)
        if same == item.sha256:
            unchanged.append(item.name)
        else:
            to_write.append(item.name)
    in_backup = {item.name for item in manifest.media}
    return RestorePlan(
        manifest=manifest,
        existing_rows=rows_by_model(connection),
        media_to_write=to_write,
        media_unchanged=unchanged,
        media_not_in_backup=[n for n in list_media(storage) if n not in in_backup],
        unknown_migrations=[f"{app}.{name}" for app, name in sorted(backed_up - known)],
    )


def restore_backup(
    *,
    archive_path: Path,
    plan: RestorePlan,
    using: str = DEFAULT_DB_ALIAS,
    storage: Storage = default_storage,
) -> RestoreResult:
    """Replace the database with the archive's, then write back its media files.

    Media the backup does not have are left alone; files already identical are not
    rewritten, so running it again changes nothing more.
    """
    connection = connections[using]
    manifest = plan.manifest
    expected = {MEDIA_PREFIX + name: name for name in plan.media_to_write}
    sizes_and_sums = {item.name: item for item in manifest.media}
    written = 0
    with (
        tarfile.open(archive_path, mode="r:gz") as archive,
        tempfile.TemporaryDirectory(prefix="restore-") as scratch,
    ):
        for member in archive:
            source = archive.extractfile(member)
            if source is None:
                continue
            if member.name == manifest.database.name:
                dump = Path(scratch) / manifest.database.name
                with dump.open("wb") as target:
                    shutil.copyfileobj(source, target, CHUNK_BYTES)
                before = page_version()
                restore_database(connection, manifest.vendor, dump)
                move_page_version_past(before)
                dump.unlink()
            elif member.name in expected:
                name = expected[member.name]
                write_media(storage, name, source, sizes_and_sums[name])
                written += 1
    return RestoreResult(
        media_written=written,
        media_unchanged=len(plan.media_unchanged),
        pending_migrations=pending_migrations(connection),
    )


def page_version() -> int:
    """The page version now (0 before core's migration has run)."""
    try:
        return (
            PageVersion.objects.filter(id=1).values_list("version", flat=True).first()
            or 0
        )
    except DatabaseError:
        return 0


def move_page_version_past(before: int) -> None:
    """The restored database's page version may be one cached pages were stored
    under after the backup was taken: move it past every version used, so cached
    pages of the other timeline are never served (core/pagecache.py)."""
    try:
        restored = page_version()
        PageVersion.objects.update_or_create(
            id=1,
            defaults={
                "version": max(before, restored) + 1,
                "changed_at": timezone.now(),
            },
        )
    except DatabaseError:
        pass  # A database without the table yet: `migrate` creates it afresh.


def describe_rows(rows: dict[str, int], *, limit: int = 5) -> str:
    biggest = sorted(rows.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{label}: {count}" for label, count in biggest[:limit])
    more = len(biggest) - limit
    return shown + (f" and {more} more table(s)" if more > 0 else "")
