"""Search latency: articles.search.engine.search() beside a plain icontains scan.

Generates N synthetic articles (bulk_create, then one bulk index) with a skincare
vocabulary in a Zipf-like mix and a few rare words, then times, for a rare word,
a two-word query, a word found in about 90% of articles (first page and page 30)
and one found in nearly all: search() (synonyms, count, one ranked and
highlighted page, the page's articles) and the same page and count by
Article.objects.published() with title/summary/body icontains, run in turn.

Then what search insight adds (articles/search/insight.py), in interleaved rounds
on a counts table holding --insight-rows rows: each round times, one call after
the other, search() alone, search() then count_search() (the one upsert a search
adds), and that plus the pinned-articles lookup the first page makes (all the
search page adds); the ratios of each round's medians to search() alone are
printed as min/median/max over the rounds.

Usage: .venv/bin/python bench/search_latency.py [--count 100000] [--runs 50]
       [--insight-rounds 7] [--insight-rows 100000] [--insight-only]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
test_<name>_search_bench); otherwise a temporary SQLite file.
"""

import argparse
import itertools
import random
import statistics
import time
from datetime import timedelta

from common import bench_database, p50_p95, report, spread

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
FREQUENT, FREQUENT_RANK = "daily", 6
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
    # A real word at the rank found in about 90% of articles: the slow case for
    # ranked search, every match a candidate.
    words.remove(FREQUENT)
    words.insert(FREQUENT_RANK, FREQUENT)
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


def timed(fn, baseline, runs: int) -> tuple[tuple[float, float], ...]:
    """p50/p95 of fn and of baseline, run in turn so both see the same load."""
    fn(), baseline()  # warm up caches and the statements
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for function, times in zip((fn, baseline), samples, strict=True):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
    return tuple(p50_p95(times) for times in samples)


def insight_rounds(
    arms: dict[str, object], rounds: int, runs: int
) -> dict[str, list[float]]:
    """For each arm but the first, the ratio of its median to the first's, one
    per round; within a round the arms run one after the other, `runs` times,
    each run starting with the next arm (what one arm leaves behind, a write to
    flush say, falls on each of the others alike)."""
    for arm in arms.values():
        arm()  # warm up
    ratios: dict[str, list[float]] = {name: [] for name in list(arms)[1:]}
    order = list(arms.items())
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in arms}
        for run in range(runs):
            shift = run % len(order)
            for name, arm in order[shift:] + order[:shift]:
                started = time.perf_counter()
                arm()
                times[name].append(time.perf_counter() - started)
        baseline = statistics.median(times[next(iter(arms))])
        for name in ratios:
            ratios[name].append(statistics.median(times[name]) / baseline)
    return ratios


