"""The site on a PostgreSQL primary and a real streaming replica: public reads on
the replica, a publish visible at once, and the replica's lag.

  1. The primary: the PostgreSQL server of DATABASE_URL (a throwaway database on
     it, dropped at the end), or with --own-primary a throwaway cluster of its own
     (initdb, on a free port), for when the server's data is too big to copy.
     A replica connects to it with the replication protocol: pg_hba.conf must
     allow `host replication all 127.0.0.1/32 trust`. When it does not, the
     bench adds that line, reloads the server, and puts the file back as it was
     (and reloads again) at the end. wal_level must be replica or logical and
     max_wal_senders at least 1 (PostgreSQL's defaults); those need a restart to
     change, so the bench only says so.
  2. The replica: `pg_basebackup -R -X stream` of the whole cluster into a
     temporary folder, started with pg_ctl on a second port, as the postgres OS
     user (PostgreSQL refuses to run as root).
  3. The site: gunicorn (2 sync workers, production posture, page cache on) with
     DATABASE_URL on the primary and DATABASE_REPLICA_URL on the replica.
  4. Checks: with the replica's replay paused (pg_wal_replay_pause, so it is
     surely behind), an article published through the workflow's service is on
     its page at the very next anonymous requests, rendered and then cached
     (read-your-own-writes: the page version is read from the primary, and a
     replica behind it is passed over, core/db_routers.py); the replica's lag
     after a change once replay resumes; anonymous reads of --pages
     article pages go to the replica and not the primary (pg_stat_database's
     transaction counts of the database on each, and pg_stat_user_tables'
     reads of the article table).

Usage:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  .venv/bin/python bench/replica.py [--own-primary] [--pages 60]

Everything it starts is stopped and its folders and databases removed.
"""

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from common import (
    ROOT,
    BenchError,
    Process,
    Processes,
    free_port,
    gunicorn_command,
    probe,
    production_env,
    run,
)
from common import report as say

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
HBA_LINE = "host replication all 127.0.0.1/32 trust  # bench/replica.py\n"
CONF = """port = {port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{folder}'
hot_standby = on
shared_buffers = 32MB
hba_file = '{folder}/pg_hba.conf'
ident_file = '{folder}/pg_ident.conf'
"""
HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


def as_postgres(command: list[str]) -> list[str]:
    return (
        ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command
    )


def postgres_folder(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


def wait_ready(url: str, *, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"PostgreSQL at {url} did not start: {error}"
                ) from None
            time.sleep(0.5)


class Cluster:
    """A PostgreSQL cluster in a folder of ours, run by pg_ctl."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.running = False

    def configure(self, limits: dict[str, str]) -> None:
        """Our own settings (a Debian server keeps its files out of the data
        folder); a standby needs `limits` at least as high as its primary's."""
        (self.folder / "postgresql.conf").write_text(
            CONF.format(port=self.port, folder=self.folder)
            + "".join(f"{name} = {value}\n" for name, value in limits.items())
        )
        (self.folder / "pg_hba.conf").write_text(HBA + HBA_LINE)
        (self.folder / "pg_ident.conf").write_text("")
        if os.geteuid() == 0:
            for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
                shutil.chown(self.folder / name, "postgres", "postgres")

    def start(self) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.folder), "-w", "-t", "120"]
        run(
            as_postgres([*command, "-l", str(self.folder / "log"), "start"]),
            dict(os.environ),
            Path(tempfile.gettempdir()),
        )
        self.running = True

    def stop(self) -> None:
        if self.running:
            command = [str(PG_BIN / "pg_ctl"), "-D", str(self.folder), "-m", "fast"]
            subprocess.run(as_postgres([*command, "stop"]), check=False)
            self.running = False

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class ReplicationAccess:
    """`host replication ... trust` in the server's pg_hba.conf for the run."""

    def __init__(self, admin: psycopg.Connection) -> None:
        self.admin = admin
        self.path: Path | None = None
        self.original = ""

    def __enter__(self) -> "ReplicationAccess":
        settings = dict(
            self.admin.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('wal_level', 'max_wal_senders', 'hba_file')"
            ).fetchall()
        )
        if settings["wal_level"] == "minimal" or int(settings["max_wal_senders"]) < 1:
            raise BenchError(
                "The server needs wal_level = replica and max_wal_senders >= 1 "
                "(postgresql.conf, then a restart) for a streaming replica."
            )
        allowed = self.admin.execute(
            "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' "
            "AND 'replication' = ANY(database) AND auth_method = 'trust'"
        ).fetchone()[0]
        if not allowed:
            self.path = Path(settings["hba_file"])
            self.original = self.path.read_text()
            self.path.write_text(self.original + HBA_LINE)
            self.admin.execute("SELECT pg_reload_conf()")
            say(f"Added to {self.path} for this run: {HBA_LINE.strip()}")
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            self.path.write_text(self.original)
            self.admin.execute("SELECT pg_reload_conf()")
            say(f"{self.path} restored")


