"""Newsletter send throughput against a loopback SMTP sink, beside the physical limit.

Runs, in one process and against the same aiosmtpd sink:
  1. our sender (claims, rendering, personal links, per-recipient records) sending
     an issue to N confirmed subscribers, and
  2. a bare smtplib loop sending the same N messages, built beforehand, over one
     connection: the most this sink and machine can take.

With --digest the issue is a digest trimmed to each reader: readers spread over
four topic sets (one topic, another, two, none), three articles and a "What
changed" correction, so each batch renders a version per topic set.

With --dkim it measures instead what DKIM signing costs a send: ROUNDS rounds
(interleaved, every other one in the other order), each sending an issue to the
N subscribers unsigned (Django's SMTP backend) and another one signed
(core.dkim_signing.EmailBackend, a new RSA-2048 key); prints msg/s per round and
signed / unsigned with min/median/max against the goal (>= 0.9).

Usage: .venv/bin/python bench/newsletter_throughput.py [--count 10000] [--batch 500]
       [--digest]
       .venv/bin/python bench/newsletter_throughput.py --dkim [--rounds 3]
       [--count 2000]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
test_<name>_throughput_bench); otherwise a temporary SQLite file.
"""

import argparse
import multiprocessing
import smtplib
import time

from common import bench_database, free_port, report, spread

# Signed sending must keep this share of unsigned sending's rate.
DKIM_GOAL = 0.9


def serve_sink(port: int, accepted, ready, stop) -> None:
    """A counting SMTP sink in its own process, so it never waits for our GIL."""
    import asyncio

    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            with accepted.get_lock():
                accepted.value += len(envelope.rcpt_tos)
            return "250 Message accepted for delivery"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    asyncio.set_event_loop(None)


class Sink:
    def __init__(self) -> None:
        # Spawned, not forked: a forked child would share the open database files.
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.accepted = context.Value("q", 0)
        self.ready, self.stop = context.Event(), context.Event()
        self.process = context.Process(
            target=serve_sink, args=(self.port, self.accepted, self.ready, self.stop)
        )

    def __enter__(self) -> "Sink":
        self.process.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.process.join(10)

    def count(self) -> int:
        return self.accepted.value


def make_digest(issue) -> None:
    """Make `issue` a digest of three topics' articles and a correction, its
    readers choosing one topic, another, two, or none (every fourth each)."""
    # Imported once Django is set up (bench_database), as in main().
    from articles.models import Correction
    from newsletter.models import Issue, IssueArticle, Subscriber
    from tests.factories import make_article, make_topic

    topics = [make_topic(name=name) for name in ("Acne", "Eczema", "Sun care")]
    articles = [make_article(topic=topic) for topic in topics]
    for position, article in enumerate(articles, start=1):
        IssueArticle.objects.create(issue=issue, article=article, position=position)
    issue.corrections.set(
        [
            Correction.objects.create(
                article=articles[2],
                text="We now advise SPF 30 or more, not SPF 15.",
                changes_advice=True,
            )
        ]
    )
    issue.kind = Issue.Kind.DIGEST
    issue.save()
    issue.topics.set(topics)
    sets = [[topics[0]], [topics[1]], [topics[0], topics[2]], []]
    Subscriber.objects.update(frequency=Subscriber.Frequency.MONTHLY_DIGEST)
    readers = Subscriber.objects.order_by("pk").values_list("pk", flat=True)
    Subscriber.topics.through.objects.bulk_create(
        (
            Subscriber.topics.through(subscriber_id=pk, topic_id=topic.pk)
            for n, pk in enumerate(readers)
            for topic in sets[n % 4]
        ),
        batch_size=2000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--digest",
        action="store_true",
        help="send a digest trimmed to each reader's topics instead of an issue",
    )
    parser.add_argument(
        "--dkim",
        action="store_true",
        help="signed against unsigned sending, in interleaved rounds",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --dkim")
    args = parser.parse_args()
    if args.dkim:
        dkim_mode(args)
        return

    batch = {"NEWSLETTER_BATCH_SIZE": str(args.batch)}
    with bench_database("test_{database}_throughput_bench", **batch):
        from django.conf import settings
        from django.db import connection
        from django.utils import timezone

        from newsletter import emails
        from newsletter.delivery import issues
        from newsletter.models import Issue, Subscriber
        from tests.factories import approve_issue

        add_readers(args.count)
        issue = Issue.objects.create(
            subject="Winter skin, gently",
            slug="winter-skin",
            body="<h2>Hello</h2><p>" + "Moisturise twice a day. " * 40 + "</p>",
            status=Issue.Status.SCHEDULED,
            scheduled_at=timezone.now(),
        )
        if args.digest:
            make_digest(issue)
        # A send starts only with a medical reviewer's approval of its text.
        approve_issue(issue)
        # The sink only counts, as a mail server's queue would; parsing each
        # message would make the sink, not the sender, the thing measured.
        with Sink() as sink:
            settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
            settings.NEWSLETTER_RATE_PER_SECOND = 0

            started = time.perf_counter()
            issues.start_send(issue_id=issue.pk)
            deliveries_created = time.perf_counter() - started
            result = issues.run(issue_id=issue.pk)
            ours = time.perf_counter() - started
            assert result.outcomes == {"sent": args.count}, result.outcomes
            assert sink.count() == args.count

            rendered = emails.rendered_issue(Issue.objects.get(pk=issue.pk))
            prepared = [
                (s.email, emails.issue_message(rendered=rendered, subscriber=s))
                for s in Subscriber.objects.order_by("pk")
            ]
            payloads = [
                (to, m.from_email, m.message().as_bytes(linesep="\r\n"))
                for to, m in prepared
            ]
            smtp = smtplib.SMTP("127.0.0.1", sink.port)
            started = time.perf_counter()
            for to, sender, payload in payloads:
                smtp.sendmail(sender, [to], payload)
            bare = time.perf_counter() - started
            smtp.quit()
            assert sink.count() == 2 * args.count
        size = sum(len(p) for _, _, p in payloads) / len(payloads)
        vendor = connection.vendor

    ours_rate, bare_rate = args.count / ours, args.count / bare
    report(
        f"{'digest trimmed per reader' if args.digest else 'issue'}; "
        f"database: {vendor}; recipients: {args.count}; batch: {args.batch}; "
        f"average message: {size / 1024:.1f} KiB"
    )
    report(f"our sender (start + send + record): {ours:7.2f} s  {ours_rate:8.0f} msg/s")
    report(f"  of which creating the deliveries: {deliveries_created:.2f} s")
    report(
        f"bare smtplib loop (prebuilt):        {bare:7.2f} s  {bare_rate:8.0f} msg/s"
    )
    report(f"ratio: {ours_rate / bare_rate:.2f} of the bare loop")


def dkim_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def add_readers(count: int) -> None:
    """`count` confirmed subscribers, in bulk (inside bench_database)."""
    from django.utils import timezone

    from newsletter.models import Subscriber

    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"reader{i}@example.com",
                first_name=f"Reader {i}",
                status=Subscriber.Status.CONFIRMED,
                confirmed_at=timezone.now(),
                consent_text="I agree",
                consent_version="bench",
                consent_source=Subscriber.Source.PAGE,
            )
            for i in range(count)
        ),
        batch_size=2000,
    )


