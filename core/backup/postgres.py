"""PostgreSQL in and out of a backup, with the client tools pg_dump and pg_restore."""

import os
import shutil
import subprocess
from pathlib import Path

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.client import DatabaseClient

from core.backup.archive import BackupError


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


def pg_restore(connection: BaseDatabaseWrapper, dump: Path) -> None:
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