def standby_limits(admin: psycopg.Connection) -> dict[str, str]:
    return dict(
        admin.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', "
            "'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', "
            "'max_locks_per_transaction')"
        ).fetchall()
    )


def xacts(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()[0]


def article_scans(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
            "FROM pg_stat_user_tables WHERE relname = 'articles_article'"
        ).fetchone()[0]


def page_version(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT version FROM core_pageversion WHERE id = 1"
        ).fetchone()[0]


def measure(args, primary_url: str, replica_url: str, port: int) -> bool:
    """Publishing, then reading, through the site on `port`."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from articles.editorial import going_live, revisions, workflow
    from articles.models import Article
    from tests.factories import make_article, make_author, make_topic

    ok = True
    both = (primary_url, replica_url)

    def check(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        say(f"  [{'ok' if passed else 'FAILED'}] {text}")

    topic, author = make_topic(), make_author()
    articles = [make_article(topic=topic, author=author) for _ in range(args.pages)]
    chief = get_user_model().objects.create_superuser(
        username="chief", email="chief@example.com", password="replica-pass-42"
    )
    token = secrets.token_hex(3)
    title = f"Sunscreen under make-up {token}"
    draft = Article(
        title=title,
        slug=f"sunscreen-{token}",
        summary="How to layer sunscreen under make-up so that it still protects, "
        "step by step, with what to look for on the label.",
        body="<h2>Layering</h2><p>Apply sunscreen first and let it set.</p>",
        topic=topic,
        author=author,
        status=Article.Status.DRAFT,
    )
    revision = workflow.save_draft(
        article=draft, data=revisions.snapshot(draft), user=chief
    )
    # The replica has everything so far, and the site has read its page once.
    # On a busy shared server the replica first replays everyone's changes.
    caught_up = wait_caught_up(primary_url, replica_url, limit=600)
    say(f"The replica caught up with the primary in {caught_up:.1f} s")
    path = f"/articles/{draft.slug}/"
    before = probe(port, path, {}).status

    say("\nPublishing while the replica is held behind (replay paused), then reading")
    replay(replica_url, "pause")
    try:
        going_live.publish(
            article=draft,
            user=chief,
            revision_number=revision.number,
            override_reason="replica bench",
        )
        behind = page_version(replica_url) < page_version(primary_url)
        answers = [probe(port, path, {}) for _ in range(4)]
    finally:
        replay(replica_url, "resume")
    check(before == 404, f"before the publish the page answers {before}")
    check(behind, "the replica has not replayed the publish yet")
    check(
        all(a.status == 200 and title in a.text() for a in answers),
        "the next anonymous requests (the first rendered, the rest from the page "
        f"cache) all show it: {[a.status for a in answers]}",
    )

    lags = []
    for n in range(5):
        make_article(topic=topic, author=author, title=f"Lag probe {n} {token}")
        lags.append(wait_caught_up(primary_url, replica_url, limit=30) * 1000)
    say(
        "  replica lag, a change's commit to its replay seen on the replica "
        f"(5 changes, polled every 5 ms): min {min(lags):.0f} ms, median "
        f"{statistics.median(lags):.0f} ms, max {max(lags):.0f} ms"
    )
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), replay_lag "
            "FROM pg_stat_replication"
        ).fetchone()
    say(f"  pg_stat_replication: {row[0]} bytes behind, replay_lag {row[1]}")

    say(f"\nAnonymous reads of {args.pages} article pages (each rendered once)")
    # A backend's statistics reach the views when its connection closes, at the
    # end of a transaction a second after the last report, or after 10 s idle:
    # the earlier reads (the site's from the primary while the replica was held
    # back included) must be counted before the first snapshot.
    connections.close_all()
    time.sleep(11)
    before_reads = {url: (xacts(url), article_scans(url)) for url in both}
    statuses = [probe(port, a.get_absolute_url(), {}).status for a in articles]
    # The statistics reach the views within their flush interval (about 1 s).
    time.sleep(1.5)
    (p_xacts, p_scans), (r_xacts, r_scans) = (
        (xacts(url) - before_reads[url][0], article_scans(url) - before_reads[url][1])
        for url in both
    )
    check(all(s == 200 for s in statuses), f"all {len(statuses)} pages answered 200")
    say(
        f"  transactions: primary +{p_xacts}, replica +{r_xacts} (the primary's: "
        "each request's page version, and connection health checks)"
    )
    check(
        r_scans >= args.pages and p_scans == 0,
        f"reads of the article table: replica {r_scans}, primary {p_scans}",
    )
    return ok


def replay(url: str, action: str) -> None:
    """Pause or resume the standby's replay of the primary's changes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SELECT pg_wal_replay_{action}()")


def wait_caught_up(primary_url: str, replica_url: str, *, limit: float) -> float:
    """Seconds until the replica's page version equals the primary's."""
    target = page_version(primary_url)
    started = time.monotonic()
    with psycopg.connect(replica_url, autocommit=True) as conn:
        while time.monotonic() - started < limit:
            try:
                found = conn.execute(
                    "SELECT version FROM core_pageversion WHERE id = 1"
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                found = None  # the migrations not replayed yet
            if found and found[0] >= target:
                return time.monotonic() - started
            time.sleep(0.005)
    raise BenchError(f"The replica did not reach page version {target} in {limit} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--own-primary", action="store_true")
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--database", default="replica_bench")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "")
    if not args.own_primary and not server.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL (PostgreSQL), or use --own-primary.")

    workdir = Path(tempfile.mkdtemp(prefix="skincare-replica-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    name = f"{args.database}_{secrets.token_hex(4)}"
    own = Cluster(postgres_folder(workdir, "primary"), free_port())
    replica = Cluster(workdir / "replica", free_port())
    processes = Processes()
    admin = None
    passed = django_ready = False
    try:
        if args.own_primary:
            run(
                as_postgres(
                    [
                        str(PG_BIN / "initdb"),
                        "-D",
                        str(own.folder),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                    ]
                ),
                dict(os.environ),
                Path(tempfile.gettempdir()),
            )
            own.configure({})
            own.start()
            server = own.url("postgres")
        parts = urlsplit(server)
        admin = psycopg.connect(server, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        primary_url = urlunsplit(parts._replace(path=f"/{name}"))
        with ReplicationAccess(admin):
            started = time.monotonic()
            run(
                as_postgres(
                    [
                        str(PG_BIN / "pg_basebackup"),
                        "-h",
                        parts.hostname or "127.0.0.1",
                        "-p",
                        str(parts.port or 5432),
                        "-U",
                        parts.username or "postgres",
                        "-D",
                        str(replica.folder),
                        "-R",
                        "-X",
                        "stream",
                        "-c",
                        "fast",
                    ]
                ),
                dict(os.environ),
                Path(tempfile.gettempdir()),
            )
            size = sum(
                f.stat().st_size for f in replica.folder.rglob("*") if f.is_file()
            )
            took = time.monotonic() - started
            say(f"pg_basebackup: {size / 1e6:.0f} MB in {took:.1f} s")
            replica.configure(standby_limits(admin))
            replica.start()
            replica_url = replica.url(name)
            wait_ready(replica_url)
            with psycopg.connect(replica_url) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    raise BenchError("The replica is not in recovery (not a standby).")
            say(
                f"Primary {urlsplit(primary_url).netloc}, streaming replica "
                f"127.0.0.1:{replica.port}"
            )

        port = free_port()
        env = production_env(
            workdir,
            database_url=primary_url,
            DATABASE_REPLICA_URL=replica_url,
            LOG_LEVEL="WARNING",
        )
        run([sys.executable, "manage.py", "migrate", "--no-input"], env, ROOT)
        run([sys.executable, "manage.py", "collectstatic", "--no-input"], env, ROOT)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "skincare.settings"
        import django

        django.setup()
        django_ready = True
        web = processes.start(
            Process(
                "web",
                gunicorn_command(Path(sys.executable), "skincare.wsgi", port, 2),
                workdir / "web.log",
                port,
            ),
            env,
        )
        processes.wait_answering(web, "/robots.txt")
        passed = measure(args, primary_url, replica_url, port)
        say("\nAll checks passed." if passed else "\nA check FAILED.")
    finally:
        processes.stop_all()
        if django_ready:
            from django.db import connections

            connections.close_all()
        replica.stop()
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
        own.stop()
        # The copy of the cluster can be large: never kept, logs or not.
        for folder in (replica.folder, own.folder):
            for item in folder.glob("*"):
                if item.is_dir():
                    shutil.rmtree(item, ignore_errors=True)
                elif item.name != "log":
                    item.unlink()
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"Logs kept in {workdir}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.stderr.write(f"replica: {error}\n")
        sys.exit(1)
