"""The backup archive's format: its files, its manifest and their checksums
(core/backup/__init__.py describes the layout)."""

import dataclasses
import hashlib
import json
import tarfile
import tempfile
from pathlib import Path
from typing import IO

from django.utils import timezone

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MEDIA_PREFIX = "media/"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK_BYTES = 1024 * 1024
# Media files up to this size are staged in memory on their way in or out.
SPOOL_BYTES = 16 * 1024 * 1024


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


def default_archive_name() -> str:
    return f"backup-{timezone.now():%Y%m%d-%H%M%S}.tar.gz"


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


def sha256_of(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()
