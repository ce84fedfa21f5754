"""Public pages at scale, uncached: each page's median of 5 with the test client
(the page cache emptied before every request), and what prepare_articles costs.

Bulk-creates N published articles (25 topics, two of them with three articles
only, so their related lists fall back on shared words; 40 authors) with a
skincare vocabulary, indexes them for search, prepares a sample (or, with
--prepare-all, every article, timed), then times every public page.

Usage: .venv/bin/python bench/public_pages.py [--count 20000] [--prepare-all]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
public_pages_bench); otherwise a temporary SQLite file.
"""

import argparse
import random
import statistics
import time
import warnings
from datetime import timedelta

from common import bench_database, report

WORDS = str.split(
    "cream serum moisturiser barrier dry oily sensitive face gentle cleanser acid "
    "routine morning evening night texture redness irritation hydration sunscreen "
    "protection layer dermatologist treatment product ingredient concentration patch "
    "pores acne spots scars pigment tone glow calm soothe repair lipids ceramides "
    "niacinamide retinol retinoid exfoliate peel mask toner lotion balm fragrance "
    "allergy eczema rosacea psoriasis keratosis bumps rough smooth itchy flaky "
    "winter summer humidity sweat shower sleep stress hormones collagen wrinkles "
    "vitamin antioxidant zinc clay aloe oats squalane glycerin hyaluronic urea "
    "lactic salicylic glycolic azelaic benzoyl adapalene tretinoin study evidence"
)
TOPICS = 25
SMALL_TOPICS = 2
AUTHORS = 40
RUNS = 5


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def populate(count: int, seed: int) -> None:
    from django.utils import timezone

    from articles.models import Article, Author, Topic

    rng = random.Random(seed)
    topics = Topic.objects.bulk_create(
        Topic(name=f"Topic {n}", slug=f"topic-{n}") for n in range(TOPICS)
    )
    authors = Author.objects.bulk_create(
        Author(name=f"Author {n}", slug=f"author-{n}") for n in range(AUTHORS)
    )
    now = timezone.now()
    batch = []
    for i in range(count):
        if i < SMALL_TOPICS * 3:
            topic = topics[i // 3]
        else:
            topic = topics[SMALL_TOPICS + i % (TOPICS - SMALL_TOPICS)]
        body = "".join(
            f"<h2>{sentence(rng, 3)}</h2><p>"
            + " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(4))
            + "</p>"
            for _ in range(rng.randint(3, 5))
        )
        batch.append(
            Article(
                title=sentence(rng, rng.randint(3, 7))[:-1],
                slug=f"bench-{i}",
                summary=sentence(rng, rng.randint(12, 20)),
                body=body,
                status=Article.Status.PUBLISHED,
                stage="live",
                published_at=now - timedelta(hours=i),
                topic=topic,
                author=authors[i % AUTHORS],
                reviewer=authors[(i + 1) % AUTHORS] if i % 3 == 0 else None,
                reviewed_at=now.date() if i % 3 == 0 else None,
            )
        )
        if len(batch) == 2000:
            Article.objects.bulk_create(batch)
            batch = []
    if batch:
        Article.objects.bulk_create(batch)


def timed_page(client, url: str) -> tuple[float, float, int, int]:
    """Median and max milliseconds of RUNS uncached requests, queries, status."""
    from django.core.cache import caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.pagecache import CACHE_ALIAS

    times = []
    client.get(url)  # warm-up
    for _ in range(RUNS):
        caches[CACHE_ALIAS].clear()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), len(queries), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--prepare-all",
        action="store_true",
        help="Time prepare_articles on every article (else on the newest 200).",
    )
    args = parser.parse_args()

    # Static files come from the finders: no collectstatic output is expected.
    warnings.filterwarnings("ignore", message="No directory at")
    with bench_database("public_pages_bench") as workdir:
        from django.db import connection
        from django.test import Client, override_settings

        override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {
                    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                },
            },
            MEDIA_ROOT=workdir,
        ).enable()

        from articles.models import Article, PreparedPage
        from articles.publishing import prepared
        from articles.search import engine as search

        started = time.perf_counter()
        populate(args.count, args.seed)
        search.rebuild(batch_size=2000)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        report(f"{args.count} articles loaded in {time.perf_counter() - started:.0f} s")

        ids = list(
            Article.objects.order_by("-published_at").values_list("pk", flat=True)
        )
        sample = ids[:200] if not args.prepare_all else ids
        started = time.perf_counter()
        prepared.prepare_articles(sample)
        took = time.perf_counter() - started
        report(
            f"prepare_articles: {len(sample)} articles in {took:.1f} s, "
            f"{took / len(sample) * 1000:.0f} ms an article"
        )
        # The oldest articles of the two small topics: related by shared words.
        small = list(Article.objects.filter(topic__slug="topic-0").order_by("pk"))
        prepared.prepare_articles([a.pk for a in small])
        newest = Article.objects.get(pk=ids[0])
        # One article without a prepared row, one whose row no longer fits.
        unprepared, outdated = (Article.objects.get(pk=pk) for pk in ids[100:102])
        PreparedPage.objects.filter(article_id=unprepared.pk).delete()
        PreparedPage.objects.filter(article_id=outdated.pk).update(site_key="old")

        deep = args.count // 20  # halfway down the list of 10 a page
        pages = [
            ("home", "/"),
            ("article list", "/articles/"),
            (f"article list p.{deep}", f"/articles/?page={deep}"),
            ("article (prepared)", newest.get_absolute_url()),
            ("article (small topic)", small[0].get_absolute_url()),
            ("article (not prepared)", unprepared.get_absolute_url()),
            ("article (outdated row)", outdated.get_absolute_url()),
            ("topics", "/topics/"),
            ("topic", "/topics/topic-5/"),
            (f"topic p.{deep // TOPICS}", f"/topics/topic-5/?page={deep // TOPICS}"),
            ("author", "/authors/author-3/"),
            (
                f"author p.{deep // AUTHORS}",
                f"/authors/author-3/?page={deep // AUTHORS}",
            ),
            ("search", "/search/?q=retinol+night"),
            ("search common word", "/search/?q=cream"),
            ("feed", "/feed/"),
            ("feed atom", "/feed/atom/"),
            ("topic feed", "/topics/topic-5/feed/"),
            ("sitemap.xml", "/sitemap.xml"),
            ("editorial policy", "/editorial-policy/"),
            ("newsletter archive", "/newsletter/archive/"),
            ("newsletter sign-up", "/newsletter/"),
        ]
        for n in (1, 2):
            pages.append((f"sitemap articles {n}", f"/sitemaps/articles-{n}.xml"))
        client = Client()
        results = [(name, *timed_page(client, url)) for name, url in pages]
        # The editorial policy page (two small queries) as the baseline of this
        # run: on a loaded machine every figure grows, the ratios much less.
        baseline = next(r[1] for r in results if r[0] == "editorial policy")
        report(
            f"{'page':<26}{'median ms':>10}{'max ms':>9}{'x policy':>9}"
            f"{'queries':>9}{'status':>8}"
        )
        for name, median, most, queries, status in results:
            report(
                f"{name:<26}{median:>10.1f}{most:>9.1f}{median / baseline:>9.1f}"
                f"{queries:>9}{status:>8}"
            )


if __name__ == "__main__":
    main()
