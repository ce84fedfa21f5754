"""Admin lists over big tables: the subscriber list (plain, searched, filtered,
sorted by each column) and the article list (plain and searched), timed with the
test client, median of --runs after a warm-up: the whole request, the part of it
spent in SQL, and the queries each page ran.

Loads --subscribers subscribers (with 2.1 events each) in one INSERT ... SELECT
each (generate_series on PostgreSQL, a recursive count on SQLite), and --articles
articles (bulk_create, then one search index rebuild), then ANALYZE.

Usage: .venv/bin/python bench/admin_lists.py [--subscribers 1000000]
       [--articles 20000] [--runs 5]
With DATABASE_URL set it uses that PostgreSQL server (a throwaway database,
<name>_admin_lists); otherwise a temporary SQLite file. The issue's ten-year
scale is the default; SQLite's goal is at a tenth of it (--subscribers 100000
--articles 2000).
"""

import argparse
import random
import statistics
import time

from common import bench_database, report

FIRST_NAMES = ["Ada", "Grace", "Mary", "Hedy", "Radia", "Katherine", "", ""]
DOMAINS = ["gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com"]
# Of every hundred: the status's share (the rest pending).
STATUSES = [("confirmed", 70), ("unsubscribed", 15), ("bounced", 4), ("complained", 1)]
WORDS = str.split(
    "skin care cream serum moisturiser barrier dry oily sensitive face daily gentle "
    "cleanser acid routine morning evening night water oil texture redness irritation "
    "hydration sunscreen protection layer apply use week months results dermatologist "
    "treatment product ingredient concentration percent patch test pores acne spots "
    "scars marks pigment tone glow calm soothe repair lipids ceramides niacinamide "
    "retinol retinoid exfoliate exfoliation peel mask toner essence lotion balm"
)
RARE_WORD = "lichenification"  # in the body of one article in a thousand


def subscriber_sql(vendor: str, count: int) -> tuple[str, str]:
    """INSERT ... SELECT of `count` subscribers, then of their events: one
    signed_up per subscriber, a confirmed for the confirmed ones and a left event
    for those who left (about 2.1 each, the issue's mix)."""
    if vendor == "postgresql":
        rows = f"generate_series(1, {count}) AS i"
        ago = f"now() - (({count} - i) * interval '5 minutes')"  # ten years at 1M

        def after(moment: str, minutes: int) -> str:
            return f"{moment} + interval '{minutes} minutes'"

        domain = f"(ARRAY{DOMAINS!r})[1 + i % {len(DOMAINS)}]"
        first = f"(ARRAY{FIRST_NAMES!r})[1 + i % {len(FIRST_NAMES)}]"
        true = "true"
    else:
        rows = (
            f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            f"WHERE i < {count}) SELECT i FROM n)"
        )
        minutes = f"'-' || (({count} - i) * 50) || ' minutes'"  # ten years at 100k
        ago = f"strftime('%Y-%m-%d %H:%M:%f', 'now', {minutes})"

        def after(moment: str, minutes: int) -> str:
            return f"strftime('%Y-%m-%d %H:%M:%f', {moment}, '+{minutes} minutes')"

        def pick(values: list[str]) -> str:
            cases = " ".join(f"WHEN {n} THEN '{v}'" for n, v in enumerate(values))
            return f"(CASE i % {len(values)} {cases} END)"

        domain, first, true = pick(DOMAINS), pick(FIRST_NAMES), "1"
    status_cases, upto = [], 0
    for status, share in STATUSES:
        upto += share
        status_cases.append(f"WHEN i % 100 < {upto} THEN '{status}'")
    status = f"(CASE {' '.join(status_cases)} ELSE 'pending' END)"
    left = f"(i % 100 >= 70 AND i % 100 < {upto})"
    confirmed = f"(i % 100 < {upto})"
    subscribers = (
        "INSERT INTO newsletter_subscriber (email, first_name, status, consent_text, "
        "consent_version, consent_source, consent_at, lawful_basis, confirmed_at, "
        "left_at, left_how, created_at, updated_at, frequency, advice_changes) "
        f"SELECT 'reader' || i || '@' || {domain}, {first}, {status}, "
        "'Yes, send me the newsletter.', '2016-01', "
        "CASE WHEN i % 3 = 0 THEN 'page' ELSE 'footer' END, "
        f"{ago}, '', CASE WHEN {confirmed} THEN {after(ago, 30)} END, "
        f"CASE WHEN {left} THEN {after(ago, 60 * 24 * 200)} END, "
        f"CASE WHEN {left} THEN 'link' ELSE '' END, {ago}, {ago}, 'every_issue', "
        f"{true} FROM {rows}"
    )
    events = (
        "INSERT INTO newsletter_subscriberevent (subscriber_id, kind, at, detail) "
        "SELECT s.id, k.kind, s.created_at, '' FROM newsletter_subscriber s "
        "JOIN (SELECT 'signed_up' AS kind UNION ALL SELECT 'confirmed' "
        "UNION ALL SELECT 'unsubscribed') k ON k.kind = 'signed_up' "
        "OR (k.kind = 'confirmed' AND s.confirmed_at IS NOT NULL) "
        "OR (k.kind = 'unsubscribed' AND s.left_at IS NOT NULL)"
    )
    return subscribers, events


