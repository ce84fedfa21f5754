"""One issue to many confirmed subscribers through four workers on one PostgreSQL,
one of them killed mid-send: throughput, and nobody gets the issue twice.

It creates a throwaway database on the PostgreSQL server of DATABASE_URL (dropped
at the end), migrates it, loads --recipients confirmed subscribers in one INSERT
from generate_series, and starts four `manage.py db_worker` processes
(NEWSLETTER_WORKERS_PER_SEND=4) in production posture against an SMTP sink in a
process of its own that only writes down each recipient (no parsing: the sink
must not be what is measured). The issue is sent the way staff send it
(newsletter.issues.services.schedule_send); once --kill-at of the messages are
accepted, one worker's process group gets SIGKILL. Leases are short
(NEWSLETTER_CLAIM_LEASE_SECONDS=20, workers dead after 20 s) so the dead worker's
claim and task are recovered within the run.

Checks: the issue ends sent; no address received more than one message; every
delivery recorded sent was received; what is not sent is only the message the
killed worker may have had in flight (recorded "uncertain", never resent blindly:
newsletter/delivery/claims.py). Prints the fan-out time (deliveries created) and
messages a second from the first accepted message to the last.

Usage:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
  .venv/bin/python bench/big_send.py [--recipients 850000] [--kill-at 0.3]
"""

import argparse
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import (
    ROOT,
    BenchError,
    Process,
    Processes,
    free_port,
    production_env,
    run,
    throwaway_postgres,
)
from common import report as say

WORKERS = 4
PASSWORD = "big-send-pass-42"