def dkim_mode(args) -> None:
    """Unsigned and signed sends of the same issue, side by side."""
    batch = {"NEWSLETTER_BATCH_SIZE": str(args.batch)}
    with bench_database("test_{database}_throughput_bench", **batch):
        from django.conf import settings
        from django.db import connection
        from django.utils import timezone

        from newsletter.delivery import issues
        from newsletter.models import Issue
        from tests.factories import approve_issue

        add_readers(args.count)
        settings.DKIM_PRIVATE_KEY_FILE = ""
        settings.DKIM_PRIVATE_KEY = dkim_key_pem()
        settings.DKIM_SELECTOR = "bench"
        settings.DKIM_DOMAIN = ""
        backends = {
            "unsigned": "django.core.mail.backends.smtp.EmailBackend",
            "signed": "core.dkim_signing.EmailBackend",
        }

        def send(name: str, number: int) -> float:
            """One issue to every subscriber with that backend: msg/s."""
            issue = Issue.objects.create(
                subject="Winter skin, gently",
                slug=f"winter-skin-{name}-{number}",
                body="<h2>Hello</h2><p>" + "Moisturise twice a day. " * 40 + "</p>",
                status=Issue.Status.SCHEDULED,
                scheduled_at=timezone.now(),
            )
            approve_issue(issue)
            settings.EMAIL_BACKEND = backends[name]
            before = sink.count()
            started = time.perf_counter()
            issues.start_send(issue_id=issue.pk)
            result = issues.run(issue_id=issue.pk)
            took = time.perf_counter() - started
            assert result.outcomes == {"sent": args.count}, result.outcomes
            assert sink.count() - before == args.count
            return args.count / took

        with Sink() as sink:
            settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
            settings.NEWSLETTER_RATE_PER_SECOND = 0
            # A warm-up of each: imports, compiled templates, the key loaded.
            for name in backends:
                send(name, 0)
            rounds = []
            for number in range(1, args.rounds + 1):
                order = list(backends) if number % 2 else list(reversed(backends))
                rates = {name: send(name, number) for name in order}
                figures = (f"{name} {rate:.0f} msg/s" for name, rate in rates.items())
                report(f"round {number}: " + ", ".join(figures))
                rounds.append(rates)
        vendor = connection.vendor

    report(
        f"issue; database: {vendor}; recipients: {args.count} per send; "
        f"batch: {args.batch}; signing: rsa-sha256, 2048-bit key, relaxed/relaxed"
    )
    for name in backends:
        low, mid, high = spread([r[name] for r in rounds])
        report(f"{name:<9} msg/s  min {low:7.0f}  median {mid:7.0f}  max {high:7.0f}")
    ratios = [r["signed"] / r["unsigned"] for r in rounds]
    low, mid, high = spread(ratios)
    met = "yes" if low >= DKIM_GOAL else ("median" if mid >= DKIM_GOAL else "no")
    report(
        "signed / unsigned  "
        + "  ".join(f"{ratio:.2f}" for ratio in ratios)
        + f"  min {low:.2f}  median {mid:.2f}  max {high:.2f}"
        + f"  goal >= {DKIM_GOAL:g}  met: {met}"
    )


if __name__ == "__main__":
    main()
