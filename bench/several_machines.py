"""Two web instances and two workers against one PostgreSQL and one Redis.

What "Running on several machines" in docs/operations.md promises, checked for real:

  a. an article published through instance A (its admin, over HTTP, signed in with
     password and authenticator code) is on instance B's pages at once, and gone
     from them at once when unpublished through A;
  b. a newsletter issue sent the way staff send it (the admin's "Send now" on A)
     reaches every confirmed subscriber exactly once, through both workers;
  c. with NEWSLETTER_RATE_PER_SECOND set, both workers together stay under it.

It creates a throwaway database on the PostgreSQL server of DATABASE_URL (dropped
at the end), migrates it, collects static files, and starts, in production posture
(no DJANGO_DEBUG): two gunicorn instances with 2 sync workers each on two ports, two
`manage.py db_worker` processes, and an SMTP sink (aiosmtpd) in this process that
records every recipient and when it was accepted. Redis keys get a prefix of their
own (DJANGO_CACHE_KEY_PREFIX) and are deleted at the end.

Usage:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  REDIS_URL=redis://127.0.0.1:6379/0 \\
  .venv/bin/python bench/several_machines.py [--recipients 10000] [--rate 200]

Exits with 1 when a check fails. --rate 0 sends without a limit (check c skipped).
"""

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, Request, build_opener

from common import (
    ROOT,
    BenchError,
    Process,
    Processes,
    free_port,
    gunicorn_command,
    production_env,
    run,
    throwaway_postgres,
)
from common import report as say

PASSWORD = "several-machines-pass-42"
# Each GET is repeated so that both of an instance's gunicorn workers answer it.
READS_PER_PAGE = 6


# The mail server -------------------------------------------------------------------


@dataclass
class Recorder:
    """An aiosmtpd handler keeping each accepted recipient and when its message
    started (MAIL FROM, time.time()): the moment the rate limit paces."""

    accepted: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.started = time.time()
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.accepted.extend(
                (address, envelope.started) for address in envelope.rcpt_tos
            )
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[tuple[str, float]]:
        with self.lock:
            return list(self.accepted)


# HTTP ------------------------------------------------------------------------------


class Browser:
    """One visitor of one instance, with its own cookies."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        body = None if data is None else urlencode(data).encode()
        request = Request(self.base + path, data=body)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode(), response.geturl()
        except HTTPError as error:
            return error.code, error.read().decode(errors="replace"), error.url

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def post(self, path: str, fields: dict) -> tuple[int, str, str]:
        return self.request(path, {"csrfmiddlewaretoken": self.csrf(), **fields})


# Checks ----------------------------------------------------------------------------


@dataclass
class Report:
    results: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, text: str) -> bool:
        self.results.append((ok, text))
        say(f"  [{'ok' if ok else 'FAILED'}] {text}")
        return ok

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.results)


def max_in_window(moments: list[float], width: float) -> int:
    """The most of the sorted `moments` that fall within any `width` (closed)."""
    most, first = 0, 0
    for last, moment in enumerate(moments):
        while moment - moments[first] > width:
            first += 1
        most = max(most, last - first + 1)
    return most


# The run ---------------------------------------------------------------------------


class Machines:
    """The site's processes (common.Processes), their logs in `workdir`."""

    def __init__(self, workdir: Path, env: dict) -> None:
        self.workdir, self.env = workdir, env
        self.processes = Processes()

    def manage(self, *args: str) -> None:
        run([sys.executable, "manage.py", *args], self.env, ROOT)

    def start(self, name: str, command: list[str], port: int = 0) -> Process:
        process = Process(name, command, self.workdir / f"{name}.log", port)
        return self.processes.start(process, self.env)

    def web(self, name: str, port: int) -> Process:
        command = gunicorn_command(Path(sys.executable), "skincare.wsgi", port, 2)
        process = self.start(name, command, port)
        self.processes.wait_answering(process, "/robots.txt")
        return process

    def worker(self, name: str) -> Process:
        return self.start(name, [sys.executable, "manage.py", "db_worker"])

    def workers(self) -> dict[int, str]:
        """Each worker's name by its process id."""
        return {
            started.process.pid: started.name
            for started in self.processes.started
            if started.name.startswith("worker")
        }

    def stop(self) -> None:
        self.processes.stop_all()


