"""Search latency: articles.search.search() beside a plain icontains scan.

Generates N synthetic articles (bulk_create, then one bulk index) with a skincare
vocabulary in a Zipf-like mix and a few rare words, then times, for a rare word,
a common word and a two-word query: search() (synonyms, count, one ranked and
highlighted page, the page's articles) and the same first page and count by
Article.objects.published() with title/summary/body icontains.

Usage: .venv/bin/python bench/search_latency.py [--count 100000] [--runs 50]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
test_search_bench); otherwise a temporary SQLite file.
"""

import argparse
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMON = str.split(
    "skin care cream serum moisturiser barrier dry oily sensitive face daily gentle "
    "cleanser acid routine morning evening night water oil texture redness irritation "
    "hydration sunscreen protection layer apply use week months results dermatologist "
    "treatment product ingredient concentration percent patch test pores acne spots "
    "scars marks pigment tone glow calm soothe repair lipids ceramides niacinamide "
    "retinol retinoid exfoliate exfoliation peel mask toner essence lotion balm "
    "fragrance alcohol allergy eczema rosacea psoriasis keratosis pilaris bumps rough "
    "smooth soft itchy flaky tight burning stinging warm cold climate winter summer "
    "humidity sweat shower bath towel cotton fabric diet sleep stress hormones age "
    "collagen elastin wrinkles lines firmness vitamin antioxidant zinc sulfur clay "
    "charcoal aloe honey oats shea squalane glycerin hyaluronic urea lactic salicylic "
    "glycolic mandelic azelaic benzoyl peroxide adapalene tretinoin prescription "
    "doctor clinic study evidence trial review people patients results improvement"
)
FILLER = str.split(
    "the a of and to in is for with that on as it be this are or can your you more "
    "most some many often may also but not when if after before each over than"
)
RARE = ["xerodermia", "pityriasis", "ichthyosis", "lichenification", "milia"]


SYLLABLES = str.split("ba co da fe gi ho ju ka le mi no pa qui ra se ti vo wu xa ze")


def vocabulary(size: int = 5000) -> list[str]:
    """Words by frequency rank (Zipf): the real words spread over the ranks, from
    'skin' (most common) down; made-up three-syllable words fill the rest."""
    made_up = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
    words = made_up[: size - len(COMMON)]
    step = size // len(COMMON)
    for index, word in enumerate(COMMON):
        words.insert(index * step, word)
    return words


VOCABULARY = vocabulary()


def sentence(rng: random.Random, cumulative: list[float], words: int) -> str:
    picked = rng.choices(VOCABULARY, cum_weights=cumulative, k=words)
    out = []
    for word in picked:
        out.append(word)
        if rng.random() < 0.45:
            out.append(rng.choice(FILLER))
    return " ".join(out).capitalize() + "."


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm up caches and the statement
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def explain(connection, search, query: str) -> None:
    """The plan of each statement search() runs for the query, with timings."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        search.search(query, 1)
    prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else ""
    prefix = prefix or "EXPLAIN QUERY PLAN "
    for statement in captured.captured_queries:
        report(f"-- {statement['time']} s: {statement['sql'][:120]}")
        if "search" not in statement["sql"] and "fts" not in statement["sql"]:
            continue
        with connection.cursor() as cursor:
            cursor.execute(prefix + statement["sql"])
            for row in cursor.fetchall():
                report("   " + " | ".join(str(v) for v in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--explain", action="store_true", help="Print the plans of search's SQL."
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="skincare-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skincare.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret")
    os.environ.setdefault("DJANGO_DEFAULT_FROM_EMAIL", "news@example.com")
    os.environ["SQLITE_PATH"] = str(Path(workdir) / "bench.sqlite3")
    os.environ["SQLITE_TEST_PATH"] = str(Path(workdir) / "bench-test.sqlite3")

    import django

    django.setup()
    from django.db import connection
    from django.db.models import Q
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    # Not the test suite's database name: never clobber a test run going on.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        "test_search_bench"
        if connection.vendor == "postgresql"
        else os.environ["SQLITE_TEST_PATH"]
    )
    setup_test_environment()
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from articles import search
        from articles.models import Article, Author, Topic

        rng = random.Random(args.seed)
        weights = list(
            itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY)))
        )
        topic = Topic.objects.create(name="Bench", slug="bench")
        author = Author.objects.create(name="Bench Author", slug="bench-author")
        now = timezone.now()

        started = time.perf_counter()
        batch = []
        for i in range(args.count):
            paragraphs = [
                " ".join(sentence(rng, weights, rng.randint(8, 16)) for _ in range(3))
                for _ in range(rng.randint(3, 5))
            ]
            if i % (args.count // 20 or 1) == 1:  # about 20 articles carry a rare word
                paragraphs[-1] += f" Rarely, {rng.choice(RARE)} is mistaken for it."
            batch.append(
                Article(
                    title=sentence(rng, weights, rng.randint(3, 7))[:-1],
                    slug=f"bench-{i}",
                    summary=sentence(rng, weights, rng.randint(12, 20)),
                    body="".join(f"<p>{p}</p>" for p in paragraphs),
                    status=(
                        Article.Status.DRAFT
                        if i % 10 == 0
                        else Article.Status.PUBLISHED
                    ),
                    published_at=None if i % 10 == 0 else now - timedelta(minutes=i),
                    topic=topic,
                    author=author,
                )
            )
            if len(batch) == 2000:
                Article.objects.bulk_create(batch)
                batch = []
        if batch:
            Article.objects.bulk_create(batch)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        indexed = search.rebuild(batch_size=2000)
        indexing = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        def scan(query: str):
            condition = Q()
            for word in query.split():
                condition &= (
                    Q(title__icontains=word)
                    | Q(summary__icontains=word)
                    | Q(body__icontains=word)
                )
            matches = Article.objects.published().filter(condition)
            return matches.count(), list(matches.for_listing()[:10])

        def full_text(query: str):
            results = search.search(query, 1)
            return results.total, list(results.page)

        queries = {
            "rare": "pityriasis",
            "common": "skin",
            "two-word": "retinol irritation",
        }
        report(
            f"database: {connection.vendor}; articles: {args.count} "
            f"(indexed {indexed}); runs: {args.runs}"
        )
        report(
            f"generate + bulk_create: {generated:.1f} s; bulk index: {indexing:.1f} s"
        )
        report(
            f"{'query':<28}{'matches (scan)':>15}  {'search p50/p95 ms':>18}  "
            f"{'scan p50/p95 ms':>18}  {'p95 speed-up':>12}"
        )
        for label, query in queries.items():
            if args.explain:
                explain(connection, search, query)
            found, scanned = full_text(query)[0], scan(query)[0]
            s50, s95 = timed(lambda q=query: full_text(q), args.runs)
            c50, c95 = timed(lambda q=query: scan(q), args.runs)
            report(
                f"{label + ' (' + query + ')':<28}{found:>7} ({scanned:>5})  "
                f"{s50:>8.2f} / {s95:>7.2f}  {c50:>8.1f} / {c95:>7.1f}  "
                f"{c95 / s95:>11.0f}x"
            )
        vendor = connection.vendor
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)
    report(f"done ({vendor})")


if __name__ == "__main__":
    main()
