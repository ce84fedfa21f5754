"""What the benches share, so each holds only what it measures.

- ROOT (the checkout, put on sys.path so the benches import the site), report();
- bench_database(): Django set up in this process with a throwaway test database
  (a temporary SQLite file, or one on the PostgreSQL server of DATABASE_URL);
- for benches that run the site as its own processes: production_env() (the
  site's settings in production posture), throwaway_postgres(), free_port(),
  probe() (one HTTP request, read byte for byte), Processes (started in sessions
  of their own, waited for, and ended, exactly those), gunicorn_command();
- spread() and p50_p95(): what the benches print of their timings.
"""

import contextlib
import gzip
import os
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class BenchError(Exception):
    """A bench that cannot go on; the message says why."""


def report(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(command: list[str], env: dict, cwd: Path) -> str:
    """Run a command to its end; its output, or BenchError with its last lines."""
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise BenchError(
            f"{shlex.join(command)} failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


# -- Timings ---------------------------------------------------------------------------


def spread(values: list[float]) -> tuple[float, float, float]:
    """Min, median and max."""
    return min(values), statistics.median(values), max(values)


def p50_p95(seconds: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile, in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


# -- Django in this process ------------------------------------------------------------


@contextlib.contextmanager
def bench_database(postgres_name: str, **env: str) -> Iterator[Path]:
    """Django set up in this process on a throwaway test database, destroyed at
    the end; yields a temporary folder for the bench's files.

    SQLite: a temporary file. PostgreSQL (DATABASE_URL): the database
    `postgres_name` on that server ("{database}" in it becomes the configured
    database's name), never the test suite's, so a test run going on is never
    clobbered. `env` is set before Django reads its settings."""
    workdir = Path(tempfile.mkdtemp(prefix="skincare-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skincare.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret")
    os.environ.setdefault("DJANGO_DEFAULT_FROM_EMAIL", "news@example.com")
    os.environ["SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    os.environ["SQLITE_TEST_PATH"] = str(workdir / "bench-test.sqlite3")
    os.environ.update(env)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        postgres_name.format(database=connection.settings_dict["NAME"])
        if connection.vendor == "postgresql"
        else os.environ["SQLITE_TEST_PATH"]
    )
    setup_test_environment()
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield workdir
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)


# -- The site as its own processes -----------------------------------------------------


def production_env(workdir: Path, *, database_url: str = "", **extra: str) -> dict:
    """This environment without any DJANGO_* setting or DATABASE_URL, plus the
    site's settings in production posture (no DEBUG, a random secret key, hosts
    127.0.0.1 and localhost), its files in `workdir`, the given database (else a
    SQLite file in `workdir`), and `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DJANGO_") and name != "DATABASE_URL"
    }
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_DEFAULT_FROM_EMAIL="news@example.com",
        SQLITE_PATH=str(workdir / "site.sqlite3"),
        DJANGO_STATIC_ROOT=str(workdir / "static"),
        DJANGO_MEDIA_ROOT=str(workdir / "media"),
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def throwaway_postgres(url: str, name: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the server of `url`: its URL, and a function
    that drops it (connections still open to it included)."""
    import psycopg

    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}")), drop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    size: int  # status line, headers and body, as wrk counts them

    def text(self) -> str:
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.body).decode()
        return self.body.decode()


def probe(
    port: int, path: str, headers: dict[str, str], *, method: str = "GET", body=b""
) -> Answer:
    """One request (a GET unless told) on 127.0.0.1:port, read byte for byte."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    request = "\r\n".join([*lines, "Connection: close", "", ""]).encode() + body
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), parsed, body, len(raw))


def gunicorn_command(python: Path, app: str, port: int, workers: int) -> list[str]:
    """gunicorn as in production (docs/operations.md), on a loopback port."""
    command = [str(python), "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--worker-class", "sync"]
    return [*command, "--log-level", "warning"]


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Process:
    name: str
    command: list[str]
    log: Path
    port: int = 0  # where it answers HTTP, if it does
    process: subprocess.Popen | None = None


class Processes:
    """Starts processes in sessions of their own and ends exactly those on exit."""

    def __init__(self) -> None:
        self.started: list[Process] = []

    def start(self, process: Process, env: dict, cwd: Path = ROOT) -> Process:
        with process.log.open("w") as log:
            process.process = subprocess.Popen(
                process.command,
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def check_running(self) -> None:
        for started in self.started:
            if started.process.poll() is not None:
                raise BenchError(f"{started.name} exited:\n{tail(started.log)}")

    def wait_answering(self, process: Process, path: str, limit: float = 90) -> None:
        """Until GET `path` answers 200."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.check_running()
            try:
                if probe(process.port, path, {}).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(
            f"{process.name} did not answer {path} within {limit:g} s:\n"
            f"{tail(process.log)}"
        )

    def stop_all(self) -> None:
        """SIGTERM to each session (a task or request under way is finished
        first), SIGKILL to those still there after 30 s."""
        for started in self.started:
            if started.process.poll() is None:
                os.killpg(started.process.pid, signal.SIGTERM)
        for started in self.started:
            try:
                started.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(started.process.pid, signal.SIGKILL)
                started.process.wait()
                report(f"{started.name} did not stop on SIGTERM; killed.")
        self.started = []
