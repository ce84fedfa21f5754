"""Page speed: a launch article served by gunicorn, against a bare view and Wagtail.

Serves the site in production posture (DEBUG off, a random secret key, hosts
127.0.0.1, collected static files, gunicorn with 2 sync workers) from a throwaway
database holding the launch content, and measures with wrk, every request sending
`Accept-Encoding: gzip`:

  bare      /bench-ok/: HttpResponse("ok") behind the same middleware, from the
            bench-only URLconf in bench/benchsite (the product's URLs plus this
            view); served by the page-cache-off instance, so no cache touches it
  uncached  the article, page cache off (DJANGO_PAGE_CACHE=0): a full render
  plain     the same, on an instance whose stored page is read through the ORM
            on every request (BENCH_PLAIN_READS=1, bench/benchsite/apps.py)
            instead of with the SQL core/compiled.py compiles once per process:
            uncached / plain is what core/compiled.py gains
  cached    the article, default settings (page cache on), with its readership
            counting script
  uncounted the same, on an instance with counting off
            (DJANGO_READERSHIP_COUNTING=0): the page without the script
  beacon    the POST the script sends once per view (articles/readership/): a
            browser's User-Agent, same Origin, a search engine's host, so each
            one is counted (held in the process, written every
            DJANGO_READERSHIP_FLUSH_SECONDS); the flood limits are raised out of
            its way
  304       the cached article with If-None-Match: <its ETag> ("n/a" without an
            ETag; If-Modified-Since when only Last-Modified is sent)
  wagtail   a Wagtail 8.0.1 page with the same title, summary and body HTML (the
            body as the reader gets it), from a stock `wagtail start` project with
            a RichTextField page model, production settings, Django's
            GZipMiddleware (the site compresses its own pages too), the same Django
            and gunicorn, 2 sync workers. Wagtail lives in a virtualenv of its own,
            made once under ~/.cache/skincare-bench (XDG_CACHE_HOME), never in
            requirements.txt.

Default mode: one warm-up per target, then ROUNDS rounds, each running every target
in turn (interleaved, so machine noise hits all alike); prints req/s per round and
per-round ratios with min/median/max next to the goals (cached/bare >= 0.85,
uncached/bare >= 0.15, uncached/wagtail >= 2, 304/uncached >= 3, uncached/plain
>= 1.05: core/compiled.py is kept only for a gain of 5% or more; cached/uncounted
>= 0.95: the counting script costs the cached page under 5%). "view + beacon" is
what one counted view costs the server, a page and its beacon
(1 / (1/cached + 1/beacon)), shown against the uncounted page without a goal.

--load: after a warm-up, 64 connections for 3 minutes on the cached article
(`wrk --latency`), worker memory (VmRSS) read every 10 s; prints req/s, errors,
p50/p90/p99 and first/last/max RSS against the goals (0 errors, p99 <= 100 ms,
memory flat).

Every target is first checked by hand (status, the article's title in the page, the
answer's size); any error in a measured run (non-2xx/3xx answer, socket error,
answers of another size than that one) stops the bench with exit status 1: the
numbers of a broken page mean nothing. An article that sends an ETag but does not
answer 304 to it is reported, measured without the 304 target, and exits 1. Goals
not met are shown, not failed on (the machine may be busy).

The same cached article behind the front proxy (nginx, deploy/nginx/skincare.conf),
against nginx sending it as a file: bench/page_speed_proxy.py.

Usage:
  .venv/bin/python bench/page_speed.py [--rounds 3] [--duration 10] [--connections 16]
  .venv/bin/python bench/page_speed.py --load [--load-duration 180]
With DATABASE_URL set, the site and the Wagtail page each use a throwaway database
on that PostgreSQL server (dropped afterwards); otherwise temporary SQLite files.
Needs wrk (Debian: apt-get install wrk).
"""

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from common import (
    BENCH,
    ROOT,
    Answer,
    BenchError,
    Process,
    Processes,
    free_port,
    gunicorn_command,
    probe,
    production_env,
    report,
    run,
    spread,
    throwaway_postgres,
)