def serve_sink(port: int, path: str, accepted, ready, stop) -> None:
    """An SMTP server that appends each recipient to `path`, one a line."""
    import asyncio
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    out = open(path, "w", buffering=1 << 20)  # noqa: SIM115 (closed below)

    class Writing:
        async def handle_DATA(self, server, session, envelope):
            for address in envelope.rcpt_tos:
                out.write(address + "\n")
            with accepted.get_lock():
                accepted.value += len(envelope.rcpt_tos)
            return "250 Message accepted for delivery"

    controller = Controller(Writing(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    out.close()
    asyncio.set_event_loop(None)


class Sink:
    def __init__(self, path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.port, self.path = free_port(), path
        self.accepted = context.Value("q", 0)
        self.ready, self.stop = context.Event(), context.Event()
        self.process = context.Process(
            target=serve_sink,
            args=(self.port, str(path), self.accepted, self.ready, self.stop),
        )

    def start(self) -> None:
        self.process.start()
        if not self.ready.wait(30):
            raise BenchError("The SMTP sink did not start.")

    def close(self) -> None:
        self.stop.set()
        self.process.join(30)

    def received(self) -> Counter:
        return Counter(self.path.read_text().split())


def load_subscribers(count: int) -> float:
    """`count` confirmed subscribers wanting every issue, in one statement."""
    from django.db import connection

    from newsletter.models import Subscriber

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Subscriber._meta.db_table} (email, first_name, status, "
            "consent_text, consent_version, consent_source, consent_at, "
            "lawful_basis, confirmed_at, left_how, frequency, advice_changes, "
            "created_at, updated_at) "
            "SELECT 'reader' || g || '@example.com', '', 'confirmed', 'I agree', "
            "'big-send', 'page', now(), '', now(), '', 'every_issue', true, now(), "
            "now() FROM generate_series(1, %s) AS g",
            [count],
        )
        cursor.execute(f"ANALYZE {Subscriber._meta.db_table}")
    return time.monotonic() - started


def approved_issue():
    from django.contrib.auth import get_user_model

    from articles.models import Author
    from newsletter.issues import review
    from newsletter.issues import services as issue_services
    from newsletter.models import Issue, Verdict

    token = secrets.token_hex(3)
    chief = get_user_model().objects.create_superuser(
        username="chief", email="chief@example.com", password=PASSWORD
    )
    issue = issue_services.save_issue(
        issue=Issue(
            subject=f"Sun care, gently {token}",
            slug=f"sun-care-gently-{token}",
            body="<h2>Hello</h2><p>" + "Reapply every two hours. " * 30 + "</p>",
        ),
        user=chief,
    )
    Author.objects.create(
        name="Dr Chief", slug=f"dr-chief-{token}", user=chief, credentials="MD"
    )
    issue_services.approve_issue(
        issue=issue,
        user=chief,
        verdict=Verdict.APPROVED,
        seen_hash=review.issue_hash(issue),
    )
    return issue, chief


def send(args, processes: Processes, workers: list[Process], sink: Sink) -> bool:
    from django.db.models import Max, Min
    from django.utils import timezone

    from newsletter.issues import services as issue_services
    from newsletter.models import Delivery, Issue

    issue, chief = approved_issue()
    clicked = timezone.now()
    started = time.monotonic()
    issue_services.schedule_send(issue=issue, user=chief)
    say(f"Send started ({args.recipients} recipients, {WORKERS} workers)")
    killed: Process | None = None
    deadline = started + args.recipients / 50 + 600
    last_said = 0.0
    while time.monotonic() < deadline:
        issue.refresh_from_db()
        if issue.status == Issue.Status.SENT:
            break
        for worker in workers:
            if worker is not killed and worker.process.poll() is not None:
                raise BenchError(f"{worker.name} exited by itself")
        done = sink.accepted.value
        if killed is None and done >= args.kill_at * args.recipients:
            killed = workers[1]
            os.killpg(killed.process.pid, signal.SIGKILL)
            killed.process.wait()
            say(f"  SIGKILL to {killed.name}'s process group after {done} messages")
        if time.monotonic() - last_said >= 15:
            last_said = time.monotonic()
            say(f"  ... {done} accepted, {time.monotonic() - started:.0f} s")
        time.sleep(0.5)
    took = time.monotonic() - started
    processes.started = [p for p in processes.started if p is not killed]

    ok = True

    def check(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        say(f"  [{'ok' if passed else 'FAILED'}] {text}")

    issue.refresh_from_db()
    say("")
    check(issue.status == Issue.Status.SENT, f"the issue is sent ({took:.0f} s)")
    check(killed is not None, "one worker was killed mid-send")
    fan_out = (issue.send_started_at - clicked).total_seconds()
    counts = issue.deliveries.counts()
    sink.close()
    received = sink.received()
    twice = sum(1 for n in received.values() if n > 1)
    sent = set(
        issue.deliveries.filter(status=Delivery.Status.SENT).values_list(
            "subscriber__email", flat=True
        )
    )
    uncertain = counts[Delivery.Status.UNCERTAIN]
    check(twice == 0, f"{twice} addresses received more than one message")
    check(
        sent <= set(received),
        f"every delivery recorded sent was received ({len(sent)} sent, "
        f"{len(received)} addresses received)",
    )
    check(
        len(set(received) - sent) <= uncertain <= 1,
        f"received but not recorded sent: {len(set(received) - sent)}; "
        f"uncertain (the killed worker's message in flight, not resent): {uncertain}",
    )
    check(
        counts[Delivery.Status.SENT] + uncertain == args.recipients,
        f"deliveries: { {k: v for k, v in counts.items() if v} }",
    )
    moments = issue.deliveries.filter(status=Delivery.Status.SENT).aggregate(
        first=Min("sent_at"), last=Max("sent_at")
    )
    span = (
        (moments["last"] - moments["first"]).total_seconds() if moments["last"] else 0.0
    )
    say(
        f"\n  from 'send' to the deliveries created (a worker taking the task, then "
        f"the fan-out): {fan_out:.1f} s"
        f"\n  sending, first message to last: {span:.1f} s, "
        f"{len(sent) / span if span else 0:.0f} messages a second with {WORKERS} "
        "workers (one killed on the way)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=850_000)
    parser.add_argument("--kill-at", type=float, default=0.3)
    parser.add_argument("--database", default="big_send")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL (PostgreSQL); see --help.")

    name = f"{args.database}_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="skincare-big-send-"))
    sink = Sink(workdir / "received.txt")
    database_url, drop_database = throwaway_postgres(server_url, name)
    env = production_env(
        workdir,
        database_url=database_url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(sink.port),
        NEWSLETTER_WORKERS_PER_SEND=str(WORKERS),
        NEWSLETTER_CLAIM_LEASE_SECONDS="20",
        DJANGO_WORKER_HEARTBEAT_SECONDS="5",
        DJANGO_WORKER_DEAD_AFTER_SECONDS="20",
        LOG_LEVEL="WARNING",
    )
    processes = Processes()
    passed = django_ready = False
    say(f"Throwaway database {name}; logs in {workdir}")
    try:
        run([sys.executable, "manage.py", "migrate", "--no-input"], env, ROOT)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "skincare.settings"
        import django

        django.setup()
        django_ready = True
        loaded = load_subscribers(args.recipients)
        say(f"Loaded {args.recipients} subscribers in {loaded:.1f} s")
        sink.start()
        workers = [
            processes.start(
                Process(
                    f"worker-{n}",
                    [sys.executable, "manage.py", "db_worker"],
                    workdir / f"worker-{n}.log",
                ),
                env,
            )
            for n in range(1, WORKERS + 1)
        ]
        passed = send(args, processes, workers, sink)
        say("\nAll checks passed." if passed else "\nA check FAILED.")
    finally:
        processes.stop_all()
        sink.close()
        if django_ready:
            from django.db import connections

            connections.close_all()
        drop_database()
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"Logs kept in {workdir}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.stderr.write(f"big_send: {error}\n")
        sys.exit(1)
