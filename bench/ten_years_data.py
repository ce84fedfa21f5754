"""Ten years of plausible data, made by the database itself (bench/ten_years.py).

Every table is filled with one INSERT ... SELECT over a series of numbers
(bench/ten_years_sql.py), so millions of rows never travel through Python; only
the 20,000 articles' words are made here, for titles and bodies that read like
prose.

SCALE 1.0 is the issue's ten years: 20,000 articles, 200,000 revisions, ~97k
transitions, 1,000,000 subscribers, 2.1M subscriber events, 500 sent issues
with 10,000,000 deliveries; the 850k-recipient issue comes with big_issue.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from ten_years_sql import (
    bulk_mode,
    day,
    insert_rows,
    insert_select,
    next_id,
    pick,
    postgres,
    reset_sequences,
    ts,
)
from ten_years_text import FIRST_NAMES, TOPICS, WORDS, article_body, sentence

from articles.models import (
    Article,
    ArticleRevision,
    Author,
    Correction,
    DailyReadership,
    MedicalApproval,
    Reference,
    SearchCount,
    Topic,
    Transition,
)
from newsletter.models import (
    Delivery,
    DeliveryEvent,
    Issue,
    IssueArticle,
    LinkClick,
    Subscriber,
    SubscriberEvent,
)

YEAR = 365 * 24 * 3600
SPAN = 10 * YEAR  # ten years, in seconds


@dataclass(frozen=True)
class Sizes:
    """Row counts at a scale (1.0: the issue's ten years)."""

    scale: float
    big_issue: bool = False
    articles: int = field(init=False)
    subscribers: int = field(init=False)
    issues: int = field(init=False)
    per_issue: int = field(init=False)
    big_recipients: int = field(init=False)

    def __post_init__(self) -> None:
        def scaled(n: float, least: int) -> int:
            return max(least, round(n * self.scale))

        set_ = object.__setattr__
        set_(self, "articles", scaled(20_000, 20))
        set_(self, "subscribers", scaled(1_000_000, 50))
        set_(self, "issues", scaled(500, 2))
        deliveries = scaled(10_000_000, 100)
        set_(self, "per_issue", min(self.subscribers, deliveries // self.issues))
        set_(
            self,
            "big_recipients",
            min(scaled(850_000, 40), self.subscribers) if self.big_issue else 0,
        )


# -- Building INSERT ... SELECT from a model's fields -------------------------------

# -- The data ------------------------------------------------------------------------


def people(sizes: Sizes, start: float) -> dict:
    """Topics, staff accounts and authors (the same at every scale)."""
    users = get_user_model()
    made = {}
    made["admin"] = users.objects.create_superuser(
        "bench-admin", "bench-admin@example.com", "bench-admin-password"
    )
    # Without a password: hashing one takes a while, and they never sign in.
    writers = users.objects.bulk_create(
        users(username=f"writer{n}", email=f"writer{n}@example.com", password="!")
        for n in range(10)
    )
    made["writers"] = writers
    Topic.objects.bulk_create(
        Topic(
            name=name,
            slug=slugify(name),
            description=f"Articles about {name.lower()}.",
            medical=n % 3 == 0,
        )
        for n, name in enumerate(TOPICS)
    )
    Author.objects.bulk_create(
        Author(
            name=f"{FIRST_NAMES[n % len(FIRST_NAMES)]} Writer{n}",
            slug=f"author-{n}",
            credentials="MD, dermatologist" if n % 4 == 0 else "",
            bio="Writes about skin.",
            user=writers[n] if n < len(writers) else None,
        )
        for n in range(60)
    )
    made["topics"] = list(Topic.objects.values_list("pk", flat=True))
    made["authors"] = list(Author.objects.values_list("pk", flat=True))
    return made


def articles(sizes: Sizes, start: float, made: dict) -> None:
    """The articles, in Python for their words: 92% live, 1% scheduled, 2%
    unpublished, the rest in the workflow; published over ten years."""
    rng = random.Random(21)
    now = timezone.now()
    first = next_id(Article)
    rows, used = [], set()
    for n in range(sizes.articles):
        title = sentence(rng, rng.randint(4, 9))[:-1][:190]
        slug = slugify(title)[:180]
        if slug in used:
            slug = f"{slug}-{n}"
        used.add(slug)
        moment = start + SPAN * (n + rng.random()) / sizes.articles
        published = datetime.fromtimestamp(moment, tz=UTC)
        bucket = n % 100
        if bucket < 92:
            status, stage = "published", "live"
        elif bucket == 92:
            status, stage = "published", "scheduled"
            published = now + timedelta(days=1 + n % 30)
        elif bucket < 95:
            status, stage = "draft", "unpublished"
        else:
            status, stage = "draft", ("draft", "in_review", "approved")[n % 3]
            published = None if stage == "draft" else published
        rows.append(
            {
                "id": first + n,
                "title": title,
                "slug": slug,
                "summary": sentence(rng, rng.randint(18, 28))[:290],
                "body": article_body(rng),
                "author_id": made["authors"][n % len(made["authors"])],
                "topic_id": made["topics"][n % len(made["topics"])],
                "status": status,
                "stage": stage,
                "published_at": published,
                "featured": n % 200 == 0,
                "medical": n % 7 == 0,
                "evidence": ("strong", "moderate", "limited", "")[n % 4],
                "created_by_id": made["writers"][n % len(made["writers"])].pk,
                "created_at": published or now,
                "updated_at": published or now,
            }
        )
    insert_rows(Article, rows)
    made["first_article"] = first


def editorial(sizes: Sizes, start: float, made: dict) -> None:
    """10 revisions an article (the last the latest, the 10th or 9th the live
    one), ~4.85 transitions, 5 sources, corrections for 2%, medical approvals."""
    a = "articles_article"
    snapshot = ", ".join(
        f"'{name}', a.{Article._meta.get_field(name).column}"
        for name in (
            "title",
            "slug",
            "summary",
            "body",
            "seo_title",
            "seo_description",
            "cover_image",
            "cover_image_alt",
            "author",
            "topic",
            "evidence",
            "medical",
            "featured",
        )
    )
    data = (
        f"jsonb_build_object({snapshot}, 'sources', '[]'::jsonb)"
        if postgres()
        else f"json_object({snapshot}, 'sources', json('[]'))"
    )
    first_revision = next_id(ArticleRevision)
    # Revision ids in article order: article k's revision r is first + k*10 + r-1.
    insert_select(
        ArticleRevision,
        {
            "id": f"{first_revision} + (a.id - {made['first_article']}) * 10 + s.g - 1",
            "article_id": "a.id",
            "number": "s.g",
            "data": data,
            "review_hash": "'rev' || a.id || '-' || s.g",
            "created_by_id": "a.created_by_id",
            "created_at": ts(f"{start} + (a.id * 7919 + s.g * 86400) % {SPAN}"),
            "note": pick(["", "Typo", "New study", "Clearer advice"], "s.g"),
        },
        f"{a} a CROSS JOIN {{s}}",
        series=10,
    )
    base = f"{first_revision} + (id - {made['first_article']}) * 10"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {a} SET latest_revision_id = {base} + 9, live_revision_id = "
            f"CASE WHEN stage IN ('live', 'scheduled') THEN {base} + CASE WHEN "
            "id % 5 = 0 THEN 8 ELSE 9 END END"
        )
    steps = ["draft", "in_review", "changes_requested", "in_review", "approved", "live"]
    insert_select(
        Transition,
        {
            "article_id": "a.id",
            "revision_id": f"{first_revision} + (a.id - {made['first_article']}) * 10"
            " + s.g",
            "actor_id": "a.created_by_id",
            "at": ts(f"{start} + (a.id * 104729 + s.g * 3600) % {SPAN}"),
            "from_stage": pick(steps, "s.g - 1"),
            "to_stage": pick(steps, "s.g"),
            "note": "''",
        },
        # Most articles went through five steps, some through four: ~4.85 each.
        f"{a} a CROSS JOIN {{s}} WHERE s.g <= CASE WHEN a.id % 20 < 3 THEN 4 "
        "ELSE 5 END",
        series=5,
    )
    insert_select(
        Reference,
        {
            "article_id": "a.id",
            "position": "s.g",
            "title": "'Study ' || s.g || ' of skin in ' || a.id || ' people'",
            "publisher": pick(
                ["J Am Acad Dermatol", "Br J Dermatol", "JAMA Derm"], "a.id + s.g"
            ),
            "year": "2000 + (a.id + s.g) % 25",
            "url": "'https://example.org/studies/' || a.id || '/' || s.g",
            "doi": "'10.1000/' || a.id || '.' || s.g",
            "pmid": "''",
        },
        f"{a} a CROSS JOIN {{s}}",
        series=5,
    )
    insert_select(
        Correction,
        {
            "article_id": "a.id",
            "revision_id": "a.live_revision_id",
            "text": "'We corrected the concentration in the third section.'",
            "published_at": ts(f"{start} + (a.id * 7919) % {SPAN}"),
            "created_by_id": "a.created_by_id",
        },
        f"{a} a WHERE a.stage = 'live' AND a.id % 50 = 0",
    )
    insert_select(
        MedicalApproval,
        {
            "article_id": "a.id",
            "revision_id": "a.live_revision_id",
            "review_hash": "'rev' || a.id",
            "reviewer_id": f"{made['authors'][0]}",
            "reviewer_name": "'Ada Writer0'",
            "reviewer_credentials": "'MD, dermatologist'",
            "approved_at": "a.published_at",
            "note": "''",
        },
        f"{a} a WHERE a.medical AND a.live_revision_id IS NOT NULL",
    )


def audience(sizes: Sizes, start: float, made: dict) -> None:
    """Subscribers over ten years (80% confirmed, 8% pending, the rest left),
    a third with topics chosen, and ~2.1 events each."""
    n_topics = len(made["topics"])
    first = next_id(Subscriber)
    made["first_subscriber"] = first
    created = f"({start} + (s.g * {SPAN}) / {sizes.subscribers} + s.g % 3600)"
    left = "s.g % 100 >= 88"
    status = (
        "CASE WHEN s.g % 100 < 80 THEN 'confirmed' WHEN s.g % 100 < 88 THEN "
        "'pending' WHEN s.g % 100 < 96 THEN 'unsubscribed' WHEN s.g % 100 < 99 "
        "THEN 'bounced' ELSE 'complained' END"
    )
    domains = pick(["example.com", "mail.example", "example.org"], "s.g")
    insert_select(
        Subscriber,
        {
            "id": f"{first - 1} + s.g",
            "email": "'reader' || s.g || '@' || " + domains,
            "first_name": pick(FIRST_NAMES, "s.g * 7"),
            "status": status,
            "consent_text": "'Send me the Skincare newsletter.'",
            "consent_version": "'2016-1'",
            "consent_source": pick(["footer", "page", "import"], "s.g"),
            "consent_at": ts(created),
            "consent_ip": "'192.0.2.1'",
            "confirmed_at": f"CASE WHEN s.g % 100 < 80 OR {left} THEN "
            f"{ts(created + ' + 600')} END",
            "left_at": f"CASE WHEN {left} THEN {ts(created + ' + 86400 * 30')} END",
            "left_how": f"CASE WHEN {left} THEN 'link' ELSE '' END",
            "frequency": "CASE WHEN s.g % 7 = 0 THEN 'monthly_digest' ELSE "
            "'every_issue' END",
            "created_at": ts(created),
            "updated_at": ts(created),
        },
        "{s}",
        series=sizes.subscribers,
    )
    through = Subscriber.topics.through
    insert_select(
        through,
        {
            "subscriber_id": f"{first - 1} + s.g",
            "topic_id": f"{made['topics'][0]} + (s.g * 7) % {n_topics}",
        },
        "{s} WHERE s.g % 3 = 0",
        series=sizes.subscribers,
    )
    kinds = ["signed_up", "confirmation_sent", "confirmed"]
    n = sizes.subscribers
    insert_select(
        SubscriberEvent,
        {
            "subscriber_id": f"{first} + (s.g - 1) % {n}",
            "kind": f"CASE WHEN s.g > {3 * n} THEN 'unsubscribed' ELSE "
            f"{pick(kinds, f'(s.g - 1) / {n}')} END",
            "at": ts(f"{start} + (((s.g - 1) % {n}) * {SPAN}) / {n} + s.g % 7200"),
            "ip": "'192.0.2.1'",
            "detail": "''",
        },
        "{s}",
        series=round(2.1 * n),
    )


def issues(sizes: Sizes, start: float, made: dict) -> None:
    """Sent issues over ten years, each to per_issue subscribers (97.5% sent),
    a few % with a provider event, links clicked, five articles each; and the
    big issue (big_recipients) last."""
    first = next_id(Issue)
    count = sizes.issues + (1 if sizes.big_issue else 0)
    sent = f"({start} + (s.g * {SPAN}) / {count})"
    insert_select(
        Issue,
        {
            "id": f"{first - 1} + s.g",
            "subject": "'Your skin this week, number ' || s.g",
            "slug": "'issue-' || s.g",
            "preheader": "'Sun care, retinol and a correction'",
            "body": "'<p>' || "
            + " || ".join(["'This week we read the evidence on retinol.'"] * 8)
            + " || '</p>'",
            "kind": "CASE WHEN s.g % 5 = 0 THEN 'digest' ELSE 'regular' END",
            "status": "'sent'",
            "send_started_at": ts(sent),
            "sent_at": ts(sent + " + 3600"),
            "recipient_count": f"CASE WHEN s.g > {sizes.issues} THEN "
            f"{sizes.big_recipients} ELSE {sizes.per_issue} END",
            "created_at": ts(sent + " - 86400"),
            "updated_at": ts(sent + " + 3600"),
        },
        "{s}",
        series=count,
    )
    made["first_issue"] = first
    made["big_issue"] = first + sizes.issues if sizes.big_issue else None
    insert_select(
        IssueArticle,
        {
            "issue_id": "i.id",
            "article_id": f"{made['first_article']} + (i.id * 37 + s.g * 101) % "
            f"{sizes.articles}",
            "position": "s.g",
        },
        "newsletter_issue i CROSS JOIN {s}",
        series=5,
    )
    subscriber = made["first_subscriber"]
    per = sizes.per_issue
    for label, total, issue in (
        ("issues", sizes.issues * per, f"{first} + (s.g - 1) / {per}"),
        ("big", sizes.big_recipients, f"{made['big_issue']}"),
    ):
        if not total:
            continue
        nth = "(s.g - 1)" if label == "big" else f"((s.g - 1) % {per})"
        who = (
            f"{subscriber} + ({nth} + (({issue}) * 7919)) % {sizes.subscribers}"
            if label == "issues"
            else f"{subscriber} + {nth}"
        )
        # Sent over the issue's hour, one every 50 ms.
        moment = (
            f"{start} + (({issue}) - {first} + 1) * {SPAN}.0 / {count} + {nth} / 20"
        )
        insert_select(
            Delivery,
            {
                "issue_id": issue,
                "subscriber_id": who,
                "status": "CASE WHEN s.g % 200 < 195 THEN 'sent' WHEN s.g % 200 < "
                "197 THEN 'failed' WHEN s.g % 200 < 199 THEN 'skipped' ELSE "
                "'uncertain' END",
                "attempts": "1",
                "next_attempt_at": ts(moment),
                "sent_at": f"CASE WHEN s.g % 200 < 195 THEN {ts(moment)} END",
                "smtp_code": "250",
                "provider_message_id": "'<' || s.g || '." + label + "@mail.example>'",
                "error": "''",
                "changes_shown": "true" if postgres() else "1",
                "updated_at": ts(moment),
            },
            "{s}",
            series=total,
        )
    insert_select(
        DeliveryEvent,
        {
            "delivery_id": "d.id",
            "subscriber_id": "d.subscriber_id",
            "issue_id": "d.issue_id",
            "kind": pick(
                ["bounced", "soft_bounced", "complained", "unsubscribed", "deferred"],
                "d.id / 33",
            ),
            "provider": "'smtp'",
            "event_id": "'ev' || d.id",
            "at": "d.updated_at",
            "detail": "''",
        },
        "newsletter_delivery d WHERE d.id % 33 = 0",
    )
    insert_select(
        LinkClick,
        {
            "issue_id": "i.id",
            "url": "'https://skincare.example/articles/' || i.id || '-' || s.g || '/'",
            "clicks": "1 + (i.id * s.g * 7919) % 900",
            "first_at": "i.sent_at",
            "last_at": "i.sent_at",
        },
        "newsletter_issue i CROSS JOIN {s}",
        series=20,
    )


def insight(sizes: Sizes, start: float, made: dict) -> None:
    """The last year's readership of one article in twenty, a year of searches."""
    now = time.time()
    sources = ["search", "newsletter", "social", "direct", "internal"]
    insert_select(
        DailyReadership,
        {
            "article_id": "a.id",
            "day": day(f"{now} - s.g * 86400"),
            "source": pick(sources, "a.id + s.g"),
            "views": "1 + (a.id * s.g * 7919) % 400",
        },
        "articles_article a CROSS JOIN {s} WHERE a.id % 20 = 0 AND a.stage = 'live'",
        series=365,
    )
    queries = max(10, round(200 * sizes.scale**0.5))
    insert_select(
        SearchCount,
        {
            "day": day(f"{now} - ((s.g - 1) / {queries}) * 86400"),
            "query": f"{pick(WORDS, 's.g * 13')} || ' ' || {pick(WORDS, 's.g')}"
            " || ' ' || ((s.g - 1) % " + str(queries) + ")",
            "found_nothing": "s.g % 9 = 0" if postgres() else "(s.g % 9 = 0)",
            "count": "1 + (s.g * 7919) % 40",
        },
        "{s}",
        series=365 * queries,
    )


STEPS = (
    ("articles", articles),
    ("revisions, transitions, sources", editorial),
    ("subscribers and their events", audience),
    ("issues and deliveries", issues),
    ("readership and searches", insight),
)
BIG_TABLES = [
    "articles_articlerevision",
    "articles_transition",
    "articles_reference",
    "newsletter_subscriber",
    "newsletter_subscriber_topics",
    "newsletter_subscriberevent",
    "newsletter_delivery",
    "newsletter_deliveryevent",
    "articles_dailyreadership",
    "articles_searchcount",
]


def load(sizes: Sizes, say=lambda line: None) -> dict:
    """Everything, in one transaction; returns what was made (ids, staff) and
    the seconds each step took."""
    start = time.time() - SPAN - 7 * 86400
    timings = {}
    with transaction.atomic():
        made = people(sizes, start)
        with bulk_mode(BIG_TABLES):
            for label, step in STEPS:
                began = time.perf_counter()
                step(sizes, start, made)
                timings[label] = time.perf_counter() - began
                say(f"  {label}: {timings[label]:.1f} s")
            began = time.perf_counter()
        timings["indexes and constraints"] = time.perf_counter() - began
        say(f"  indexes and constraints: {timings['indexes and constraints']:.1f} s")
        reset_sequences()
    made["timings"] = timings
    return made