WAGTAIL = "8.0.1"
GZIP = {"Accept-Encoding": "gzip"}
DEFAULT_SLUG = "microneedling-benefits-keratosis-pilaris"
# Ratio name -> (numerator, denominator, goal).
RATIOS = {
    "cached / bare": ("cached", "bare", 0.85),
    # Half the bare view: not met yet (docs/performance.md, page speed).
    "uncached / bare": ("uncached", "bare", 0.5),
    "uncached / wagtail": ("uncached", "wagtail", 2.0),
    "304 / uncached": ("304", "uncached", 3.0),
    # What core/compiled.py gains on the uncached article; under 5%, it goes.
    "uncached / plain": ("uncached", "plain", 1.05),
    # What the readership counting script costs the cached page: under 5%.
    "cached / uncounted": ("cached", "uncounted", 0.95),
    # A counted view is a page and a beacon; shown, with no goal.
    "view+beacon / uncounted": ("view+beacon", "uncounted", None),
}
# Worker memory counts as flat while the total grows less than this.
FLAT = 0.10
TARGETS = (
    "bare",
    "uncached",
    "plain",
    "cached",
    "uncounted",
    "beacon",
    "304",
    "wagtail",
)
# Worked out from each round's figures rather than measured.
DERIVED = {"view+beacon": "view + beacon"}
# How each instance of the site differs from the default settings.
SWITCHES = {
    "cached": "",
    "uncached": "  (DJANGO_PAGE_CACHE=0)",
    "plain": "  (DJANGO_PAGE_CACHE=0 BENCH_PLAIN_READS=1)",
    "uncounted": "  (DJANGO_READERSHIP_COUNTING=0)",
}
# A beacon as static/js/readership.js sends it (the article's id filled in).
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BEACON_PATH = "/readership/view/"
COUNTING_SCRIPT = f'data-endpoint="{BEACON_PATH}"'
BEACON_LUA = """wrk.method = "POST"
wrk.body = '{body}'
"""


# -- Servers -------------------------------------------------------------------


class Server(Process):
    """A gunicorn instance of the site (or of Wagtail) being measured."""

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the processes whose parent is its master."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name, in parentheses, may hold spaces: split after it.
            if int(stat.rpartition(")")[2].split()[1]) == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def settle(self, quiet: float = 0.3, limit: float = 30) -> None:
        """Wait until the workers have used no CPU for `quiet` seconds: requests
        still queued when wrk stops must not slow down the next measurement."""
        deadline = time.monotonic() + limit
        last = None
        while time.monotonic() < deadline:
            used = sum(cpu_ticks(pid) for pid in self.worker_pids())
            if used == last:
                return
            last = used
            time.sleep(quiet)


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def gunicorn(name: str, python: Path, app: str, workers: int, logs: Path) -> Server:
    """gunicorn as in production, on a free loopback port."""
    port = free_port()
    command = gunicorn_command(python, app, port, workers)
    return Server(name, command, logs / f"{name}.log", port)


# -- wrk -------------------------------------------------------------------------

UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    command: list[str]
    output: str
    rps: float = 0.0
    requests: int = 0
    bytes_read: float = 0.0
    non_2xx_3xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[int, float] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())


