"""The database of a backup, whatever its vendor: which vendors, dumping and
replacing it (sqlite.py, postgres.py), its migrations and what it holds."""

from pathlib import Path

from django.apps import apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from core.backup.archive import DATABASE_FILES, BackupError
from core.backup.postgres import pg_dump, pg_restore
from core.backup.sqlite import copy_sqlite, restore_sqlite

# Django's own bookkeeping, which `migrate` fills in any database: rows there are
# not data someone would lose.
BOOKKEEPING_MODELS = {"contenttypes.ContentType", "auth.Permission"}


def supported_vendor(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor not in DATABASE_FILES:
        raise BackupError(
            "Backups cover SQLite and PostgreSQL; this database is "
            f"{connection.vendor}."
        )
    return connection.vendor


def dump_database(connection: BaseDatabaseWrapper, vendor: str, target: Path) -> None:
    if vendor == "sqlite":
        copy_sqlite(connection, target)
    else:
        pg_dump(connection, target)


def restore_database(connection: BaseDatabaseWrapper, vendor: str, dump: Path) -> None:
    # Our own connection must hold no lock or snapshot while the database is replaced.
    connection.close()
    if vendor == "sqlite":
        restore_sqlite(connection, dump)
    else:
        pg_restore(connection, dump)


def applied_migrations(connection: BaseDatabaseWrapper) -> dict[str, list[str]]:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return {}
    state: dict[str, list[str]] = {}
    for app, name in sorted(recorder.applied_migrations()):
        state.setdefault(app, []).append(name)
    return state


def pending_migrations(connection: BaseDatabaseWrapper) -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


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