def load_subscribers(count: int) -> None:
    from django.db import connection

    subscribers, events = subscriber_sql(connection.vendor, count)
    with connection.cursor() as cursor:
        cursor.execute(subscribers)
        cursor.execute(events)


def load_articles(count: int) -> None:
    from django.utils import timezone

    from articles.models import Article
    from articles.search import engine
    from tests.factories import make_author, make_topic

    rng = random.Random(21)
    topic, author = make_topic(), make_author()
    now = timezone.now()
    batch = []
    for n in range(count):
        paragraphs = [
            " ".join(rng.choices(WORDS, k=70)).capitalize() + "." for _ in range(6)
        ]
        if n % 1000 == 0:
            paragraphs[3] += f" {RARE_WORD.capitalize()} is rare."
        batch.append(
            Article(
                title=f"{' '.join(rng.choices(WORDS, k=5)).capitalize()} {n}",
                slug=f"article-{n}",
                summary=" ".join(rng.choices(WORDS, k=20)).capitalize() + ".",
                body="".join(f"<p>{p}</p>" for p in paragraphs),
                status=Article.Status.PUBLISHED,
                published_at=now - timezone.timedelta(hours=4 * (count - n)),
                topic=topic,
                author=author,
            )
        )
    Article.objects.bulk_create(batch, batch_size=1000)
    engine.rebuild()


def timed(client, url: str, params: dict, runs: int) -> tuple[float, float, int]:
    """Median milliseconds of `runs` GETs after a warm-up, the median of the
    milliseconds their queries took (which the load of a shared machine moves
    less than the rest), and the queries one ran."""
    from django.db import connection

    ran: list[float] = []

    def count(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ran.append(time.perf_counter() - started)

    with connection.execute_wrapper(count):
        response = client.get(url, params)
        assert response.status_code == 200, (url, params, response.status_code)
        queries = len(ran)
        times, in_queries = [], []
        for _ in range(runs):
            ran.clear()
            started = time.perf_counter()
            client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
            in_queries.append(sum(ran) * 1000)
    return statistics.median(times), statistics.median(in_queries), queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with bench_database("{database}_admin_lists", DJANGO_STAFF_TWO_FACTOR="0"):
        from django.db import connection
        from django.test.utils import override_settings
        from django.urls import reverse

        from tests.conftest import VerifiedClient
        from tests.factories import make_staff

        override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {
                    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                },
            },
        ).enable()
        started = time.perf_counter()
        load_subscribers(args.subscribers)
        load_articles(args.articles)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        report(
            f"{connection.vendor}: {args.subscribers:,} subscribers, "
            f"{args.articles:,} articles loaded in "
            f"{time.perf_counter() - started:.0f} s"
        )
        client = VerifiedClient()
        client.force_login(make_staff(username="bench-owner"))
        subscribers = reverse("admin:newsletter_subscriber_changelist")
        articles = reverse("admin:articles_article_changelist")
        email = f"reader{args.subscribers // 2}@gmail.com"
        page = max(1, min(50, args.subscribers // 200))
        pages = [
            ("subscribers", subscribers, {}),
            (f"subscribers, page {page}", subscribers, {"p": str(page)}),
            ("subscribers, exact email", subscribers, {"q": email}),
            ("subscribers, email prefix", subscribers, {"q": email[:9]}),
            ("subscribers, contains", subscribers, {"q": "@yahoo"}),
            ("subscribers, contains, none", subscribers, {"q": "@nobody-here"}),
            ("subscribers, first name", subscribers, {"q": "Hedy"}),
            ("subscribers, complained", subscribers, {"status__exact": "complained"}),
            ("subscribers, confirmed", subscribers, {"status__exact": "confirmed"}),
            # By email, first name, status, source, consented, confirmed (the
            # list ignores a column it does not sort by: its own order then).
            *[
                (f"subscribers, sorted {order}", subscribers, {"o": order})
                for order in ["1", "-1", "2", "3", "4", "5", "-5", "6", "-6"]
            ],
            ("articles", articles, {}),
            ("articles, searched", articles, {"q": "retinol"}),
            ("articles, searched rare", articles, {"q": RARE_WORD}),
        ]
        report(f"{'page':<36} {'median ms':>10} {'in SQL':>8} {'queries':>8}")
        for name, url, params in pages:
            median, in_sql, queries = timed(client, url, params, args.runs)
            report(f"{name:<36} {median:>10.1f} {in_sql:>8.1f} {queries:>8}")


if __name__ == "__main__":
    main()
