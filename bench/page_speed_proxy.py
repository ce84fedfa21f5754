"""Page speed behind the front proxy: the cached article through nginx against nginx
sending the same page as a file.

Serves the site as bench/page_speed.py does (production posture, launch content,
gunicorn with 2 sync workers), puts nginx in front of it with the repository's
deploy/nginx/skincare.conf (placeholders filled, cache in a temporary folder),
and adds to the same nginx a server sending the article's HTML from a file.
Every request sends `Accept-Encoding: gzip`; one nginx serves every target, with
the same workers, so the machine's noise hits them alike:

  file      nginx sending the article as a file with gzip_static: the very bytes
            Django sends, gzipped once (the physical limit of a cached page)
  file ofc  the same with open_file_cache, as the front proxy keeps its files
  file gz   the same HTML compressed by nginx on each request (gzip on, level 1)
  proxied   the article through the front proxy, from nginx's cache (checked to
            be a HIT before and after)
  gunicorn  the cached article straight from gunicorn (the page cache), the
            site without the proxy

One warm-up per target, then ROUNDS rounds running every target in turn
(interleaved, the order reversed every other round); prints req/s per round and
the ratios with min/median/max against the goal (proxied / file >= 0.9), and the
load average before and after (other work on the machine skews every figure).

Usage:
  .venv/bin/python bench/page_speed_proxy.py [--rounds 3] [--duration 10]
      [--connections 16] [--nginx-workers auto]
Needs nginx and wrk (Debian: apt-get install nginx wrk).
"""

import argparse
import getpass
import gzip
import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from common import ROOT, BenchError, Processes, free_port, probe, report, spread
from page_speed import (
    DEFAULT_SLUG,
    GZIP,
    Server,
    Target,
    format_row,
    gunicorn,
    prepare_site,
    site_env,
    wrk_command,
)

CONFIG = ROOT / "deploy" / "nginx" / "skincare.conf"
TARGETS = {
    "file": "nginx, file",
    "file-ofc": "nginx, file ofc",
    "file-gz": "nginx, file gz",
    "proxied": "front proxy",
    "gunicorn": "gunicorn cached",
}
# Ratio name -> (numerator, denominator, goal).
RATIOS = {
    "proxied / file": ("proxied", "file", 0.9),
    "proxied / file ofc": ("proxied", "file-ofc", None),
    "proxied / file gz": ("proxied", "file-gz", None),
    "gunicorn / file": ("gunicorn", "file", None),
}
# nginx.conf around the site's file and the file server: as Debian's (sendfile,
# tcp_nopush), everything nginx writes in the work folder.
MAIN = """user {user};
worker_processes {workers};
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/skincare.conf;
    server {{
        listen 127.0.0.1:{file_port};
        root {folder}/files;
        default_type text/html;
        location = /article.html {{ gzip_static on; }}
        location = /ofc/article.html {{
            alias {folder}/files/article.html;
            gzip_static on;
            open_file_cache max=10000 inactive=60s;
        }}
        location = /article-gz.html {{ gzip on; gzip_vary on; }}
    }}
}}
"""


def nginx_config(
    folder: Path, *, proxy_port: int, file_port: int, upstream: int, workers: str
) -> Path:
    """The repository's configuration with its placeholders filled, and the main
    configuration around it."""
    values = {
        "@LISTEN@": f"127.0.0.1:{proxy_port}",
        "@SERVER_NAME@": "127.0.0.1 localhost",
        "@UPSTREAM@": f"127.0.0.1:{upstream}",
        "@CACHE_DIR@": str(folder / "cache"),
        "@REFRESH_SECRET@": os.urandom(16).hex(),
    }
    text = CONFIG.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    (folder / "skincare.conf").write_text(text)
    main = folder / "nginx.conf"
    main.write_text(
        MAIN.format(
            user=getpass.getuser(),
            workers=workers,
            folder=folder,
            file_port=file_port,
        )
    )
    return main


def page_files(folder: Path, answer) -> None:
    """The page as nginx will send it from files: Django's gzipped bytes for
    gzip_static, the HTML for nginx to compress itself."""
    files = folder / "files"
    files.mkdir()
    if answer.headers.get("content-encoding") != "gzip":
        raise BenchError("the front proxy sent the article uncompressed")
    html = gzip.decompress(answer.body)
    (files / "article.html").write_bytes(html)
    (files / "article.html.gz").write_bytes(answer.body)
    (files / "article-gz.html").write_bytes(html)