def wrk_command(
    url: str,
    headers: dict[str, str],
    args,
    *,
    connections: int,
    seconds: int,
    script: Path | None = None,
) -> list[str]:
    command = [args.wrk, f"-t{args.threads}", f"-c{connections}", f"-d{seconds}s"]
    command += [f"--timeout={args.timeout}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def wrk(command: list[str]) -> WrkResult:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = process.communicate()
    finally:
        # Interrupted (Ctrl-C, kill): stop it too rather than let it run its time.
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode:
        raise BenchError(f"{shlex.join(command)} failed:\n{output}")
    result = WrkResult(command, output)
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result.rps = float(match[1])
    if match := re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", output):
        result.requests = int(match[1])
        result.bytes_read = float(match[2]) * UNITS[match[3]]
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        result.non_2xx_3xx = int(match[1])
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        names = ("connect", "read", "write", "timeout")
        result.socket_errors = dict(zip(names, map(int, match.groups()), strict=True))
    for percent, amount, unit in re.findall(
        r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE
    ):
        result.latency_ms[int(percent)] = float(amount) * TIME_UNITS[unit]
    if not result.requests:
        raise BenchError(f"wrk sent no request:\n{output}")
    return result


# -- Targets ----------------------------------------------------------------------


@dataclass
class Target:
    name: str
    label: str
    server: Server
    path: str
    headers: dict[str, str]
    status: int
    marker: str = ""  # text the page must contain
    size: int = 0  # one answer in bytes, measured by check()
    body: str = ""  # sent as a POST (through a wrk script) when set
    script: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{self.path}"

    def check(self) -> Answer:
        """One request by hand: the right status and page, and its size."""
        if self.body:
            answer = probe(
                self.server.port,
                self.path,
                self.headers,
                method="POST",
                body=self.body.encode(),
            )
        else:
            answer = probe(self.server.port, self.path, self.headers)
        if answer.status != self.status:
            raise BenchError(
                f"{self.label}: {self.url} answered {answer.status}, "
                f"expected {self.status}"
            )
        if self.marker and self.marker not in answer.text():
            raise BenchError(f"{self.label}: {self.url} lacks {self.marker!r}")
        self.size = answer.size
        return answer

    def problems(self, result: WrkResult) -> list[str]:
        found = []
        if result.errors:
            found.append(
                f"{result.non_2xx_3xx} non-2xx/3xx, socket errors "
                f"{result.socket_errors}"
            )
        # wrk counts 3xx as success: a body of the wrong size shows a 304 that
        # became a 200, or a page that turned into something else.
        per_request = result.bytes_read / result.requests
        if abs(per_request - self.size) > max(0.2 * self.size, 64):
            found.append(
                f"{per_request:.0f} bytes per answer, one answer checked by hand "
                f"was {self.size}"
            )
        return found

    def measure(
        self, args, *, seconds: int, connections: int, warm_up: bool = False
    ) -> WrkResult:
        """wrk on this target; any problem fails the run, except in a warm-up
        (a cold page may time out), where it is only reported."""
        command = wrk_command(
            self.url,
            self.headers,
            args,
            connections=connections,
            seconds=seconds,
            script=self.script,
        )
        result = wrk(command)
        self.server.settle()
        if problems := self.problems(result):
            text = f"{self.label}: {'; '.join(problems)}"
            if warm_up:
                report(f"warm-up, {text}")
            else:
                raise BenchError(f"{text}\n{shlex.join(command)}\n{result.output}")
        return result


# -- The site -----------------------------------------------------------------------


def site_env(workdir: Path, database_url: str) -> dict:
    return production_env(
        workdir,
        database_url=database_url,
        DJANGO_SETTINGS_MODULE="benchsite.settings",
        PYTHONPATH=str(BENCH),
        # Every measured beacon is counted: the flood limits would answer most
        # of them 429 without touching the database.
        DJANGO_READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE=str(10**9),
        DJANGO_READERSHIP_VIEWS_PER_MINUTE=str(10**9),
    )


def prepare_site(env: dict, workdir: Path, slug: str) -> dict:
    """Migrate, load the launch content, collect static files; the article's
    title, summary and body as the reader gets it."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    run([*manage, "migrate", "--no-input", "-v0"], env, ROOT)
    # Static files first: prepared pages name the hashed static images.
    run([*manage, "collectstatic", "--no-input", "-v0"], env, ROOT)
    run([*manage, "load_launch_content"], env, ROOT)
    out = workdir / "article.json"
    dump = (
        "import json, os\n"
        "from articles.models import Article\n"
        "a = Article.objects.published().get(slug=os.environ['BENCH_SLUG'])\n"
        "data = {'id': a.pk, 'title': a.title, 'summary': a.summary,\n"
        "        'body': a.prepared.body_html}\n"
        "open(os.environ['BENCH_OUT'], 'w').write(json.dumps(data))\n"
    )
    run(
        [*manage, "shell", "-c", dump],
        {**env, "BENCH_SLUG": slug, "BENCH_OUT": str(out)},
        ROOT,
    )
    return json.loads(out.read_text())


# -- Wagtail -------------------------------------------------------------------------

ARTICLE_PAGE_MODEL = """

from wagtail.fields import RichTextField


class ArticlePage(Page):
    summary = models.TextField(blank=True)
    body = RichTextField(blank=True)

    content_panels = [*Page.content_panels, "summary", "body"]
"""
ARTICLE_PAGE_TEMPLATE = """{% extends "base.html" %}
{% load wagtailcore_tags %}
{% block body_class %}template-articlepage{% endblock %}
{% block content %}
<article>
  <h1>{{ page.title }}</h1>
  <p>{{ page.summary }}</p>
  <div class="prose">{{ page.body|richtext }}</div>
</article>
{% endblock %}
"""
WAGTAIL_LOCAL_SETTINGS = """import json
import os

from .base import BASE_DIR, MIDDLEWARE

SECRET_KEY = os.environ["BENCH_SECRET_KEY"]
ALLOWED_HOSTS = ["127.0.0.1"]
# The site compresses its own pages; so does this one, for the same work per request.
MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware", *MIDDLEWARE]
STATIC_ROOT = BASE_DIR / "collected-static"
if os.environ.get("BENCH_DATABASE"):
    DATABASES = {"default": json.loads(os.environ["BENCH_DATABASE"])}
"""
CREATE_PAGE = """import json, os
from home.models import ArticlePage, HomePage
data = json.loads(open(os.environ["BENCH_ARTICLE"]).read())
page = ArticlePage(title=data["title"], slug=os.environ["BENCH_SLUG"],
                   summary=data["summary"], body=data["body"])
HomePage.objects.get().add_child(instance=page)
page.save_revision().publish()
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skincare-bench"


def wagtail_venv(path: Path | None) -> Path:
    """A virtualenv with Wagtail and the site's Django, gunicorn and psycopg."""
    pins = [
        f"wagtail=={WAGTAIL}",
        f"Django=={version('Django')}",
        f"gunicorn=={version('gunicorn')}",
        f"psycopg[binary]=={version('psycopg')}",
    ]
    venv = path or cache_dir() / ("wagtail-" + "-".join(p.split("==")[1] for p in pins))
    stamp = venv / "bench-pins.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(pins):
        return venv
    report(f"installing {' '.join(pins)} into {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(venv)], dict(os.environ), Path.cwd())
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    run([*pip, "--disable-pip-version-check", *pins], dict(os.environ), Path.cwd())
    stamp.write_text("\n".join(pins))
    return venv


def postgres_settings(url: str) -> str:
    parts = urlsplit(url)
    return json.dumps(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"),
            "USER": parts.username or "",
            "PASSWORD": parts.password or "",
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    )


@dataclass
class WagtailSite:
    venv: Path
    project: Path
    env: dict


def prepare_wagtail(venv: Path, workdir: Path, database_url: str) -> WagtailSite:
    """A migrated `wagtail start` project with an article page model; runs while
    the site prepares, as it needs nothing from it."""
    project = workdir / "wagtail"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="benchwag.settings.production",
        BENCH_SECRET_KEY=secrets.token_urlsafe(50),
    )
    if database_url:
        env["BENCH_DATABASE"] = postgres_settings(database_url)
    wagtail = [str(venv / "bin" / "wagtail"), "start", "benchwag", str(project)]
    run(wagtail, env, workdir)
    with (project / "home" / "models.py").open("a") as models:
        models.write(ARTICLE_PAGE_MODEL)
    template = project / "home" / "templates" / "home" / "article_page.html"
    template.write_text(ARTICLE_PAGE_TEMPLATE)
    (project / "benchwag" / "settings" / "local.py").write_text(WAGTAIL_LOCAL_SETTINGS)
    site = WagtailSite(venv, project, env)
    site_manage(site, "makemigrations", "home", "-v0")
    site_manage(site, "migrate", "--no-input", "-v0")
    site_manage(site, "collectstatic", "--no-input", "-v0")
    return site


def site_manage(site: WagtailSite, *arguments: str, **env: str) -> None:
    command = [str(site.venv / "bin" / "python"), "manage.py", *arguments]
    run(command, {**site.env, **env}, site.project)


def wagtail_page(site: WagtailSite, article_json: Path, slug: str) -> None:
    site_manage(
        site,
        "shell",
        "-c",
        CREATE_PAGE,
        BENCH_ARTICLE=str(article_json),
        BENCH_SLUG=slug,
    )


# -- Reports -------------------------------------------------------------------------


def format_row(label: str, values: list[str], width: int = 10) -> str:
    return f"{label:<20}" + "".join(f"{v:>{width}}" for v in values)


def speed_report(rounds: list[dict[str, float]], labels: dict[str, str]) -> None:
    count = len(rounds)
    report()
    report(format_row("req/s", [f"round {n + 1}" for n in range(count)]))
    for name, label in labels.items():
        values = [f"{r[name]:.1f}" if name in r else "n/a" for r in rounds]
        report(format_row(label, values))
    report()
    header = [f"round {n + 1}" for n in range(count)]
    report(format_row("ratio", [*header, "min", "median", "max", "goal", "met"]))
    for name, (top, bottom, goal) in RATIOS.items():
        ratios = [r[top] / r[bottom] for r in rounds if top in r and bottom in r]
        wanted = "-" if goal is None else f">= {goal:g}"
        if not ratios:
            report(format_row(name, ["n/a"] * (count + 3) + [wanted, "n/a"]))
            continue
        low, mid, high = spread(ratios)
        if goal is None:
            met = "-"
        else:
            met = "yes" if low >= goal else ("median" if mid >= goal else "no")
        cells = [f"{x:.2f}" for x in [*ratios, low, mid, high]]
        report(format_row(name, [*cells, wanted, met]))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sample_memory(server: Server, every: float, stop: threading.Event, out: list):
    """(seconds since start, {worker pid: RSS in KB}) every `every` seconds."""
    started = time.monotonic()
    while True:
        sample = {}
        for pid in server.worker_pids():
            try:
                sample[pid] = rss_kb(pid)
            except OSError:
                continue
        out.append((time.monotonic() - started, sample))
        if stop.wait(every):
            return


# -- Modes ------------------------------------------------------------------------


def with_derived(results: dict[str, float]) -> dict[str, float]:
    """A round's figures with those worked out from them."""
    if "cached" in results and "beacon" in results:
        served = 1 / (1 / results["cached"] + 1 / results["beacon"])
        return {**results, "view+beacon": served}
    return results


def speed_mode(args, targets: dict[str, Target]) -> int:
    labels = {name: targets[name].label for name in TARGETS if name in targets}
    report(
        f"warm-up {args.warmup:g} s per target, then {args.rounds} rounds of "
        f"{args.duration:g} s per target, interleaved"
    )
    for target in targets.values():
        target.measure(
            args, seconds=args.warmup, connections=args.connections, warm_up=True
        )
    rounds = []
    for number in range(1, args.rounds + 1):
        results = {}
        # Every other round the other way round: a target is not always the one
        # measured right after the same neighbour.
        order = list(labels) if number % 2 else list(reversed(labels))
        for name in order:
            result = targets[name].measure(
                args, seconds=args.duration, connections=args.connections
            )
            results[name] = result.rps
        report(
            f"round {number}: "
            + ", ".join(f"{name} {rps:.1f}/s" for name, rps in results.items())
        )
        rounds.append(with_derived(results))
    for target in targets.values():
        target.check()
    speed_report(rounds, {**labels, **DERIVED})
    return 0


def load_mode(args, target: Target, server: Server) -> int:
    report(f"warm-up {args.warmup:g} s at {args.load_connections} connections")
    target.measure(
        args, seconds=args.warmup, connections=args.load_connections, warm_up=True
    )
    command = wrk_command(
        target.url,
        target.headers,
        args,
        connections=args.load_connections,
        seconds=args.load_duration,
    )
    report(f"load: {shlex.join(command)}")
    stop, samples = threading.Event(), []
    sampler = threading.Thread(
        target=sample_memory, args=(server, args.sample_every, stop, samples)
    )
    sampler.start()
    try:
        result = wrk(command)
    finally:
        stop.set()
        sampler.join()
    report(result.output.rstrip())
    report()
    problems = target.problems(result)
    # wrk leaves requests that timed out out of its latencies.
    timed_out = result.socket_errors.get("timeout", 0)
    p99 = float("inf") if timed_out else result.latency_ms.get(99, float("inf"))
    first, last = samples[0][1], samples[-1][1]
    if set(first) != set(last):
        problems.append("workers were replaced during the run (crash or timeout)")
    totals = [sum(sample.values()) for _, sample in samples]
    growth = (totals[-1] - totals[0]) / totals[0]
    report(f"requests     {result.requests}, {result.rps:.1f}/s")
    report(
        f"errors       {result.errors} (non-2xx/3xx {result.non_2xx_3xx}, socket "
        f"{result.socket_errors or 'none'})"
    )
    report(
        "latency      "
        + ", ".join(f"p{p} {result.latency_ms.get(p, 0):.1f} ms" for p in (50, 90, 99))
    )
    report(f"worker RSS   MB, sampled every {args.sample_every:g} s ({len(samples)}x):")
    for pid in sorted(set(first) | set(last)):
        series = [sample[pid] for _, sample in samples if pid in sample]
        report(
            f"  worker {pid}: first {series[0] / 1024:.1f}, "
            f"last {series[-1] / 1024:.1f}, max {max(series) / 1024:.1f}"
        )
    report(
        f"  all workers: first {totals[0] / 1024:.1f}, last {totals[-1] / 1024:.1f}, "
        f"max {max(totals) / 1024:.1f} ({growth:+.1%})"
    )
    for problem in problems:
        report(f"PROBLEM: {problem}")
    report()
    goals = [
        ("0 errors", not problems),
        (f"p99 <= {args.p99_goal:g} ms", p99 <= args.p99_goal),
        (f"worker memory flat (last <= first + {FLAT:.0%})", growth <= FLAT),
    ]
    for goal, met in goals:
        report(f"goal {goal:<45} {'met' if met else 'NOT met'}")
    return 1 if problems else 0


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
    parser.add_argument("--slug", default=DEFAULT_SLUG, help="launch article")
    parser.add_argument("--no-wagtail", action="store_true")
    parser.add_argument(
        "--targets",
        help="comma-separated targets to measure (default: all), e.g. "
        "cached,uncounted,beacon",
    )
    parser.add_argument(
        "--wagtail-venv", type=Path, help="default: under ~/.cache/skincare-bench"
    )
    parser.add_argument("--load", action="store_true", help="the load test instead")
    parser.add_argument("--load-duration", type=int, default=180, help="s")
    parser.add_argument("--load-connections", type=int, default=64)
    parser.add_argument("--sample-every", type=float, default=10, help="RSS, s")
    parser.add_argument("--p99-goal", type=float, default=100, help="ms")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = parser.parse_args()
    if not Path(args.wrk).exists():
        raise BenchError("wrk not found (Debian: apt-get install wrk)")
    return args


def counting_checked(targets: dict[str, Target]) -> None:
    """The counting script is on the cached page and only there."""
    if COUNTING_SCRIPT not in targets["cached"].check().text():
        raise BenchError("the cached article has no counting script")
    if COUNTING_SCRIPT in targets["uncounted"].check().text():
        raise BenchError("the uncounted article has the counting script")


def counted_views(env: dict) -> int:
    """Views the beacons added (each measured beacon adds one), less those the
    running workers still hold (their last DJANGO_READERSHIP_FLUSH_SECONDS)."""
    total = (
        "from django.db.models import Sum\n"
        "from articles.models import DailyReadership\n"
        "print(DailyReadership.objects.aggregate(n=Sum('views'))['n'] or 0)\n"
    )
    manage = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", total]
    return int(run(manage, env, ROOT).strip().splitlines()[-1])


def beacon_target(server: Server, article_id: int, workdir: Path) -> Target:
    """The counting script's POST for the article, counted on every request."""
    body = (
        f'{{"article": {article_id}, "referrer_host": "www.google.com", '
        '"newsletter": false}'
    )
    script = workdir / "beacon.lua"
    script.write_text(BEACON_LUA.format(body=body))
    headers = {
        "Content-Type": "application/json",
        "Origin": f"http://127.0.0.1:{server.port}",
        "Sec-Fetch-Site": "same-origin",
        "User-Agent": BROWSER,
    }
    return Target(
        "beacon",
        "readership beacon",
        server,
        BEACON_PATH,
        headers,
        204,
        body=body,
        script=script,
    )


def conditional_headers(answer: Answer) -> dict[str, str]:
    """What a browser sends back to revalidate its copy of this answer."""
    if etag := answer.headers.get("etag"):
        return {"If-None-Match": etag}
    if last_modified := answer.headers.get("last-modified"):
        return {"If-Modified-Since": last_modified}
    return {}


def bench(args, workdir: Path, servers: Processes, drops: list) -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    site_database = wagtail_database = ""
    if database_url:
        site_database, drop = throwaway_postgres(database_url, "page_bench_site")
        drops.append(drop)
        if not args.load and not args.no_wagtail:
            wagtail_database, drop = throwaway_postgres(
                database_url, "page_bench_wagtail"
            )
            drops.append(drop)
    with ThreadPoolExecutor(max_workers=1) as pool:
        wagtail_site = None
        if not args.load and not args.no_wagtail:
            venv = wagtail_venv(args.wagtail_venv)
            wagtail_site = pool.submit(prepare_wagtail, venv, workdir, wagtail_database)
        started = time.monotonic()
        env = site_env(workdir, site_database)
        article = prepare_site(env, workdir, args.slug)
        report(
            f"site ready in {time.monotonic() - started:.0f} s: "
            f"{'PostgreSQL' if site_database else 'SQLite'}, article {args.slug!r}, "
            f"{len(article['body'])} characters of body"
        )
        path = f"/articles/{args.slug}/"
        python = Path(sys.executable)
        cached = gunicorn("cached", python, "skincare.wsgi", args.workers, workdir)
        servers.start(cached, env, ROOT)
        if not args.load:
            uncached = gunicorn(
                "uncached", python, "skincare.wsgi", args.workers, workdir
            )
            servers.start(uncached, {**env, "DJANGO_PAGE_CACHE": "0"}, ROOT)
            plain = gunicorn("plain", python, "skincare.wsgi", args.workers, workdir)
            plain_env = {**env, "DJANGO_PAGE_CACHE": "0", "BENCH_PLAIN_READS": "1"}
            servers.start(plain, plain_env, ROOT)
            uncounted = gunicorn(
                "uncounted", python, "skincare.wsgi", args.workers, workdir
            )
            servers.start(uncounted, {**env, "DJANGO_READERSHIP_COUNTING": "0"}, ROOT)
        for server in servers.started:
            servers.wait_answering(server, "/bench-ok/")
            switches = SWITCHES[server.name]
            report(f"{server.name}: {shlex.join(server.command)}{switches}")

        title = article["title"]
        targets = {
            "cached": Target("cached", "cached article", cached, path, GZIP, 200)
        }
        targets["cached"].marker = title
        if args.load:
            targets["cached"].check()
            return load_mode(args, targets["cached"], cached)

        targets["bare"] = Target(
            "bare", "bare view", uncached, "/bench-ok/", GZIP, 200, "ok"
        )
        targets["uncached"] = Target(
            "uncached", "uncached article", uncached, path, GZIP, 200, title
        )
        # The variant must be the one asked for: its bare view says so.
        if "plain reads" not in probe(plain.port, "/bench-ok/", {}).text():
            raise BenchError("the plain instance does not read through the ORM")
        targets["plain"] = Target(
            "plain", "uncached, plain reads", plain, path, GZIP, 200, title
        )
        targets["uncounted"] = Target(
            "uncounted", "cached, no counting", uncounted, path, GZIP, 200, title
        )
        targets["beacon"] = beacon_target(cached, article["id"], workdir)
        if conditional := conditional_headers(targets["cached"].check()):
            revalidate = {**GZIP, **conditional}
            targets["304"] = Target("304", "304 answer", cached, path, revalidate, 304)
        else:
            report("304: n/a (the article sends neither ETag nor Last-Modified)")

        if wagtail_site is not None:
            site = wagtail_site.result()
            wagtail_page(site, workdir / "article.json", args.slug)
            report(f"wagtail ready in {time.monotonic() - started:.0f} s")
            python = site.venv / "bin" / "python"
            wagtail = gunicorn(
                "wagtail", python, "benchwag.wsgi", args.workers, workdir
            )
            servers.start(wagtail, site.env, site.project)
            servers.wait_answering(wagtail, f"/{args.slug}/")
            report(f"wagtail: {shlex.join(wagtail.command)}")
            targets["wagtail"] = Target(
                "wagtail", "wagtail page", wagtail, f"/{args.slug}/", GZIP, 200
            )
            targets["wagtail"].marker = title

    revalidation_broken = False
    for name, target in list(targets.items()):
        try:
            answer = target.check()
        except BenchError as error:
            if name != "304":
                raise
            # The other figures still mean something; the exit status says it.
            report(f"PROBLEM: sent {target.headers}, not a 304: {error}")
            del targets[name]
            revalidation_broken = True
            continue
        html = len(answer.text()) if answer.body else 0
        report(
            f"{target.label:<21} {target.url}  {answer.status}, {target.size} "
            f"bytes on the wire, {html} characters of HTML"
        )
    sample = wrk_command(
        "URL", GZIP, args, connections=args.connections, seconds=args.duration
    )
    report(f"wrk: {shlex.join(sample)}  (warm-up: -d{args.warmup}s)")
    counting_checked(targets)
    if args.targets:
        wanted = set(args.targets.split(","))
        if unknown := wanted - set(TARGETS):
            raise BenchError(f"unknown targets: {', '.join(sorted(unknown))}")
        targets = {name: t for name, t in targets.items() if name in wanted}
    status = speed_mode(args, targets)
    report(f"views counted from the beacons: {counted_views(env)}")
    return status or int(revalidation_broken)


def main() -> int:
    args = arguments()
    report("command: " + shlex.join([sys.executable, *sys.argv]))
    # Ctrl-C, even where SIGINT came in ignored (a background job), and a plain
    # `kill` end the run the same way: servers stopped, files removed.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="skincare-page-speed-"))
    servers, drops = Processes(), []
    try:
        return bench(args, workdir, servers, drops)
    finally:
        servers.stop_all()
        for drop in drops:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        sys.stderr.write(f"page_speed: {error}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("page_speed: interrupted\n")
        sys.exit(130)
