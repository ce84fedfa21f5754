"""The public article page, prepared once instead of on every request.

What the page shows that depends only on the article's content is made when that
content changes (prepare_article) and stored: the body as served (pictures, heading
ids, linked citations), the cover's picture markup, the table of contents, the
sources' first citations, the reading time and the JSON-LD (PreparedPage), and the
related articles (RelatedArticle rows, a few more than are shown); and the page
around them: its head, its main part above and below the related articles, and
the article's own card for other articles' related lists.

A live article's page is served from those stored parts (stored_page): two
queries compiled once per process (core/compiled.py), one for the article with
its prepared row and what tells whether that still fits, one for its related
articles' stored cards. When anything does not fit, ArticleDetailView works the
page out with ArticlePage: the article's query (its prepared row and corrections
inside), its sources' and its related articles'.

A prepared row is used only while it matches the article: made in this format for
these site settings (site_key), after the row's last save, for as many sources and
corrections as it has. Otherwise, and always for previews of a revision, the page
is worked out per request as before: slower, never wrong.

Kept in step by:
- services.refresh_article_page, after publish, unpublish, approval of the live
  version and load_launch_content;
- tasks: the articles of an author or topic edited in the admin (names and
  addresses in JSON-LD), those showing an image whose renditions were just made;
- tasks.refresh_related: the related lists of the articles around one published,
  unpublished, retitled, rescheduled or moved (refresh_related_around). Meanwhile
  the page shows only related articles that are live, so an unpublished one
  vanishes at once and the spare ones fill in;
- tasks.refresh_all_related: every related list, daily (refresh_all_related);
- `manage.py prepare_articles`: existing databases, and each deploy, BATCH
  articles at a time (prepare_batch).

A page never ranks related articles: it reads the stored list, or, for an
article without one, its topic's newest (ArticlePage.related).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from articles.models import (
    Article,
    PreparedPage,
    RelatedArticle,
    source_dict,
)
from articles.publishing import body, corrections, renditions, seo, trust
from articles.publishing.pages import (
    ArticlePage,
    article_sources,
    card_key,
    cover_html,
    people_key,
    related_basis,
    render_card,
    render_head,
    render_part,
    site_key,
    table_of_contents,
)

# Kept beyond those shown, for the page to fall back on while a related article
# that went off the site (or a scheduled one not live yet) waits for the refresh.
RELATED_SPARE = 3
RELATED_KEPT = trust.RELATED_COUNT + RELATED_SPARE
# Articles per query when many are prepared (SQLite limits query parameters).
BATCH = 500


# Preparing ------------------------------------------------------------------------


def prepare_article(*, article: Article) -> bool:
    """Make and store what the public page of the article shows, and its related
    articles, from the database as it is now (only article.pk is read); for an
    article that is not published, delete them. True when the change moves the
    article in other articles' related lists (published, unpublished, retitled,
    rescheduled or moved): refresh_related_around should follow."""
    return article.pk in prepare_batch([article.pk])


def prepare_batch(ids: list[int]) -> set[int]:
    """prepare_article for these articles (at most BATCH) in a few queries for
    them all: the articles with their sources and corrections, their renditions,
    one upsert of their prepared rows, their related lists (one query per topic);
    returns those that moved in other articles' related lists."""
    with transaction.atomic():
        articles = list(
            corrections.with_corrections(
                Article.objects.select_related("author", "topic", "reviewer")
            )
            .filter(pk__in=ids, status=Article.Status.PUBLISHED)
            .prefetch_related("references")
        )
        before = dict(
            PreparedPage.objects.filter(article_id__in=ids).values_list(
                "article_id", "related_basis"
            )
        )
        live = {article.pk for article in articles}
        gone = [pk for pk in ids if pk not in live]
        if gone:
            PreparedPage.objects.filter(article_id__in=gone).delete()
            RelatedArticle.objects.filter(article_id__in=gone).delete()
        found = renditions.lookup(
            name
            for article in articles
            for name in (
                article.cover_image.name or "",
                *renditions.body_sources(article.body),
            )
        )
        pages = [made_page(article, found) for article in articles]
        PreparedPage.objects.bulk_create(
            pages,
            update_conflicts=True,
            unique_fields=["article"],
            update_fields=PAGE_FIELDS,
        )
        write_related_of(articles)
    moved = {pk for pk in gone if pk in before}
    moved.update(
        p.article_id for p in pages if before.get(p.article_id) != p.related_basis
    )
    return moved


# Every field of a prepared row but the article: what an upsert rewrites.
PAGE_FIELDS = [
    field.name
    for field in PreparedPage._meta.concrete_fields
    if field.name != "article"
]


def made_page(current: Article, found: dict) -> PreparedPage:
    """The prepared row of a published article, with its corrections annotated
    and sources prefetched, and the renditions its pictures show."""
    sources = article_sources(current)
    # The page around the body, as a preview works it out: from the article as
    # it is now, never from a stored row.
    page = ArticlePage(current, preview=True)
    return PreparedPage(
        article_id=current.pk,
        body_html=body.render_body(
            current.body, source_count=len(sources), renditions=found
        ),
        cover_html=cover_html(current, found),
        outline=[asdict(h) for h in table_of_contents(current.body)],
        first_citations=body.first_citations(current.body, len(sources)),
        sources=[source_dict(source) for source in sources],
        reading_minutes=trust.reading_minutes(current.body),
        json_ld=seo.dump_json_ld(seo.article_json_ld(current)),
        source_count=len(sources),
        correction_count=len(corrections.for_article(current)),
        site_key=site_key(),
        related_basis=related_basis(current),
        head_html=render_head(page),
        top_html=render_part("top", page),
        bottom_html=render_part("bottom", page),
        people_key=people_key(current),
        card_html=render_card(current),
        card_key=card_key(
            author_name=current.author.name, topic_name=current.topic.name
        ),
        prepared_at=timezone.now(),
    )


