"""SQLite in and out of a backup, through SQLite's online backup API."""

import sqlite3
from pathlib import Path

from django.db.backends.base.base import BaseDatabaseWrapper

from core.backup.archive import BackupError


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


def restore_sqlite(connection: BaseDatabaseWrapper, dump: Path) -> None:
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


def sqlite_path(connection: BaseDatabaseWrapper) -> str:
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db():
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return name


def sqlite_timeout(connection: BaseDatabaseWrapper) -> float:
    return float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 20))