def sign_in(browser: Browser, username: str, device) -> None:
    """The admin's sign-in, then the authenticator code, as staff give them."""
    from django_otp.oath import TOTP

    browser.request("/admin/login/?next=/admin/")
    status, _, url = browser.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": PASSWORD, "next": "/admin/"},
    )
    if "/second-factor/verify/" not in url:
        raise SystemExit(f"Signing in did not ask for the code ({status} {url}).")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    status, _, url = browser.post(
        urlsplit(url).path + "?next=/admin/",
        {"token": f"{totp.token():0{device.digits}d}", "next": "/admin/"},
    )
    if not url.endswith("/admin/") or status != 200:
        raise SystemExit(f"The authenticator code was refused ({status} {url}).")


def reads(base: str, path: str) -> list[tuple[int, str]]:
    """READS_PER_PAGE anonymous GETs of one page, as readers would make them."""
    return [Browser(base).request(path)[:2] for _ in range(READS_PER_PAGE)]


def run_checks(args, machines: Machines, sink: Recorder, a: str, b: str) -> Report:
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from articles.editorial import revisions, workflow
    from articles.models import Article, Author, Topic
    from newsletter.issues import review
    from newsletter.issues import services as issue_services
    from newsletter.models import Delivery, Issue, Subscriber, Verdict
    from staff.two_factor import DEVICE_NAME

    report = Report()
    token = secrets.token_hex(3)

    # What staff set up earlier: an account with an authenticator app, a draft
    # article, the subscribers and an issue.
    chief = get_user_model().objects.create_superuser(
        username="chief", email="chief@example.com", password=PASSWORD
    )
    device = TOTPDevice.objects.create(user=chief, name=DEVICE_NAME, confirmed=True)
    topic = Topic.objects.create(name=f"Sun care {token}", slug=f"sun-care-{token}")
    author = Author.objects.create(name="Ada Field", slug=f"ada-field-{token}")
    title = f"Sunscreen under make-up {token}"
    article = Article(
        title=title,
        slug=f"sunscreen-under-make-up-{token}",
        summary="How to layer sunscreen under make-up so that it still protects, "
        "step by step, with what to look for on the label.",
        body="<h2>Layering</h2><p>Apply sunscreen first and let it set.</p>",
        topic=topic,
        author=author,
        status=Article.Status.DRAFT,
    )
    revision = workflow.save_draft(
        article=article, data=revisions.snapshot(article), user=chief
    )
    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"reader{i}@example.com",
                first_name=f"Reader {i}",
                status=Subscriber.Status.CONFIRMED,
                confirmed_at=timezone.now(),
                consent_text="I agree",
                consent_version="several-machines",
                consent_source=Subscriber.Source.PAGE,
            )
            for i in range(args.recipients)
        ),
        batch_size=2000,
    )
    issue = issue_services.save_issue(
        issue=Issue(
            subject=f"Sun care, gently {token}",
            slug=f"sun-care-gently-{token}",
            body="<h2>Hello</h2><p>" + "Reapply every two hours. " * 30 + "</p>",
        ),
        user=chief,
    )
    # Sent only once a medical reviewer approved its text (here the superuser,
    # with the author profile and credentials an approval records).
    Author.objects.create(
        name="Dr Chief", slug=f"dr-chief-{token}", user=chief, credentials="MD"
    )
    issue_services.approve_issue(
        issue=issue,
        user=chief,
        verdict=Verdict.APPROVED,
        seen_hash=review.issue_hash(issue),
    )

    editor = Browser(a)
    sign_in(editor, "chief", device)
    pages = ["/", "/articles/", f"/topics/{topic.slug}/"]
    detail = article.get_absolute_url()

    say("\na. Publishing through A, reading through B")
    # Readers on B first, so whatever B keeps (per process or shared) holds the
    # article's absence before it is published.
    for path in [*pages, detail]:
        reads(b, path)
    status, page, _ = editor.post(
        f"/admin/articles/article/{article.pk}/workflow/publish/",
        {"revision": revision.number, "override_reason": "", "at": ""},
    )
    answered = time.monotonic()
    first_read = Browser(b).request(detail)[:2]
    first_after = time.monotonic() - answered
    report.check(
        "Published: readers see this version now." in page,
        f"A's admin published the article (HTTP {status})",
    )
    seen = {path: reads(b, path) for path in [*pages, detail]}
    seen[detail].insert(0, first_read)
    report.check(
        all(code == 200 and title in body for code, body in seen[detail]),
        f"B serves the article page at once: the first read, answered "
        f"{first_after * 1000:.0f} ms after A's, and {READS_PER_PAGE} more",
    )
    for path in pages:
        report.check(
            all(code == 200 and title in body for code, body in seen[path]),
            f"B lists it at once on {path}",
        )

    status, page, _ = editor.post(
        f"/admin/articles/article/{article.pk}/workflow/unpublish/", {"note": ""}
    )
    report.check(
        "Unpublished: readers no longer see the article." in page,
        f"A's admin unpublished the article (HTTP {status})",
    )
    seen = {path: reads(b, path) for path in [*pages, detail]}
    report.check(
        all(code == 404 for code, _ in seen[detail]),
        "B answers 404 for the article page at once",
    )
    for path in pages:
        report.check(
            all(title not in body for _, body in seen[path]),
            f"B no longer lists it on {path}",
        )

    say(f"\nb. Sending to {args.recipients} subscribers through two workers")
    send_path = f"/admin/newsletter/issue/{issue.pk}/send/"
    editor.request(send_path)
    started = time.monotonic()
    status, page, _ = editor.post(send_path, {})
    report.check(
        f"Sending to {args.recipients} confirmed subscriber(s) has started." in page,
        f"A's admin started the send (HTTP {status})",
    )
    expected = args.recipients / args.rate if args.rate else args.recipients / 200
    deadline = started + 2 * expected + 120
    last_said = 0.0
    while True:
        issue.refresh_from_db()
        if issue.status == Issue.Status.SENT or time.monotonic() > deadline:
            break
        machines.processes.check_running()
        if time.monotonic() - last_said >= 10:
            last_said = time.monotonic()
            say(f"  ... {len(sink.snapshot())} accepted by the mail server")
        time.sleep(0.5)
    took = time.monotonic() - started
    report.check(issue.status == Issue.Status.SENT, f"the issue is sent ({took:.1f} s)")

    accepted = sink.snapshot()
    received = Counter(address for address, _ in accepted)
    everyone = set(Subscriber.objects.confirmed().values_list("email", flat=True))
    report.check(
        len(accepted) == args.recipients,
        f"the mail server accepted {len(accepted)} messages",
    )
    report.check(
        set(received) == everyone,
        f"{len(set(received) & everyone)} of {len(everyone)} subscribers got one",
    )
    twice = sum(1 for count in received.values() if count > 1)
    report.check(twice == 0, f"{twice} got more than one")
    counts = issue.deliveries.counts()
    report.check(
        counts[Delivery.Status.SENT] == args.recipients,
        f"deliveries recorded sent: {counts[Delivery.Status.SENT]} "
        f"(others: { {k: v for k, v in counts.items() if v and k != 'sent'} })",
    )
    workers = machines.workers()
    shares = Counter()
    for row in (
        issue.deliveries.filter(status=Delivery.Status.SENT)
        .values("claim__worker")
        .annotate(n=Count("pk"))
    ):
        pid = int(row["claim__worker"].rsplit(":", 2)[1])
        shares[workers.get(pid, f"pid {pid}")] += row["n"]
    report.check(
        len(shares) == 2 and all(name in workers.values() for name in shares),
        "both workers sent part: "
        + ", ".join(f"{name} {n}" for name, n in sorted(shares.items())),
    )

    moments = sorted(moment for _, moment in accepted)
    span = moments[-1] - moments[0] if len(moments) > 1 else 0.0
    per_second = Counter(int(moment) for moment in moments)
    busiest = max(per_second.values(), default=0)
    sliding = max_in_window(moments, 1.0)
    overall = (len(moments) - 1) / span if span else 0.0
    say(
        f"\nc. The sending rate (limit: {args.rate or 'none'} a second; "
        "each message counted when its MAIL FROM reached the mail server)"
    )
    say(
        f"  first to last message: {span:.1f} s, {overall:.1f} messages a second; "
        f"busiest clock second: {busiest}"
    )
    if args.rate:
        near = sum(1 for n in per_second.values() if n >= 0.95 * args.rate)
        say(
            f"  clock seconds at 95% of the limit or more: {near} of "
            f"{len(per_second)}"
            + (
                ""
                if busiest >= 0.9 * args.rate
                else " -- the workers never came near the limit on this machine, so "
                "this run does not show the limit holding them back: try a lower "
                "--rate"
            )
        )
        report.check(
            overall <= args.rate,
            f"overall rate {overall:.1f}/s is within {args.rate}/s",
        )
        # Workers start messages 1/rate apart; one started just before a second
        # ends can reach the server just after it, so a clock second of arrivals
        # may hold one more than the slots it had.
        report.check(
            busiest <= args.rate + 1,
            f"no clock second holds more than {args.rate} messages, give or take "
            f"one delivered late (busiest: {busiest})",
        )
        # Not a check: the limit spaces the moments messages start 1/rate apart by
        # the database's clock, so a closed second placed anywhere may hold rate + 1
        # of them, and the way to the server (scheduling on a busy machine) can
        # bunch two a little closer still.
        say(
            f"  busiest 1 s window placed anywhere: {sliding} ({args.rate + 1} "
            "would be the slots alone; more is delay on the way to the server)"
        )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200)
    args = parser.parse_args()
    if args.rate == int(args.rate):
        args.rate = int(args.rate)

    server_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and REDIS_URL; see --help.")

    import redis
    from aiosmtpd.controller import Controller

    run_id = f"machines_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="skincare-machines-"))
    sink = Recorder()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    port_a, port_b = free_port(), free_port()
    database_url, drop_database = throwaway_postgres(server_url, run_id)
    env = production_env(
        workdir,
        database_url=database_url,
        REDIS_URL=redis_url,
        DJANGO_CACHE_KEY_PREFIX=run_id,
        SITE_URL=f"http://127.0.0.1:{port_a}",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(controller.port),
        NEWSLETTER_RATE_PER_SECOND=str(args.rate),
        NEWSLETTER_WORKERS_PER_SEND="2",
        LOG_LEVEL="WARNING",
    )
    machines = Machines(workdir, env)
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    say(f"Throwaway database {run_id}; logs in {workdir}")
    passed = django_ready = False
    try:
        machines.manage("migrate", "--no-input")
        machines.manage("collectstatic", "--no-input")
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "skincare.settings"
        import django

        django.setup()
        django_ready = True
        controller.start()
        machines.web("web-a", port_a)
        machines.web("web-b", port_b)
        machines.worker("worker-1")
        machines.worker("worker-2")
        say(f"Instance A {a}, instance B {b} (gunicorn, 2 sync workers each)")
        say(f"Two db_worker processes; mail server 127.0.0.1:{controller.port}")
        report = run_checks(args, machines, sink, a, b)
        passed = report.passed
        failed = sum(1 for ok, _ in report.results if not ok)
        say(
            f"\n{len(report.results) - failed} checks passed, {failed} failed."
            if failed
            else f"\nAll {len(report.results)} checks passed."
        )
    finally:
        machines.stop()
        controller.stop()
        if django_ready:
            from django.db import connections

            connections.close_all()
        drop_database()
        cache = redis.Redis.from_url(redis_url)
        for key in cache.scan_iter(match=f"{run_id}:*"):
            cache.delete(key)
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"Logs kept in {workdir}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.stderr.write(f"several_machines: {error}\n")
        sys.exit(1)
