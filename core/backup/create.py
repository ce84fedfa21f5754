"""A backup: the database, then every media file, then the manifest, in one new
archive (`manage.py backup`)."""

import dataclasses
import io
import os
import tarfile
import tempfile
from pathlib import Path

import django
from django.core.files.storage import Storage, default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from core.backup.archive import (
    DATABASE_FILES,
    MANIFEST_NAME,
    MEDIA_PREFIX,
    BackupError,
    Manifest,
    add_to_archive,
    tarinfo,
)
from core.backup.database import applied_migrations, dump_database, supported_vendor
from core.backup.media import list_media


def create_backup(
    *,
    output: Path,
    using: str = DEFAULT_DB_ALIAS,
    storage: Storage = default_storage,
) -> Manifest:
    """Write the database and every media file to a new archive at `output`.

    The archive appears under its name only once complete, readable by its owner
    only (it holds password hashes and subscribers' addresses).
    """
    if output.exists():
        raise BackupError(f"{output} exists already; give another --output.")
    connection = connections[using]
    vendor = supported_vendor(connection)
    partial = output.with_name(output.name + ".partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupError(
            f"{partial} exists: another backup is being written there, or one was "
            "interrupted (delete the file)."
        ) from exc
    try:
        with (
            os.fdopen(descriptor, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w:gz") as archive,
            tempfile.TemporaryDirectory(prefix="backup-") as scratch,
        ):
            dump = Path(scratch) / DATABASE_FILES[vendor]
            migrations = applied_migrations(connection)
            dump_database(connection, vendor, dump)
            with dump.open("rb") as dump_file:
                database = add_to_archive(archive, dump.name, dump_file)
            media = []
            for name in list_media(storage):
                with storage.open(name, "rb") as source:
                    stored = add_to_archive(archive, MEDIA_PREFIX + name, source)
                media.append(dataclasses.replace(stored, name=name))
            manifest = Manifest(
                created_at=timezone.now().isoformat(),
                vendor=vendor,
                django_version=django.get_version(),
                database=database,
                migrations=migrations,
                media=media,
            )
            data = manifest.to_json()
            archive.addfile(tarinfo(MANIFEST_NAME, len(data)), io.BytesIO(data))
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest
