"""Ten years in: every admin and public page timed on ten years of data.

Loads, into a throwaway database, what ten years of the site would hold
(bench/ten_years_data.py): 20,000 articles with 200,000 revisions, ~97k
transitions and 100k sources; 1,000,000 subscribers with 2.1M events; 500
sent issues with 10,000,000 deliveries, a few % with a provider event; a year
of readership and searches; with --big-issue one more issue sent to 850,000.
All rows are made by the database (INSERT ... SELECT over a series), then
ANALYZE; the search index is rebuilt, and --prepare N articles are prepared as
`manage.py prepare_articles` would (all of them takes hours today).

Then every admin page (as a superuser, second factor given) and every public
page (anonymous, the page cache emptied before each request) is requested
through Django's test client in this process (bench/ten_years_pages.py): one
warm-up with its queries counted, then --runs timed. It prints page, median
and max ms, queries, the goal (admin <= 300 ms, public <= 50 ms) and OK/SLOW;
then the database's size and its biggest tables (heap and indexes apart).

PostgreSQL (DATABASE_URL names the server): the database tenyears_bench on it,
dropped at the end unless --keep; --reuse times the pages of one kept before
(migrating it first, so a branch's new migrations apply). --sqlite: a
temporary SQLite file, --scale 0.1 unless told. --scale scales every count.

Usage:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
      .venv/bin/python bench/ten_years.py [--scale 1.0] [--big-issue]
      [--prepare 200] [--runs 5] [--keep | --reuse] [--json FILE] [--check]
      [--retention] [--only TEXT] [--explain]
  .venv/bin/python bench/ten_years.py --sqlite [--scale 0.1]
--check exits 1 when a page misses its goal; --explain prints EXPLAIN ANALYZE of
the slowest query of each page over its goal (PostgreSQL); --only times the pages
whose name holds TEXT (or one of TEXT|TEXT...). --retention runs `manage.py
apply_retention` when the project has it and reports the sizes after.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import report, throwaway_postgres

DATABASE_NAME = "tenyears_bench"


def settle_django(database_url: str, workdir: Path) -> None:
    """Django in this process on the given database (else SQLite in workdir),
    production posture with the page cache off, the test client's host allowed."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skincare.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret")
    os.environ.setdefault("DJANGO_DEFAULT_FROM_EMAIL", "news@example.com")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_PAGE_CACHE"] = "0"
    os.environ["DJANGO_MEDIA_ROOT"] = str(workdir / "media")
    os.environ["SQLITE_PATH"] = str(workdir / "ten_years.sqlite3")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.test.utils import override_settings

    # Static files from the finders, as in the tests: no collectstatic output.
    warnings.filterwarnings("ignore", message="No directory at")
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        },
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ).enable()


def load(args) -> dict:
    """Migrate, load, ANALYZE, index for search, prepare; what was made."""
    import ten_years_data as data
    from django.core.management import call_command
    from django.db import connection

    from articles.publishing import prepared
    from articles.search import engine

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    report(f"migrated in {time.perf_counter() - began:.1f} s")
    sizes = data.Sizes(args.scale, big_issue=args.big_issue)
    report(
        f"loading: scale {args.scale:g}, {sizes.articles:,} articles, "
        f"{sizes.subscribers:,} subscribers, {sizes.issues} issues x "
        f"{sizes.per_issue:,} deliveries"
        + (f", big issue {sizes.big_recipients:,}" if args.big_issue else "")
    )
    began = time.perf_counter()
    made = data.load(sizes, say=report)
    loaded = time.perf_counter() - began
    report(f"loaded in {loaded:.1f} s")
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    made["timings"]["analyze"] = time.perf_counter() - began
    began = time.perf_counter()
    indexed = engine.rebuild()
    made["timings"]["search index"] = time.perf_counter() - began
    report(
        f"search index: {indexed:,} articles in {made['timings']['search index']:.1f} s"
    )
    if args.prepare:
        # The newest live articles first: those the home page and lists show.
        ids = list(
            data.Article.objects.filter(stage="live")
            .order_by("-published_at")
            .values_list("pk", flat=True)[: args.prepare]
        )
        began = time.perf_counter()
        prepared.prepare_articles(ids)
        seconds = time.perf_counter() - began
        made["timings"]["prepare"] = seconds
        report(
            f"prepared {len(ids):,} articles in {seconds:.1f} s "
            f"({seconds / max(1, len(ids)):.2f} s an article)"
        )
    made["timings"]["load total"] = loaded
    return made


def sizes_report(limit: int = 12) -> dict:
    """The database's size and its biggest tables, heap and indexes apart."""
    from django.db import connection

    if connection.vendor != "postgresql":
        path = Path(connection.settings_dict["NAME"])
        total = path.stat().st_size
        report(f"database file: {total / 2**20:,.0f} MB")
        return {"database_bytes": total}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid),"
            " pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid ="
            " c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 2"
            " DESC LIMIT %s",
            [limit],
        )
        tables = cursor.fetchall()
    report(f"database: {total / 2**20:,.0f} MB")
    report(f"{'table':<34}{'total MB':>10}{'heap MB':>10}{'indexes MB':>12}")
    for name, whole, heap, indexes in tables:
        report(
            f"{name:<34}{whole / 2**20:>10,.0f}{heap / 2**20:>10,.0f}"
            f"{indexes / 2**20:>12,.0f}"
        )
    return {
        "database_bytes": total,
        "tables": [
            {"table": n, "total": w, "heap": h, "indexes": i} for n, w, h, i in tables
        ],
    }