def cache_hit(target: Target) -> None:
    status = target.check().headers.get("x-cache-status")
    if status != "HIT":
        raise BenchError(f"{target.url} is not from the proxy's cache: {status}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="s per target")
    parser.add_argument("--warmup", type=int, default=3, help="s per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--timeout", type=int, default=10, help="wrk timeout, s")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--nginx-workers", default="auto")
    parser.add_argument("--slug", default=DEFAULT_SLUG, help="launch article")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = parser.parse_args()
    for tool in (args.wrk, args.nginx):
        if not Path(tool).exists():
            raise BenchError(f"{tool} not found (Debian: apt-get install nginx wrk)")
    return args


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def rounds_report(rounds: list[dict[str, float]]) -> None:
    count = len(rounds)
    header = [f"round {n + 1}" for n in range(count)]
    report()
    report(format_row("req/s", [*header, "min", "median", "max"]))
    for name, label in TARGETS.items():
        values = [r[name] for r in rounds]
        cells = [f"{v:.0f}" for v in [*values, *spread(values)]]
        report(format_row(label, cells))
    report()
    report(format_row("ratio", [*header, "min", "median", "max", "goal", "met"]))
    for name, (top, bottom, goal) in RATIOS.items():
        ratios = [r[top] / r[bottom] for r in rounds]
        low, mid, high = spread(ratios)
        wanted, met = "-", "-"
        if goal is not None:
            wanted = f">= {goal:g}"
            met = "yes" if low >= goal else ("median" if mid >= goal else "no")
        cells = [f"{x:.2f}" for x in [*ratios, low, mid, high]]
        report(format_row(name, [*cells, wanted, met]))


def bench(args, workdir: Path, servers: Processes) -> int:
    env = site_env(workdir, "")
    # The bench outlasts the default s-maxage (300 s); a copy going stale would
    # only be revalidated, but keep every measured answer a plain HIT.
    env["DJANGO_PAGE_CACHE_SHARED_MAX_AGE"] = "3600"
    article = prepare_site(env, workdir, args.slug)
    path = f"/articles/{args.slug}/"
    site = gunicorn(
        "gunicorn", Path(sys.executable), "skincare.wsgi", args.workers, workdir
    )
    servers.start(site, env, ROOT)
    servers.wait_answering(site, "/bench-ok/")
    report(f"gunicorn: {shlex.join(site.command)}")

    folder = workdir / "nginx"
    folder.mkdir()
    proxy_port, file_port = free_port(), free_port()
    main = nginx_config(
        folder,
        proxy_port=proxy_port,
        file_port=file_port,
        upstream=site.port,
        workers=args.nginx_workers,
    )
    nginx_command = [
        args.nginx,
        "-p",
        str(folder),
        "-c",
        str(main),
        "-e",
        str(folder / "error.log"),
        "-g",
        "daemon off;",
    ]
    proxy = Server("nginx", nginx_command, workdir / "nginx.log", proxy_port)
    servers.start(proxy, os.environ.copy(), ROOT)
    servers.wait_answering(proxy, path)
    report(f"nginx: {shlex.join(nginx_command)}")
    # The file server's page: Django's bytes, as the proxy passes them on.
    page_files(folder, probe(proxy_port, path, GZIP))
    files = Server("nginx", nginx_command, proxy.log, file_port, proxy.process)

    title = article["title"]
    targets = {
        "file": Target(
            "file", TARGETS["file"], files, "/article.html", GZIP, 200, title
        ),
        "file-ofc": Target(
            "file-ofc",
            TARGETS["file-ofc"],
            files,
            "/ofc/article.html",
            GZIP,
            200,
            title,
        ),
        # Sent chunked (compressed as it goes), which the probe does not read:
        # its HTML is the file's above.
        "file-gz": Target(
            "file-gz", TARGETS["file-gz"], files, "/article-gz.html", GZIP, 200
        ),
        "proxied": Target("proxied", TARGETS["proxied"], proxy, path, GZIP, 200, title),
        "gunicorn": Target(
            "gunicorn", TARGETS["gunicorn"], site, path, GZIP, 200, title
        ),
    }
    cache_hit(targets["proxied"])
    for target in targets.values():
        answer = target.check()
        report(
            f"{target.label:<16} {target.url}  {answer.status}, {target.size} bytes "
            f"on the wire ({answer.headers.get('content-encoding', 'identity')})"
        )
    sample = wrk_command(
        "URL", GZIP, args, connections=args.connections, seconds=args.duration
    )
    report(f"wrk: {shlex.join(sample)}  (warm-up: -d{args.warmup}s)")
    report(f"before: {load()}")
    for target in targets.values():
        target.measure(
            args, seconds=args.warmup, connections=args.connections, warm_up=True
        )
    rounds = []
    for number in range(1, args.rounds + 1):
        order = list(TARGETS) if number % 2 else list(reversed(TARGETS))
        results = {}
        for name in order:
            result = targets[name].measure(
                args, seconds=args.duration, connections=args.connections
            )
            results[name] = result.rps
        report(
            f"round {number}: "
            + ", ".join(f"{name} {rps:.0f}/s" for name, rps in results.items())
            + f"  ({load()})"
        )
        rounds.append(results)
    cache_hit(targets["proxied"])
    rounds_report(rounds)
    report(f"after: {load()}")
    return 0


def main() -> int:
    args = arguments()
    report("command: " + shlex.join([sys.executable, *sys.argv]))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="skincare-page-speed-proxy-"))
    servers = Processes()
    try:
        return bench(args, workdir, servers)
    finally:
        servers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        sys.stderr.write(f"page_speed_proxy: {error}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("page_speed_proxy: interrupted\n")
        sys.exit(130)
