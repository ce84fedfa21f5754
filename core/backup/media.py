"""The media files of a backup, read and written through the storage API, so a
remote storage works the same as the local disk."""

import shutil
import tempfile
from collections.abc import Iterator
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage

from core.backup.archive import (
    CHUNK_BYTES,
    SPOOL_BYTES,
    BackupError,
    StoredFile,
    sha256_of,
)


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


def storage_sha256(storage: Storage, name: str) -> str:
    with storage.open(name, "rb") as source:
        return sha256_of(source)


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