def write_related_of(articles: list[Article]) -> list[int]:
    """Store these articles' related lists: ranked among all published ones,
    scheduled included (the page shows those live), a few spare. Lists already
    so are left alone; returns the articles whose list changed."""
    if not articles:
        return []
    chosen = trust.related_ids_for(
        articles,
        count=RELATED_KEPT,
        among=Article.objects.filter(status=Article.Status.PUBLISHED),
    )
    with transaction.atomic():
        # One writer per list at a time. NO KEY UPDATE: a publish holding another
        # article's row still adds related rows pointing at this one meanwhile.
        list(
            Article.objects.select_for_update(no_key=True)
            .filter(pk__in=chosen)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        stored: dict[int, list[int]] = defaultdict(list)
        rows = (
            RelatedArticle.objects.filter(article_id__in=chosen)
            .order_by("article_id", "position")
            .values_list("article_id", "related_id")
        )
        for article_id, related_id in rows:
            stored[article_id].append(related_id)
        changed = sorted(pk for pk, ids in chosen.items() if stored[pk] != ids)
        if changed:
            RelatedArticle.objects.filter(article_id__in=changed).delete()
            RelatedArticle.objects.bulk_create(
                RelatedArticle(article_id=pk, related_id=other, position=n)
                for pk in changed
                for n, other in enumerate(chosen[pk], start=1)
            )
    return changed


def articles_around(*, article_id: int, topic_id: int, text: str) -> set[int]:
    """The published articles whose related list may change with this article
    (its topic and its title and summary as `text`), as trust.related_articles
    ranks: those listing it now; its topic's, when it is among the topic's newest
    (their lists are those); and those whose list is filled with shared words
    (topics with too few articles) whose significant words its text contains (a
    substring match, as the ranking's icontains; case-folded a little more
    generously, so never fewer). Index reads only: never every article."""
    found = set(
        RelatedArticle.objects.filter(related_id=article_id).values_list(
            "article_id", flat=True
        )
    )
    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    in_topic = published.filter(topic_id=topic_id)
    newest = list(
        in_topic.order_by("-published_at", "-pk").values_list("pk", flat=True)[
            : RELATED_KEPT + 1
        ]
    )
    if article_id in newest:
        found.update(in_topic.values_list("pk", flat=True))
    small_topics = (
        published.values("topic_id")
        .annotate(articles=Count("pk"))
        .filter(articles__lte=RELATED_KEPT)
        .values("topic_id")
    )
    lowered = text.lower()
    rows = published.filter(topic_id__in=small_topics).values_list(
        "pk", "topic_id", "title", "summary"
    )
    for pk, topic, title, summary in rows:
        if topic == topic_id or any(
            term in lowered for term in trust.related_terms(title, summary)
        ):
            found.add(pk)
    found.discard(article_id)
    return found


def refresh_related_around(*, article_id: int, topic_id: int, text: str) -> int:
    """Make again the related lists articles_around names; returns how many
    changed."""
    return len(
        refresh_related_of(
            articles_around(article_id=article_id, topic_id=topic_id, text=text)
        )
    )


def refresh_related_of(ids: Iterable[int]) -> list[int]:
    """Make again the related lists of these articles (the published ones);
    returns those whose list changed."""
    ids = sorted(ids)
    changed = []
    for start in range(0, len(ids), BATCH):
        batch = Article.objects.filter(
            pk__in=ids[start : start + BATCH], status=Article.Status.PUBLISHED
        ).only("pk", "title", "summary", "topic_id")
        changed.extend(write_related_of(list(batch)))
    return changed


def refresh_all_related() -> list[int]:
    """Make again the related list of every published article (the daily
    refresh: lists drift as articles age out of the shared-words window or are
    scheduled in); returns those whose list changed."""
    return refresh_related_of(published_ids(Q()))


def prepare_articles(
    ids: Iterable[int], *, progress: Callable[[int, int], None] | None = None
) -> int:
    """prepare_article for each of these articles, BATCH at a time; returns how
    many. `progress(done, total)` is called after each batch."""
    ids = list(ids)
    for start in range(0, len(ids), BATCH):
        prepare_batch(ids[start : start + BATCH])
        if progress is not None:
            progress(min(start + BATCH, len(ids)), len(ids))
    return len(ids)


def published_ids(condition: Q) -> list[int]:
    return list(
        Article.objects.filter(condition, status=Article.Status.PUBLISHED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def prepare_showing(source: str) -> int:
    """Prepare again the published articles showing an image (as cover or in the
    body): its renditions were just made, the picture markup changes."""
    if not source:
        return 0
    return prepare_articles(published_ids(renditions.showing(source)))


def prepare_by(*, author_id: int | None = None, topic_id: int | None = None) -> int:
    """Prepare again the published articles naming an author (as author or
    reviewer) or in a topic: their names and addresses are in the JSON-LD."""
    return prepare_articles(ids_by(author_id=author_id, topic_id=topic_id))


def ids_by(*, author_id: int | None = None, topic_id: int | None = None) -> list[int]:
    """The published articles naming an author (as author or reviewer) or in a
    topic."""
    condition = Q(pk__in=[])
    if author_id is not None:
        condition |= Q(author_id=author_id) | Q(reviewer_id=author_id)
    if topic_id is not None:
        condition |= Q(topic_id=topic_id)
    return published_ids(condition)


def outdated_ids() -> list[int]:
    """Published articles whose page has no prepared row, or one made for another
    format or site, or before the row's last save."""
    current = Q(
        prepared__site_key=site_key(), prepared__prepared_at__gte=F("updated_at")
    )
    return published_ids(~current)
