"""Retention at ten years' scale: `manage.py apply_retention` on PostgreSQL, its
time and the tables' sizes before and after.

Loads, with generate_series in a throwaway database (retention_bench on the
server of DATABASE_URL, dropped at the end):
- --articles articles (20,000) with --revisions each (10; 200,000 in all), every
  revision about 2.7 KB of JSON, dated over ten years; each article's last
  revision is its latest, the one before it live and medically approved, and
  every other revision from the second is named by a workflow step (5 a article);
- --subscribers subscribers (700,000) with three events each, signed up,
  confirmation sent and confirmed (2,100,000), dated over ten years.
Then: the tables' sizes (pg_total_relation_size), `apply_retention --dry-run`
and `apply_retention` timed, the sizes again, after VACUUM (ANALYZE) (which
makes the space reusable but gives none back to the system) and after VACUUM
FULL (which rewrites the tables), and a second run, which must remove nothing.

With ten revisions an article, the default ARTICLE_REVISIONS_KEEP (50) keeps them
all; --keep (default 3) sets it for the run, so there is something to prune.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
       .venv/bin/python bench/retention.py [--articles 20000] [--revisions 10]
       [--subscribers 700000] [--keep 3]
"""

import argparse
import os
import time
from io import StringIO

from common import BenchError, bench_database, report

TABLES = (
    "articles_articlerevision",
    "articles_transition",
    "newsletter_subscriberevent",
    "django_tasks_database_dbtaskresult",
)


def load(cursor, *, articles: int, revisions: int, subscribers: int) -> None:
    cursor.execute(
        "INSERT INTO articles_topic (name, slug, description, medical, "
        "review_interval_months) VALUES ('Skin', 'skin', '', true, 12) RETURNING id"
    )
    topic = cursor.fetchone()[0]
    cursor.execute(
        "INSERT INTO articles_author (name, slug, credentials, bio, photo, kind, "
        "photo_width, photo_height) VALUES ('Dr Ada', 'dr-ada', 'MD', '', '', "
        "'person', 0, 0) RETURNING id"
    )
    author = cursor.fetchone()[0]
    cursor.execute(
        """
        INSERT INTO articles_article (title, slug, summary, seo_title,
          seo_description, cover_image, cover_image_alt, cover_image_width,
          cover_image_height, body, status, featured, created_at, updated_at,
          published_at, author_id, topic_id, evidence, medical, stage,
          reviewer_credentials, reviewer_name)
        SELECT 'Article ' || n, 'article-' || n, 'Summary ' || n, '', '', '', '',
          0, 0, '<p>Body</p>', 'published', false, now(), now(), now(), %s, %s,
          '', true, 'live', '', ''
        FROM generate_series(1, %s) AS n
        """,
        [author, topic, articles],
    )
    # Ten years back to now, oldest first; about 2.7 KB of JSON each (random
    # text, which compresses about as little as prose does).
    cursor.execute(
        """
        INSERT INTO articles_articlerevision (article_id, number, data,
          review_hash, created_at, note)
        SELECT a.id, r, jsonb_build_object('title', a.title, 'body',
            (SELECT string_agg(md5(random()::text || w), ' ')
             FROM generate_series(1, 68) AS w WHERE r > 0)),
          md5(a.id || '-' || r) || md5(r || '-' || a.id),
          now() - interval '3650 days' * (1 - r::float / (%s + 1)),
          ''
        FROM articles_article a, generate_series(1, %s) AS r
        """,
        [revisions, revisions],
    )
    cursor.execute(
        """
        UPDATE articles_article a SET latest_revision_id = v.id
        FROM articles_articlerevision v
        WHERE v.article_id = a.id AND v.number = %s
        """,
        [revisions],
    )
    cursor.execute(
        """
        UPDATE articles_article a SET live_revision_id = v.id
        FROM articles_articlerevision v
        WHERE v.article_id = a.id AND v.number = %s
        """,
        [revisions - 1],
    )
    cursor.execute(
        """
        INSERT INTO articles_medicalapproval (article_id, revision_id, review_hash,
          reviewer_id, reviewer_name, reviewer_credentials, approved_at, note)
        SELECT a.id, a.live_revision_id, '', %s, 'Dr Ada', 'MD', now(), ''
        FROM articles_article a
        """,
        [author],
    )
    cursor.execute(
        """
        INSERT INTO articles_transition (article_id, revision_id, at, from_stage,
          to_stage, note)
        SELECT v.article_id, v.id, v.created_at, 'draft', 'in_review', ''
        FROM articles_articlerevision v WHERE mod(v.number, 2) = 0
        """
    )
    cursor.execute(
        """
        INSERT INTO newsletter_subscriber (email, first_name, status, consent_text,
          consent_version, consent_source, consent_at, consent_ip, lawful_basis,
          confirmed_at, left_how, created_at, updated_at, frequency,
          advice_changes)
        SELECT 'reader' || n || '@example.com', '', 'confirmed',
          'Yes, email me the Skincare newsletter: beauty resources, tips, and '
          'news, about twice a month. I can unsubscribe at any time with one '
          'click.', '2026-11-v1', 'page', t, '198.51.100.7', '', t, '', t, t,
          'every_issue', true
        FROM (SELECT n, now() - interval '3650 days' * random() AS t
              FROM generate_series(1, %s) AS n) AS s
        """,
        [subscribers],
    )
    cursor.execute(
        """
        INSERT INTO newsletter_subscriberevent (subscriber_id, kind, at, ip, detail)
        SELECT s.id, k.kind, s.consent_at + k.after, '198.51.100.7', ''
        FROM newsletter_subscriber s,
          (VALUES ('signed_up', interval '0'),
                  ('confirmation_sent', interval '1 second'),
                  ('confirmed', interval '10 minutes')) AS k(kind, after)
        """
    )