def seed_counts(rows: int, seed: int) -> None:
    """`rows` search counts over 90 days, as a busy site would keep."""
    from django.utils import timezone

    from articles.models import SearchCount

    rng = random.Random(seed)
    today = timezone.localdate()
    per_day = max(1, rows // 90)
    batch = [
        SearchCount(
            day=today - timedelta(days=n // per_day),
            query=f"{rng.choice(VOCABULARY)} {rng.choice(VOCABULARY)} {n}",
            found_nothing=n % 7 == 0,
            count=rng.randint(1, 40),
        )
        for n in range(rows)
    ]
    SearchCount.objects.bulk_create(batch, batch_size=5000)


def explain(connection, search, query: str, page: int) -> None:
    """The plan of each statement search() runs for the query, with timings."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        list(search.search(query, page).page)
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


def populate(count: int, seed: int) -> None:
    """Bulk-create `count` synthetic articles, one in ten a draft, not indexed."""
    from django.utils import timezone

    from articles.models import Article, Author, Topic

    rng = random.Random(seed)
    weights = list(
        itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY)))
    )
    topic = Topic.objects.create(name="Bench", slug="bench")
    author = Author.objects.create(name="Bench Author", slug="bench-author")
    now = timezone.now()

    batch = []
    for i in range(count):
        paragraphs = [
            " ".join(sentence(rng, weights, rng.randint(8, 16)) for _ in range(3))
            for _ in range(rng.randint(3, 5))
        ]
        if i % (count // 20 or 1) == 1:  # about 20 articles carry a rare word
            paragraphs[-1] += f" Rarely, {rng.choice(RARE)} is mistaken for it."
        batch.append(
            Article(
                title=sentence(rng, weights, rng.randint(3, 7))[:-1],
                slug=f"bench-{i}",
                summary=sentence(rng, weights, rng.randint(12, 20)),
                body="".join(f"<p>{p}</p>" for p in paragraphs),
                status=(
                    Article.Status.DRAFT if i % 10 == 0 else Article.Status.PUBLISHED
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--explain", action="store_true", help="Print the plans of search's SQL."
    )
    parser.add_argument("--insight-rounds", type=int, default=7)
    parser.add_argument("--insight-rows", type=int, default=100_000)
    parser.add_argument(
        "--insight-only",
        action="store_true",
        help="Skip the comparison with a plain scan: search insight's cost only.",
    )
    args = parser.parse_args()

    with bench_database("test_{database}_search_bench"):
        from django.db import connection
        from django.db.models import Q

        from articles.models import Article
        from articles.search import engine as search

        started = time.perf_counter()
        populate(args.count, args.seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        indexed = search.rebuild(batch_size=2000)
        indexing = time.perf_counter() - started
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        def scan(query: str, page: int = 1):
            condition = Q()
            for word in query.split():
                condition &= (
                    Q(title__icontains=word)
                    | Q(summary__icontains=word)
                    | Q(body__icontains=word)
                )
            matches = Article.objects.published().filter(condition)
            start = (page - 1) * search.PAGE_SIZE
            listing = matches.for_listing()[start : start + search.PAGE_SIZE]
            return matches.count(), list(listing)

        def full_text(query: str, page: int = 1):
            results = search.search(query, page)
            return f"{results.total}{'+' if results.more else ''}", list(results.page)

        queries = [
            ("rare", "pityriasis", 1),
            ("two-word", "retinol irritation", 1),
            ("90% word", FREQUENT, 1),
            ("90% word, page 30", FREQUENT, 30),
            ("common", "skin", 1),
        ]
        live = Article.objects.published().count()
        report(
            f"database: {connection.vendor}; articles: {args.count} "
            f"(indexed {indexed}); runs: {args.runs}"
        )
        report(
            f"generate + bulk_create: {generated:.1f} s; bulk index: {indexing:.1f} s"
        )
        report(
            f"{'query':<38}{'found (scan, % live)':>23}  "
            f"{'search p50/p95 ms':>18}  {'scan p50/p95 ms':>18}  {'p95 speed-up':>12}"
        )
        for label, query, page in [] if args.insight_only else queries:
            if args.explain:
                explain(connection, search, query, page)
            found, scanned = full_text(query, page)[0], scan(query, page)[0]
            (s50, s95), (c50, c95) = timed(
                lambda q=query, p=page: full_text(q, p),
                lambda q=query, p=page: scan(q, p),
                args.runs,
            )
            report(
                f"{label + ' (' + query + ')':<38}{found:>6} "
                f"({scanned:>6}, {100 * scanned / live:>3.0f}%)  "
                f"{s50:>8.2f} / {s95:>7.2f}  {c50:>8.1f} / {c95:>7.1f}  "
                f"{c95 / s95:>11.1f}x"
            )
        if args.insight_rounds:
            insight_report(args, search, queries)
        vendor = connection.vendor
    report(f"done ({vendor})")


def insight_report(args, search, queries) -> None:
    from django.conf import settings

    from articles.search import insight

    seed_counts(args.insight_rows, args.seed)
    buffered_for = settings.SEARCH_INSIGHT_FLUSH_SECONDS

    def counted(query: str, seconds: float, pins: bool = False):
        settings.SEARCH_INSIGHT_FLUSH_SECONDS = seconds
        results = search.search(query)
        found = results.total or (pins and insight.pinned(results.query))
        insight.count_search(query=results.query, found_nothing=not found)
        return results

    report(
        f"search insight: {args.insight_rounds} rounds of {args.runs} runs, "
        f"{args.insight_rows} count rows; ratio to search() alone, min/median/max; "
        f"buffered: written every {buffered_for:g} s"
    )
    report(
        f"{'query':<34}{'+ count at once':>22}{'+ count buffered':>22}"
        f"{'+ pins + buffered':>22}"
    )
    for label, query, page in queries:
        if page != 1:
            continue  # later pages are neither counted nor pinned
        ratios = insight_rounds(
            {
                "off": lambda q=query: search.search(q).total,
                "at once": lambda q=query: counted(q, 0),
                "buffered": lambda q=query: counted(q, buffered_for),
                "whole": lambda q=query: counted(q, buffered_for, pins=True),
            },
            args.insight_rounds,
            args.runs,
        )
        cells = "".join(
            "{:>22}".format("{:.3f} / {:.3f} / {:.3f}".format(*spread(ratios[name])))
            for name in ("at once", "buffered", "whole")
        )
        report(f"{label + ' (' + query + ')':<34}{cells}")
    # The same costs alone, each call timed on its own (10,000 calls; the
    # ratios above are at the mercy of the machine's load): microseconds.
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = buffered_for
    alone = {
        "count buffered": lambda: insight.count_search(
            query="retinol irritation", found_nothing=False
        ),
        "pins (none)": lambda: insight.pinned("retinol irritation"),
    }
    costs = {}
    for name, call in alone.items():
        samples = []
        for _ in range(10_000):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        costs[name] = statistics.median(samples) * 1e6
    searched = []
    for _ in range(args.runs):
        started = time.perf_counter()
        assert search.search("pityriasis").total >= 0
        searched.append(time.perf_counter() - started)
    rare = statistics.median(searched) * 1e6
    report(
        "alone, median µs: "
        + ", ".join(f"{name} {cost:.1f}" for name, cost in costs.items())
        + f"; the rare word's search {rare:.0f}, so the search page adds "
        f"{100 * sum(costs.values()) / rare:.1f}% to it"
    )
    # Before the throwaway database goes: the process's exit would write them.
    insight.flush()


if __name__ == "__main__":
    main()