def retention() -> dict | None:
    """`manage.py apply_retention`, when the project has it, then VACUUM FULL
    and the sizes after."""
    from django.core.management import call_command, get_commands
    from django.db import connection

    if "apply_retention" not in get_commands():
        report("retention: no apply_retention command in this project; skipped")
        return None
    began = time.perf_counter()
    call_command("apply_retention")
    report(f"retention: apply_retention took {time.perf_counter() - began:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM FULL ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM")
    return sizes_report()


def time_everything(args, big_issue_id: int | None) -> list:
    import ten_years_pages as pages_module
    from django.contrib.auth import get_user_model
    from django.template import Template
    from django.test import Client
    from django.test.utils import _TestState, setup_test_environment

    from articles.readership import counting
    from articles.search import insight
    from tests.conftest import VerifiedClient

    setup_test_environment()
    # A GET answered 405 or 403 is left out of the table, not worth a warning.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    logging.getLogger("axes").setLevel(logging.WARNING)
    # The test environment wraps template rendering to keep each template's
    # context for the test client: a cost no real request pays.
    Template._render = _TestState.saved_data.template_render
    users = get_user_model()
    superuser = users.objects.filter(is_superuser=True).order_by("pk").first()
    if superuser is None:
        superuser = users.objects.create_superuser("bench-admin", "a@example.com", "x")
    staff = VerifiedClient()
    staff.force_login(superuser)
    rows = pages_module.Rows.pick(big_issue_id)
    admin_pages, admin_skipped = pages_module.admin_pages(rows, staff, args.only)
    public_pages, public_skipped = pages_module.public_pages(rows)
    pages = [
        page
        for page in admin_pages + public_pages
        if pages_module.wanted(page.name, args.only)
    ]
    report(f"timing {len(pages)} pages, {args.runs} runs each after a warm-up")
    timed = pages_module.time_pages(pages, staff, Client(), args.runs, say=report)
    report()
    for line in pages_module.table(timed):
        report(line)
    # What the pages counted is held in the process; none of it is measured.
    insight.discard_buffer()
    counting.discard_buffer()
    left_out = [f"{p.name}: HTTP {p.status}" for p in pages if p not in timed]
    for line in admin_skipped + public_skipped + left_out:
        report(f"not timed: {line}")
    slow = [p for p in timed if not p.ok]
    report(f"{len(timed) - len(slow)} of {len(timed)} pages within goal")
    if args.explain:
        for page in slow:
            report()
            report(
                f"{page.name}: slowest query {page.slowest_ms:,.0f} ms of "
                f"{page.queries}:"
            )
            report(page.slowest_sql[:2000])
            for line in pages_module.explain(page):
                report(f"  {line}")
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    argument = parser.add_argument
    argument("--scale", type=float, help="every count times this (1.0; 0.1 on SQLite)")
    argument("--big-issue", action="store_true", help="one more issue, to 850,000")
    argument("--sqlite", action="store_true", help="a temporary SQLite file")
    argument("--prepare", type=int, default=200, help="newest live articles prepared")
    argument("--runs", type=int, default=5, help="timed requests a page")
    argument("--keep", action="store_true", help="keep the PostgreSQL database")
    argument("--reuse", action="store_true", help="time the one kept, not loading")
    argument("--json", type=Path, help="write the figures to this file")
    argument("--check", action="store_true", help="exit 1 when a page misses its goal")
    argument("--retention", action="store_true", help="apply_retention, sizes after")
    argument("--only", default="", help="pages whose name holds TEXT (or TEXT|TEXT)")
    argument("--explain", action="store_true", help="EXPLAIN the slow pages' slowest")
    args = parser.parse_args()
    if args.scale is None:
        args.scale = 0.1 if args.sqlite else 1.0
    server = "" if args.sqlite else os.environ.get("DATABASE_URL", "")
    if args.sqlite and (args.reuse or args.keep):
        raise SystemExit("--keep and --reuse are for PostgreSQL.")
    if not args.sqlite and not server.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server, or use --sqlite.")
    workdir = Path(tempfile.mkdtemp(prefix="skincare-ten-years-"))
    drop = None
    if server and args.reuse:
        url = urlunsplit(urlsplit(server)._replace(path=f"/{DATABASE_NAME}"))
    elif server:
        url, drop = throwaway_postgres(server, DATABASE_NAME)
    else:
        url = ""
    results: dict = {
        "scale": args.scale,
        "database": "sqlite" if args.sqlite else "postgresql",
    }
    try:
        settle_django(url, workdir)
        if args.reuse:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            made = {"big_issue": None, "timings": {}}
        else:
            made = load(args)
        results["load_seconds"] = made["timings"]
        results["sizes"] = sizes_report()
        timed = time_everything(args, made.get("big_issue"))
        results["pages"] = [page.as_dict() for page in timed]
        if args.retention:
            results["sizes_after_retention"] = retention()
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
            report(f"results written to {args.json}")
    finally:
        from django.db import connections

        connections.close_all()
        if drop is not None and not args.keep:
            drop()
        elif drop is not None:
            report(f"kept: {url} (time it again with --reuse)")
        shutil.rmtree(workdir, ignore_errors=True)
    if args.check and not all(page["ok"] for page in results["pages"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