def sizes(cursor) -> dict[str, int]:
    found = {}
    for table in TABLES:
        cursor.execute(
            "SELECT pg_total_relation_size(%s), count(*) FROM " + table, [table]
        )
        found[table] = cursor.fetchone()
    return found


def megabytes(value: int) -> str:
    return f"{value / 1024 / 1024:,.1f} MB"


def show(title: str, before: dict, now: dict) -> None:
    report(f"\n{title}")
    for table in TABLES:
        size, rows = now[table]
        report(
            f"  {table:38} {rows:>10,} rows {megabytes(size):>12}"
            f"  (was {megabytes(before[table][0])})"
        )


def timed_command(*args: str) -> tuple[float, str]:
    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command("apply_retention", *args, stdout=out)
    return time.perf_counter() - started, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--revisions", type=int, default=10)
    parser.add_argument("--subscribers", type=int, default=700_000)
    parser.add_argument("--keep", type=int, default=3)
    options = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise BenchError("Set DATABASE_URL to a PostgreSQL server: sizes are its own.")
    with bench_database("retention_bench"):
        from django.conf import settings
        from django.db import connection

        settings.ARTICLE_REVISIONS_KEEP = options.keep
        with connection.cursor() as cursor:
            started = time.perf_counter()
            load(
                cursor,
                articles=options.articles,
                revisions=options.revisions,
                subscribers=options.subscribers,
            )
            cursor.execute("VACUUM (ANALYZE)")
            report(f"Loaded in {time.perf_counter() - started:.0f} s")
            before = sizes(cursor)
            show("Before", before, before)
            seconds, out = timed_command("--dry-run")
            report(f"\napply_retention --dry-run: {seconds:.1f} s\n{out}")
            seconds, out = timed_command()
            report(f"apply_retention: {seconds:.1f} s\n{out}")
            show("After (no VACUUM)", before, sizes(cursor))
            cursor.execute("VACUUM (ANALYZE)")
            show("After VACUUM (ANALYZE)", before, sizes(cursor))
            for table in TABLES:
                cursor.execute(f"VACUUM FULL {table}")
            show("After VACUUM FULL", before, sizes(cursor))
            seconds, out = timed_command()
            report(f"\nSecond apply_retention: {seconds:.1f} s\n{out}")


if __name__ == "__main__":
    main()
