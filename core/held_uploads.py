"""Uploads held between a form's refused save and the next one.

A form shown again with an error cannot carry a file (browsers never refill a file
input), so the upload it checked is stored under held/<user pk>/ by a random name,
and the form carries a token signed for that user naming it. Only the same user,
within HELD_MAX_AGE, gets the file back from the token; a forged, altered,
expired or another user's token gets nothing. The save that uses the file
releases it; `manage.py clean_held_uploads` (run from cron) removes the ones
never used.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

HELD_FOLDER = "held"
HELD_SALT = "core.held-upload"
HELD_MAX_AGE = timedelta(hours=24)
# The name shown back ("Chosen: name.jpg"), cut to a sensible length.
SHOWN_NAME_MAX = 100


@dataclass(frozen=True)
class Held:
    token: str
    # The storage name, under held/<user pk>/.
    name: str
    # The file's name as the user chose it.
    original: str


def _folder(user: AbstractBaseUser) -> str:
    return f"{HELD_FOLDER}/{user.pk}/"


def hold(*, upload: UploadedFile, user: AbstractBaseUser) -> Held:
    """Store a checked upload for `user` until a later save uses it."""
    original = PurePosixPath(upload.name or "image").name[-SHOWN_NAME_MAX:]
    suffix = PurePosixPath(original).suffix.lower()[:8]
    upload.seek(0)
    name = default_storage.save(
        f"{_folder(user)}{secrets.token_hex(16)}{suffix}", upload
    )
    token = signing.dumps(
        {"name": name, "user": user.pk, "original": original}, salt=HELD_SALT
    )
    return Held(token=token, name=name, original=original)


def held(*, token: str, user: AbstractBaseUser) -> Held | None:
    """The upload `token` names, if it was signed here for `user`, is not
    expired, and is still stored; else None."""
    try:
        value = signing.loads(token, salt=HELD_SALT, max_age=HELD_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("user") != user.pk:
        return None
    name, original = value.get("name"), value.get("original")
    if not isinstance(name, str) or not isinstance(original, str):
        return None
    path = PurePosixPath(name)
    if str(path.parent) + "/" != _folder(user) or not default_storage.exists(name):
        return None
    return Held(token=token, name=name, original=original)


def open_held(upload: Held) -> File:
    """The held file, under the name the user chose (the model's upload_to
    names the stored copy)."""
    return File(default_storage.open(upload.name), name=upload.original)


def release(*, upload: Held) -> None:
    default_storage.delete(upload.name)


def stale_held_uploads(*, now: datetime | None = None) -> list[str]:
    """Held files older than HELD_MAX_AGE: their tokens no longer work."""
    cutoff = (now or timezone.now()) - HELD_MAX_AGE
    if not default_storage.exists(HELD_FOLDER):
        return []
    stale = []
    folders, _ = default_storage.listdir(HELD_FOLDER)
    for folder in sorted(folders):
        _, files = default_storage.listdir(f"{HELD_FOLDER}/{folder}")
        for file in sorted(files):
            name = f"{HELD_FOLDER}/{folder}/{file}"
            if default_storage.get_modified_time(name) < cutoff:
                stale.append(name)
    return stale


def remove_stale_held_uploads(*, dry_run: bool = False) -> list[str]:
    """Delete the held files no token can use any more; the names."""
    stale = stale_held_uploads()
    if not dry_run:
        for name in stale:
            default_storage.delete(name)
    return stale
