"""Calendar render: the admin's editorial calendar with 2,000 items in a month.

Makes, in a throwaway database, COUNT items spread over the current month:
planned drafts (half of them), scheduled publishes, medical reviews falling due
and newsletter sends (a twentieth each of the rest... see populate()), then asks
for the calendar pages as a signed-in superuser through the whole stack (Django's
test client: middleware, sessions, the second factor, the template), timing each
request:

  month      the month view holding the COUNT items (each day shows its first
             six, then "+ K more")
  week       the week view of one full week (every entry of those days, with
             the move forms)
  empty      the month view of a month with no items: the page's own cost, the
             baseline in the same run

One warm-up each, then ROUNDS rounds, each requesting every target in turn
(interleaved, so machine noise hits all alike); prints min/median/max per target
in milliseconds, the queries each target runs (the same for all: the count does
not grow with the items) and the goal (month <= 150 ms).

Usage: .venv/bin/python bench/calendar_render.py [--count 2000] [--rounds 30]
With DATABASE_URL set it uses that PostgreSQL server (in a throwaway database,
test_<name>_calendar_bench); otherwise a temporary SQLite file.
"""

import argparse
import time
import warnings
from datetime import date, datetime, timedelta
from datetime import time as clock

from common import bench_database, report, spread

GOAL_MS = 150.0


def populate(count: int, month: date) -> dict[str, int]:
    """`count` items in `month`: half planned drafts, the rest publishes,
    reviews due and sends in turn. The number of each kind."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from articles.models import Article, Author, Stage, Topic
    from newsletter.models import Issue

    owner = get_user_model().objects.get(username="bench-owner")
    topics = [
        Topic.objects.create(name=f"Topic {n}", slug=f"topic-{n}") for n in range(8)
    ]
    author = Author.objects.create(name="Bench Author", slug="bench-author")
    days = (month.replace(month=month.month % 12 + 1, day=1) - timedelta(days=1)).day
    kinds = {"planned": 0, "publish": 0, "review": 0, "send": 0}
    articles, issues = [], []
    for n in range(count):
        day = month.replace(day=n % days + 1)
        noon = timezone.make_aware(datetime.combine(day, clock(12, n % 60)))
        fields = dict(
            title=f"Bench article {n}: planning the skincare calendar",
            slug=f"bench-{n}",
            summary="s",
            body="<p>b</p>",
            topic=topics[n % len(topics)],
            author=author,
            created_by=owner,
        )
        if n % 2 == 0:
            kinds["planned"] += 1
            articles.append(Article(planned_for=day, **fields))
        elif n % 6 == 1:
            kinds["publish"] += 1
            articles.append(
                Article(
                    status=Article.Status.PUBLISHED,
                    stage=Stage.SCHEDULED,
                    published_at=noon,
                    **fields,
                )
            )
        elif n % 6 == 3:
            kinds["review"] += 1
            articles.append(
                Article(
                    status=Article.Status.PUBLISHED,
                    stage=Stage.LIVE,
                    published_at=noon - timedelta(days=400),
                    review_due=day,
                    **fields,
                )
            )
        else:
            kinds["send"] += 1
            issues.append(
                Issue(
                    subject=f"Bench issue {n}",
                    slug=f"bench-issue-{n}",
                    body="<p>b</p>",
                    status=Issue.Status.SCHEDULED,
                    scheduled_at=noon,
                )
            )
    Article.objects.bulk_create(articles, batch_size=500)
    Issue.objects.bulk_create(issues, batch_size=500)
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    # Static files come from the finders: no collectstatic output is expected.
    warnings.filterwarnings("ignore", message="No directory at")
    with bench_database("test_{database}_calendar_bench") as workdir:
        from django.db import connection
        from django.template import Template
        from django.test import override_settings
        from django.test.utils import CaptureQueriesContext, _TestState
        from django.urls import reverse
        from django.utils import timezone

        from tests.conftest import VerifiedClient
        from tests.factories import make_staff

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
        client = VerifiedClient()
        client.force_login(make_staff(username="bench-owner"))
        month = timezone.localdate().replace(day=1)
        kinds = populate(args.count, month)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        url = reverse("calendar:calendar")
        busiest_week = month + timedelta(days=7)
        empty = month.replace(year=month.year - 1)
        targets = {
            "month": {"date": month.isoformat()},
            "week": {"view": "week", "date": busiest_week.isoformat()},
            "empty": {"date": empty.isoformat()},
        }
        shown, queries, sizes = {}, {}, {}
        for name, params in targets.items():  # warm-up, and what each shows
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url, params)
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code}")
            shown[name] = response.context["entry_count"]
            queries[name] = len(captured)
            sizes[name] = len(response.content)
        # The test environment wraps template rendering so the test client can
        # keep each template's context (copied, for every include): a cost no
        # real request pays. Timed without it.
        Template._render = _TestState.saved_data.template_render
        timings: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, params in targets.items():
                started = time.perf_counter()
                client.get(url, params)
                timings[name].append((time.perf_counter() - started) * 1000)
        report(
            f"database: {connection.vendor}; items made: {sum(kinds.values())} "
            f"({', '.join(f'{k} {v}' for k, v in kinds.items())}); "
            f"rounds: {args.rounds}"
        )
        report(
            f"{'target':<8}{'entries':>9}{'queries':>9}{'KB':>7}"
            f"{'min ms':>9}{'median':>9}{'max':>9}"
        )
        for name, values in timings.items():
            low, middle, high = spread(values)
            report(
                f"{name:<8}{shown[name]:>9}{queries[name]:>9}"
                f"{sizes[name] / 1024:>7.0f}{low:>9.1f}{middle:>9.1f}{high:>9.1f}"
            )
        median = spread(timings["month"])[1]
        verdict = "met" if median <= GOAL_MS else "NOT met"
        report(f"goal: month median <= {GOAL_MS:.0f} ms: {verdict}")
        vendor = connection.vendor
    report(f"done ({vendor})")


if __name__ == "__main__":
    main()
