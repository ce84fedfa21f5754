"""Article page: prepared (articles/publishing/prepared.py) beside worked out per
request.

Generates N synthetic published articles in a few topics (bulk_create), then picks
sample articles with everything the page shows (headings, citations and sources,
a cover and a body image with renditions, corrections, related articles). Half of
them get their page prepared; the other half, the same content, are worked out
per request, as before prepared pages (the baseline). Rounds interleave the two,
alternating which goes first; each round fetches every sample article's page
through Django's test client. Reports per-request time (min / median / max of the
rounds' medians), the speed-up of the medians, and queries per request.

Usage: .venv/bin/python bench/article_view.py [--count 5000] [--rounds 7]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
test_article_view_bench); otherwise a temporary SQLite file.
"""

import argparse
import random
import statistics
import time
import warnings
from datetime import timedelta

from common import bench_database, report, spread

WORDS = str.split(
    "skin cream serum barrier acne retinol sunscreen eczema rosacea moisturiser "
    "cleanser redness pores scars pigment ceramides niacinamide exfoliation peel "
    "azelaic salicylic glycolic lactic urea glycerin hyaluronic psoriasis keratosis "
    "pilaris wrinkles collagen vitamin zinc sulfur irritation hydration dryness"
)
FILLER = str.split("the a of and to in is for with that on as it be can your may")


def text(rng: random.Random, words: int) -> str:
    out = []
    for _ in range(words):
        out.append(rng.choice(WORDS))
        if rng.random() < 0.5:
            out.append(rng.choice(FILLER))
    return " ".join(out).capitalize()


def body(rng: random.Random, *, image: str = "") -> str:
    parts = []
    for section in range(5):
        parts.append(f"<h2>{text(rng, 3)} {section}</h2>")
        for _ in range(3):
            parts.append(f"<p>{text(rng, 60)} [{section % 3 + 1}].</p>")
        parts.append(f"<h3>{text(rng, 2)}</h3><p>{text(rng, 40)}.</p>")
    if image:
        parts.insert(3, f'<p><img src="/media/{image}" alt="A jar"></p>')
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--topics", type=int, default=25)
    parser.add_argument("--samples", type=int, default=6, help="Articles per mode.")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    # Static files come from the finders: no collectstatic output is expected.
    warnings.filterwarnings("ignore", message="No directory at")
    # The page itself, not the page cache (on in production posture), which
    # would serve both modes alike.
    with bench_database("test_article_view_bench", DJANGO_PAGE_CACHE="0") as workdir:
        from django.db import connection
        from django.test import Client, override_settings
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        # Static files from the finders, as in the tests: no collectstatic output.
        override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {
                    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                },
            },
            MEDIA_ROOT=workdir,
        ).enable()

        from articles.models import (
            Article,
            Author,
            Correction,
            ImageRendition,
            Reference,
            Topic,
        )
        from articles.publishing import prepared

        rng = random.Random(args.seed)
        topics = Topic.objects.bulk_create(
            Topic(name=f"Topic {n}", slug=f"topic-{n}") for n in range(args.topics)
        )
        author = Author.objects.create(
            name="Bench Author", slug="bench-author", credentials="MD"
        )
        now = timezone.now()
        started = time.perf_counter()
        Article.objects.bulk_create(
            (
                Article(
                    title=text(rng, 5),
                    slug=f"bench-{i}",
                    summary=text(rng, 18) + ".",
                    body=body(rng),
                    status=Article.Status.PUBLISHED,
                    published_at=now - timedelta(minutes=i + 1),
                    topic=topics[i % len(topics)],
                    author=author,
                )
                for i in range(args.count)
            ),
            batch_size=1000,
        )
        generated = time.perf_counter() - started

        # Renditions rows only: the markup needs their names, not their files.
        formats = ("AVIF", "WEBP", "JPEG")
        samples = []
        for n in range(2 * args.samples):
            cover, inline = f"covers/bench-{n}.jpg", f"uploads/1/bench-{n}.jpg"
            ImageRendition.objects.bulk_create(
                ImageRendition(
                    source=source,
                    width=width,
                    height=width // 2,
                    format=image_format,
                    file=f"renditions/{source}-{width}.{image_format.lower()}",
                )
                for source in (cover, inline)
                for width in (480, 800, 1200)
                for image_format in formats
            )
            article = Article.objects.create(
                title=f"Sample {n}: {text(rng, 4)}",
                slug=f"sample-{n}",
                summary=text(rng, 18) + ".",
                body=body(rng, image=inline),
                status=Article.Status.PUBLISHED,
                published_at=now - timedelta(seconds=n + 1),
                topic=topics[n % len(topics)],
                author=author,
                reviewer=author,
                reviewed_at=now.date(),
                cover_image=cover,
                cover_image_alt="A jar",
                cover_image_width=1200,
                cover_image_height=600,
            )
            Reference.objects.bulk_create(
                Reference(article=article, position=p, title=f"Source {p}", pmid="1")
                for p in (1, 2, 3)
            )
            Correction.objects.create(article=article, text="A dose was corrected.")
            samples.append(article)
        prepared_set, worked_out_set = samples[::2], samples[1::2]
        started = time.perf_counter()
        prepared.prepare_articles(a.pk for a in prepared_set)
        preparing = (time.perf_counter() - started) / len(prepared_set)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        client = Client()

        def fetch(article) -> None:
            response = client.get(article.get_absolute_url())
            assert response.status_code == 200, response.status_code

        def queries(article) -> int:
            with CaptureQueriesContext(connection) as captured:
                fetch(article)
            return len(captured.captured_queries)

        for article in samples:
            fetch(article)  # warm up templates, statements and caches
        modes = {"prepared": prepared_set, "worked out": worked_out_set}
        medians: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_number in range(args.rounds):
            order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
            for mode in order:
                times = []
                for article in modes[mode]:
                    started = time.perf_counter()
                    fetch(article)
                    times.append(time.perf_counter() - started)
                medians[mode].append(statistics.median(times) * 1000)

        report(
            f"database: {connection.vendor}; articles: {args.count} in "
            f"{args.topics} topics; {args.samples} sample pages per mode; "
            f"{args.rounds} interleaved rounds"
        )
        report(
            f"generate + bulk_create: {generated:.1f} s; prepare_article: "
            f"{preparing * 1000:.0f} ms per article"
        )
        report(f"{'page':<12}{'ms min / median / max':>26}{'queries':>10}")
        for mode, found in medians.items():
            low, middle, high = spread(found)
            report(
                f"{mode:<12}{low:>9.2f} / {middle:>6.2f} / "
                f"{high:>6.2f}{queries(modes[mode][0]):>10}"
            )
        speedup = statistics.median(medians["worked out"]) / statistics.median(
            medians["prepared"]
        )
        report(f"prepared is {speedup:.1f}x faster (ratio of the medians)")
        vendor = connection.vendor
    report(f"done ({vendor})")


if __name__ == "__main__":
    main()
