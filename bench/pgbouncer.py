"""The send, lease and worker tests through PgBouncer in transaction mode.

Starts a PgBouncer of its own (a temporary pgbouncer.ini: transaction pooling,
trust, on a free loopback port, in front of the PostgreSQL server of
DATABASE_URL), then runs the subset of the suite that holds the claims, leases,
the task queue, worker heartbeats and the sending pace, with DATABASE_URL
pointing through it and DATABASE_POOLER=pgbouncer (skincare/backends.py: no
server-side cursors, no prepared statements). The worker processes those tests
start connect through it too. At the end PgBouncer stops and the test database is
dropped on the server directly (PgBouncer keeps server connections open to it,
so a DROP through it would fail): pytest runs with --reuse-db and never drops it.

Usage (the database name is the test database's, prefixed with test_ by pytest):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  .venv/bin/python bench/pgbouncer.py [--database skincare_pgbouncer] [-q -x ...]

pytest's options are passed on; test paths (tests/...) replace the subset.

Exits with pytest's status. PgBouncer refuses to run as root: as root it runs as
the postgres user (runuser).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from common import ROOT, BenchError, free_port, report

# What the subset holds: sending (claims, leases, fencing), the workers (the task
# queue's SELECT ... FOR UPDATE SKIP LOCKED, heartbeats, reclaiming), the pace
# kept in the database, the welcome emails' workers, and the replica router.
SUBSET = [
    "tests/newsletter/test_sending.py",
    "tests/newsletter/test_worker.py",
    "tests/newsletter/test_several_workers.py",
    "tests/newsletter/test_self_healing.py",
    "tests/newsletter/test_welcome_worker.py",
    "tests/newsletter/test_welcome_series_worker.py",
    "tests/newsletter/test_pacing.py",
    "tests/newsletter/test_import_export.py",
    "tests/core/test_workers.py",
    "tests/core/test_db_routers.py",
]

INI = """[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
max_db_connections = 40
server_reset_query =
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
admin_users = {user}
"""


def as_postgres_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start(server: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    """PgBouncer in front of `server`; its process and port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    parts = urlsplit(server)
    listen = free_port()
    user = parts.username or "postgres"
    (workdir / "userlist.txt").write_text(f'"{user}" ""\n')
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            listen=listen,
            workdir=workdir,
            user=user,
        )
    )
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        for path in workdir.iterdir():
            shutil.chown(path, "postgres")
    process = subprocess.Popen(
        [*as_postgres_user(), binary, str(ini)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    probe = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{listen}"))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"pgbouncer exited: {read_log(workdir)}")
        try:
            psycopg.connect(probe, connect_timeout=2).close()
            return process, listen
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise BenchError(f"pgbouncer did not answer: {read_log(workdir)}")


def read_log(workdir: Path) -> str:
    log = workdir / "pgbouncer.log"
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def drop(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="skincare_pgbouncer")
    args, pytest_args = parser.parse_known_args()
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to the PostgreSQL server; see --help.")
    test_database = f"test_{args.database}"
    workdir = Path(tempfile.mkdtemp(prefix="skincare-pgbouncer-"))
    drop(server, test_database)
    process, port = start(server, workdir)
    parts = urlsplit(server)
    user = parts.username or "postgres"
    through = urlunsplit(
        parts._replace(netloc=f"{user}@127.0.0.1:{port}", path=f"/{args.database}")
    )
    report(f"PgBouncer (transaction pooling) on 127.0.0.1:{port}; logs in {workdir}")
    env = {
        **os.environ,
        "DATABASE_URL": through,
        "DATABASE_POOLER": "pgbouncer",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "pgbouncer-tests"),
        "DJANGO_DEFAULT_FROM_EMAIL": "news@example.com",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--reuse-db", "-p", "no:cacheprovider"]
            + pytest_args
            + ([] if any(a.startswith("tests/") for a in pytest_args) else SUBSET),
            env=env,
            cwd=ROOT,
            check=False,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        drop(server, test_database)
    report(
        f"pytest through PgBouncer: exit {done.returncode}, "
        f"{time.monotonic() - started:.0f} s"
    )
    if done.returncode == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    return done.returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        sys.stderr.write(f"pgbouncer: {error}\n")
        sys.exit(1)
