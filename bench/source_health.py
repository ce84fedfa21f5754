"""The source check on N sources of live articles, against fake servers on
loopback (tests/articles/fake_sources.py), many hosts with a small pause per host.

Each round times a full run (checking.run(): find the sources, check each, keep
the history, raise problems) and, interleaved, the floor: the same requests from
a bare httpx loop on as many threads, with no database, no pacing, no history.
Then one more run under tracemalloc gives the peak Python memory, once for N/5
sources and once for N, to show that it stays flat (sources are read in chunks).

Usage: .venv/bin/python bench/source_health.py [--count 5000] [--hosts 50]
       [--delay 0.01] [--rounds 3]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
{database}_source_bench, e.g. sources_source_bench); otherwise a temporary SQLite file.
"""

import argparse
import resource
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

from common import bench_database, report, spread


def shown(values: list[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in spread(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.01, help="Per host, s.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with bench_database("{database}_source_bench"):
        import httpx
        from django.conf import settings
        from django.db import connection

        from articles.models import Article, Reference, Stage
        from articles.sources import checking
        from tests.articles.fake_sources import serve
        from tests.factories import make_article

        settings.SOURCE_CHECK_ALLOW_PRIVATE = True
        settings.SOURCE_CHECK_HOST_DELAY = args.delay
        settings.SOURCE_CHECK_TIMEOUT = 5
        servers = [serve() for _ in range(args.hosts)]
        webs = [web for web, _ in servers]
        for web in webs:
            web.logging = False
        services = webs[0]
        settings.SOURCE_CHECK_DOI_RESOLVER = services.url("/doi/")
        settings.SOURCE_CHECK_CROSSREF_API = services.url("/crossref/")
        settings.SOURCE_CHECK_EUTILS_API = services.url("/eutils/")

        def make_sources(count: int) -> list[str]:
            """`count` sources on articles of 5 each: mostly links over every
            host (some missing, some moved), a few DOIs and PMIDs."""
            Reference.objects.all().delete()
            Article.objects.all().delete()
            urls = []
            per_article = 5
            for a in range(0, count, per_article):
                article = make_article(stage=Stage.LIVE)
                refs = []
                for n in range(a, min(a + per_article, count)):
                    web = webs[n % len(webs)]
                    if n % 40 == 7:
                        refs.append(Reference(doi=f"10.1234/doc{n}"))
                    elif n % 40 == 9:
                        refs.append(Reference(pmid=str(100000 + n)))
                    else:
                        path = (
                            "/missing"
                            if n % 50 == 3
                            else "/moved"
                            if n % 50 == 5
                            else f"/ok/{n}"
                        )
                        url = web.url(path) + (f"?n={n}" if n % 50 in (3, 5) else "")
                        urls.append(url)
                        refs.append(Reference(url=url))
                for position, ref in enumerate(refs, start=1):
                    ref.article = article
                    ref.position = position
                    ref.title = "A study"
                Reference.objects.bulk_create(refs)
            return urls

        def full_run() -> float:
            # The last run finished: this one starts over.
            started = time.perf_counter()
            outcome = checking.run()
            took = time.perf_counter() - started
            assert outcome.finished, outcome
            return took

        def bare_loop(urls: list[str]) -> float:
            started = time.perf_counter()
            with (
                httpx.Client(timeout=5) as client,
                ThreadPoolExecutor(settings.SOURCE_CHECK_THREADS) as pool,
            ):
                list(pool.map(lambda url: client.head(url).status_code, urls))
            return time.perf_counter() - started

        report(
            f"Source check: {args.count} sources, {args.hosts} hosts, "
            f"{args.delay:g} s per host, {settings.SOURCE_CHECK_THREADS} threads, "
            f"{connection.vendor}"
        )
        urls = make_sources(args.count)
        runs, bares = [], []
        for _ in range(args.rounds):
            runs.append(full_run())
            bares.append(bare_loop(urls))
        ratios = [run / bare for run, bare in zip(runs, bares, strict=True)]
        report(f"  full run (s), min/median/max:        {shown(runs)}")
        report(f"  bare httpx loop (s), min/median/max: {shown(bares)}")
        report(f"  run / bare, min/median/max:          {shown(ratios)}")
        report(f"  sources per second:   {args.count / min(runs):.0f} (best run)")
        for count in (args.count // 5, args.count):
            make_sources(count)
            tracemalloc.start()
            full_run()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            report(f"  peak Python memory, {count} sources: {peak / 2**20:.1f} MiB")
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report(f"  process max RSS: {maxrss / 1024:.0f} MiB")
        for _, stop in servers:
            stop()


if __name__ == "__main__":
    main()
