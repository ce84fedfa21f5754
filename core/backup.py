"""Backups of the whole site in one archive: the database and every media file.

The archive is a .tar.gz holding, in this order:

- `database.sqlite3` (SQLite's online backup of the live file, safe while the site
  runs) or `database.pgdump` (`pg_dump --format=custom`);
- `media/<name>` for each file of the default storage, read through the storage
  API, so it works the same on the local disk and on an object store;
- `manifest.json`, last because it holds every file's checksum: when the backup was
  made, the database vendor, the applied migrations, each file's size and sha256.

The database goes first: media uploaded while the backup runs are then at worst
unused extra files, never rows pointing at files the archive lacks.

Restoring reads the archive twice: once to check every checksum against the
manifest (nothing is touched before the whole archive is known good), then to put
the database and the media back. The commands are `manage.py backup` and
`manage.py restore`.
"""

import dataclasses
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import django
from django.apps import apps
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.client import DatabaseClient
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from core.models import PageVersion

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MEDIA_PREFIX = "media/"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK_BYTES = 1024 * 1024
# Media files up to this size are staged in memory on their way in or out.
SPOOL_BYTES = 16 * 1024 * 1024
# Django's own bookkeeping, which `migrate` fills in any database: rows there are
# not data someone would lose.
BOOKKEEPING_MODELS = {"contenttypes.ContentType", "auth.Permission"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    created_at: str
    vendor: str
    django_version: str
    database: StoredFile
    migrations: dict[str, list[str]]
    media: list[StoredFile]
    format: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT_VERSION:
                raise BackupError(
                    f"This archive is in backup format {raw.get('format')!r}; "
                    f"this version of the site reads format {FORMAT_VERSION}."
                )
            return cls(
                created_at=raw["created_at"],
                vendor=raw["vendor"],
                django_version=raw["django_version"],
                database=StoredFile(**raw["database"]),
                migrations={
                    app: list(names) for app, names in raw["migrations"].items()
                },
                media=[StoredFile(**item) for item in raw["media"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"The archive's manifest is unreadable ({exc}).") from exc

    @property
    def media_bytes(self) -> int:
        return sum(item.size for item in self.media)


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


# Backup ---------------------------------------------------------------------------


def default_archive_name() -> str:
    return f"backup-{timezone.now():%Y%m%d-%H%M%S}.tar.gz"


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
            if vendor == "sqlite":
                copy_sqlite(connection, dump)
            else:
                pg_dump(connection, dump)
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


def supported_vendor(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor not in DATABASE_FILES:
        raise BackupError(
            "Backups cover SQLite and PostgreSQL; this database is "
            f"{connection.vendor}."
        )
    return connection.vendor


def applied_migrations(connection: BaseDatabaseWrapper) -> dict[str, list[str]]:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return {}
    state: dict[str, list[str]] = {}
    for app, name in sorted(recorder.applied_migrations()):
        state.setdefault(app, []).append(name)
    return state


def list_media(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name in the storage, folders walked through the storage API."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return  # No media folder yet (nothing uploaded), or removed meanwhile.
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for name in sorted(folders):
        yield from list_media(storage, f"{folder}/{name}" if folder else name)


def add_to_archive(
    archive: tarfile.TarFile, name: str, source: IO[bytes]
) -> StoredFile:
    """Copy `source` into the archive as `name`, returning its size and checksum.

    The bytes are staged first: a tar entry needs its size before its content, and
    a file may change while it is read.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as staged:
        digest = hashlib.sha256()
        size = 0
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            staged.write(chunk)
            size += len(chunk)
        staged.seek(0)
        archive.addfile(tarinfo(name, size), staged)
    return StoredFile(name=name, size=size, sha256=digest.hexdigest())


def tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(timezone.now().timestamp())
    return info


def copy_sqlite(connection: BaseDatabaseWrapper, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the site keeps writing."""
    source = sqlite3.connect(
        sqlite_path(connection), timeout=sqlite_timeout(connection)
    )
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def sqlite_path(connection: BaseDatabaseWrapper) -> str:
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db():
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return name


def sqlite_timeout(connection: BaseDatabaseWrapper) -> float:
    return float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 20))


def postgres_command(
    connection: BaseDatabaseWrapper, program: str
) -> tuple[str, dict[str, str]]:
    """The program's path and the environment that points it at the configured
    database (password included, never on the command line)."""
    path = shutil.which(program)
    if path is None:
        raise BackupError(
            f"{program} is not installed (not found on PATH). Install the PostgreSQL "
            "client tools of the server's major version or newer (Debian and "
            "Ubuntu: apt-get install postgresql-client)."
        )
    settings_dict = connection.settings_dict
    _, client_env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    env = {**os.environ, **(client_env or {})}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    return path, env


def run_postgres_tool(
    connection: BaseDatabaseWrapper, program: str, arguments: list[str]
) -> None:
    path, env = postgres_command(connection, program)
    name = connection.settings_dict["NAME"]
    completed = subprocess.run(
        [path, "--no-password", f"--dbname={name}", *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BackupError(f"{program} failed: {completed.stderr.strip()}")


def pg_dump(connection: BaseDatabaseWrapper, target: Path) -> None:
    run_postgres_tool(connection, "pg_dump", ["--format=custom", f"--file={target}"])


# Restore --------------------------------------------------------------------------


def read_archive(archive_path: Path) -> Manifest:
    """The archive's manifest, once every file in it matches its checksum."""
    digests: dict[str, tuple[int, str]] = {}
    manifest_data = None
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            for member in archive:
                source = archive.extractfile(member)
                if source is None:
                    continue
                if member.name == MANIFEST_NAME:
                    manifest_data = source.read()
                    continue
                digests[member.name] = (member.size, sha256_of(source))
    except FileNotFoundError as exc:
        raise BackupError(f"There is no file {archive_path}.") from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(
            f"{archive_path} is not a readable backup archive ({exc})."
        ) from exc
    if manifest_data is None:
        raise BackupError(f"{archive_path} has no {MANIFEST_NAME}: not a backup.")
    manifest = Manifest.from_json(manifest_data)
    expected = {manifest.database.name: manifest.database}
    expected |= {MEDIA_PREFIX + item.name: item for item in manifest.media}
    for name, item in expected.items():
        if digests.get(name) != (item.size, item.sha256):
            raise BackupError(
                f"{name} in the archive is missing or does not match its checksum: "
                "the archive is damaged. Nothing was restored."
            )
    return manifest


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


def rows_by_model(connection: BaseDatabaseWrapper) -> dict[str, int]:
    """Row counts of the tables that hold data (not Django's bookkeeping)."""
    tables = set(connection.introspection.table_names())
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label
        if label in BOOKKEEPING_MODELS or model._meta.db_table not in tables:
            continue
        if count := model._base_manager.using(connection.alias).count():
            rows[label] = count
    return rows


def storage_sha256(storage: Storage, name: str) -> str:
    with storage.open(name, "rb") as source:
        return sha256_of(source)


def sha256_of(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


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


def restore_database(connection: BaseDatabaseWrapper, vendor: str, dump: Path) -> None:
    # Our own connection must hold no lock or snapshot while the database is replaced.
    connection.close()
    if vendor == "sqlite":
        # The backup API writes into the live file under SQLite's own locking, so
        # processes that have it open see the restored data on their next query.
        source = sqlite3.connect(dump)
        target = sqlite3.connect(
            sqlite_path(connection), timeout=sqlite_timeout(connection)
        )
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        run_postgres_tool(
            connection,
            "pg_restore",
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                # All or nothing: a failure leaves the database as it was.
                "--single-transaction",
                "--exit-on-error",
                str(dump),
            ],
        )


def write_media(
    storage: Storage, name: str, source: IO[bytes], item: StoredFile
) -> None:
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as staged:
        shutil.copyfileobj(source, staged, CHUNK_BYTES)
        staged.seek(0)
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, File(staged, name=name))
    if saved != name:
        raise BackupError(f"The storage saved {name} as {saved}; restore stopped.")
    if storage_sha256(storage, name) != item.sha256:
        raise BackupError(
            f"{name} reads back different from the backup; restore stopped."
        )


def pending_migrations(connection: BaseDatabaseWrapper) -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def describe_rows(rows: dict[str, int], *, limit: int = 5) -> str:
    biggest = sorted(rows.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{label}: {count}" for label, count in biggest[:limit])
    more = len(biggest) - limit
    return shown + (f" and {more} more table(s)" if more > 0 else "")
