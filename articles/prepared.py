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
- `manage.py prepare_articles`: existing databases, and each deploy.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from articles import body, corrections, renditions, revisions, seo, trust
from articles.models import (
    Article,
    ImageRendition,
    PreparedPage,
    RelatedArticle,
    is_live,
)
from core.compiled import CompiledValues
from core.links import absolute
from core.pagecache import release

# Bump when what prepare_article makes changes (markup, JSON-LD, outline): rows
# made in an older format are then worked out per request until prepare_articles
# has made them again.
FORMAT = 3
# Fewer headings than this: no table of contents.
TOC_MIN_HEADINGS = 2
# Kept beyond those shown, for the page to fall back on while a related article
# that went off the site (or a scheduled one not live yet) waits for the refresh.
RELATED_SPARE = 3
RELATED_KEPT = trust.RELATED_COUNT + RELATED_SPARE
# Articles per query when many are prepared (SQLite limits query parameters).
BATCH = 500


@dataclass(frozen=True)
class NumberedSource:
    number: int
    source: Any
    # The id of the source's first citation in the body; empty when not cited.
    first_citation: str


def article_sources(article: Article) -> list:
    """The sources shown under the article, in order: its Reference rows, or the
    sources of the revision it was made from (a preview of a draft revision)."""
    if hasattr(article, "revision_sources"):
        return list(article.revision_sources)
    return list(article.references.all()) if article.pk else []


def numbered_sources(
    sources: list, first_citations: dict[int, str]
) -> list[NumberedSource]:
    """The sources numbered from 1, each with the id of its first citation in the
    body (for a link back to the text)."""
    return [
        NumberedSource(
            number=n, source=source, first_citation=first_citations.get(n, "")
        )
        for n, source in enumerate(sources, start=1)
    ]


def table_of_contents(html: str) -> list[body.Heading]:
    """The body's outline when it has at least two h2/h3 headings, else []."""
    if body.heading_count(html) < TOC_MIN_HEADINGS:
        return []
    return body.body_outline(html)


def site_key() -> str:
    """What prepared pages depend on besides the article: the format, and the
    site's addresses (SITE_URL, media, the hashed names of the static images the
    JSON-LD names). A deploy changing any of them retires the rows made before."""
    return _digest(
        FORMAT,
        # The templates and code that made the stored markup.
        release(),
        settings.SITE_URL,
        settings.SITE_NAME,
        settings.MEDIA_URL,
        static(seo.LOGO_IMAGE),
        static(seo.DEFAULT_IMAGE),
    )


@lru_cache(maxsize=16)
def _digest(*parts: Any) -> str:
    text = json.dumps(parts, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# What the stored markup says of the article's author, reviewer and topic.
AUTHOR_FIELDS = ("name", "slug", "credentials", "bio")
# Of the reviewer's profile: the link and the JSON-LD type. Their name and
# credentials are the approval's, copied onto the article (REVIEWED_AS_FIELDS).
REVIEWER_FIELDS = ("slug", "kind")
REVIEWED_AS_FIELDS = ("reviewer_name", "reviewer_credentials")
TOPIC_FIELDS = ("name", "slug", "medical")


def people_key(article: Article) -> str:
    """A digest of what the stored markup says of the article's author, reviewer
    and topic: an edit to any of them makes the page be worked out until it is
    prepared again (prepare_by, in the background)."""
    author, reviewer, topic = article.author, article.reviewer, article.topic
    return _digest(
        tuple(getattr(author, name) for name in AUTHOR_FIELDS),
        (
            *(getattr(reviewer, name) for name in REVIEWER_FIELDS),
            *(getattr(article, name) for name in REVIEWED_AS_FIELDS),
        )
        if reviewer
        else None,
        tuple(getattr(topic, name) for name in TOPIC_FIELDS),
    )


def card_key(*, author_name: str, topic_name: str) -> str:
    """A digest of the names an article's card shows besides its own fields."""
    return _digest(author_name, topic_name)


def render_part(name: str, page: "ArticlePage") -> SafeString:
    """includes/article/main_<name>.html for the page, as served."""
    # Safe: rendered by the template engine, which escaped it.
    return mark_safe(
        render_to_string(
            f"includes/article/main_{name}.html",
            {"article": page.article, "article_page": page},
        )
    )


def render_head(page: "ArticlePage") -> str:
    """includes/article/head.html for the page, as served: without a request,
    so the canonical address is given."""
    return render_to_string(
        "includes/article/head.html",
        {
            "article": page.article,
            "article_page": page,
            "canonical_url": absolute(page.article.get_absolute_url()),
        },
    )


def render_card(article: Article) -> str:
    """The article's card as a related article (includes/article/related.html)."""
    return render_to_string(
        "includes/article_card.html", {"article": article, "level": 3}
    )


def related_basis(article: Article) -> str:
    """What places an article in other articles' related lists (trust.related_
    articles ranks by topic, title and summary words, and publish time)."""
    return _digest(
        article.topic_id, article.title, article.summary, article.published_at
    )


def cover_html(article: Article, found: dict[str, list[ImageRendition]]) -> str:
    """The cover as includes/article/cover.html's picture tag renders it."""
    name = article.cover_image.name or ""
    if not name:
        return ""
    return renditions.render_picture(
        src=article.cover_image.url,
        renditions=found.get(name, []),
        alt=article.cover_image_alt,
        width=article.cover_image_width,
        height=article.cover_image_height,
        sizes="cover",
        lazy=False,
        priority=True,
    )


# Reading --------------------------------------------------------------------------


class ArticlePage:
    """What the article page shows beside the article's own fields: its prepared
    row when one matches, else worked out now (and always so for a preview, whose
    article is a revision's unsaved copy). Each part is made when the template
    first asks for it: worked out, the cover's picture tag comes first and looks
    up the body's renditions too (renditions.page_renditions)."""

    def __init__(self, article: Article, *, preview: bool = False):
        self.article = article
        self.preview = preview

    @cached_property
    def sources(self) -> list:
        if self.prepared:
            return self.prepared.sources
        return article_sources(self.article)

    @cached_property
    def corrections(self) -> list[corrections.PublicCorrection]:
        return corrections.for_article(self.article)

    @cached_property
    def prepared(self) -> PreparedPage | None:
        """The article's prepared row, when there is one made for it as it is."""
        if self.preview or self.article.pk is None:
            return None
        try:
            row = self.article.prepared
        except ObjectDoesNotExist:
            return None
        fits = (
            row.site_key == site_key()
            # Sources are written with the revision a publish applies, which
            # saves the article: a row made since holds them as published.
            and row.prepared_at >= self.article.updated_at
            and row.correction_count == len(self.corrections)
        )
        return row if fits else None

    @cached_property
    def stored_parts(self) -> bool:
        """Whether the stored top and bottom of the page name the author, reviewer
        and topic as they are now."""
        return bool(
            self.prepared
            and self.prepared.top_html
            and self.prepared.people_key == people_key(self.article)
        )

    @cached_property
    def head(self) -> SafeString | None:
        """The stored head; None when the template is to render it."""
        if self.stored_parts and self.prepared.head_html:
            # Safe: render_head's output, stored by prepare_article.
            return mark_safe(self.prepared.head_html)
        return None

    # The related articles' cards are rendered from `related` by the template.
    related_html = None

    @cached_property
    def top(self) -> SafeString:
        if self.stored_parts:
            # Safe: render_part's output, stored by prepare_article.
            return mark_safe(self.prepared.top_html)
        return render_part("top", self)

    @cached_property
    def bottom(self) -> SafeString:
        if self.stored_parts:
            # Safe: render_part's output, stored by prepare_article.
            return mark_safe(self.prepared.bottom_html)
        return render_part("bottom", self)

    @cached_property
    def body(self) -> SafeString:
        if self.prepared:
            # Safe: render_body's output, stored by prepare_article.
            return mark_safe(self.prepared.body_html)
        return body.render_body(self.article.body, source_count=len(self.sources))

    @cached_property
    def cover(self) -> SafeString:
        """The cover's stored markup; empty when worked out (the template's picture
        tag renders it then)."""
        # Safe: renditions.render_picture's output, stored by prepare_article.
        return mark_safe(self.prepared.cover_html if self.prepared else "")

    @cached_property
    def outline(self) -> list:
        if self.prepared:
            return self.prepared.outline
        return table_of_contents(self.article.body)

    @cached_property
    def numbered_sources(self) -> list[NumberedSource]:
        if self.prepared:
            first = {int(n): i for n, i in self.prepared.first_citations.items()}
        else:
            first = body.first_citations(self.article.body, len(self.sources))
        return numbered_sources(self.sources, first)

    @cached_property
    def reading_minutes(self) -> int:
        if self.prepared:
            return self.prepared.reading_minutes
        return trust.reading_minutes(self.article.body)

    @cached_property
    def json_ld(self) -> SafeString:
        if self.prepared:
            # Safe: seo.dump_json_ld's output, stored by prepare_article.
            return seo.json_ld_element(mark_safe(self.prepared.json_ld))
        return seo.json_ld_script(seo.article_json_ld(self.article))

    @cached_property
    def related(self) -> list[Article]:
        """Live articles to read next. Prepared: the stored list, read through
        published() so one that went off the site is never shown."""
        if not self.prepared:
            return trust.related_articles(self.article)
        return listed_related(self.article.pk)


def listed_related(article_id: int) -> list[Article]:
    """The first live articles of the article's stored related list."""
    return list(
        Article.objects.published()
        .for_listing()
        .filter(listed_by__article_id=article_id)
        .order_by("listed_by__position")[: trust.RELATED_COUNT]
    )


# The article's page as stored, read in two compiled queries (core/compiled.py):
# the article with its prepared row and what tells whether the row still fits it,
# then its related articles with their stored cards.
_PAGE = CompiledValues(
    lambda slug: (
        Article.objects.filter(slug=slug)
        .annotate(correction_total=corrections.count_subquery())
        .values_list(
            "pk",
            "status",
            "published_at",
            "updated_at",
            "reviewer_id",
            *(f"author__{name}" for name in AUTHOR_FIELDS),
            *(f"reviewer__{name}" for name in REVIEWER_FIELDS),
            *REVIEWED_AS_FIELDS,
            *(f"topic__{name}" for name in TOPIC_FIELDS),
            "correction_total",
            "prepared__site_key",
            "prepared__prepared_at",
            "prepared__people_key",
            "prepared__correction_count",
            "prepared__head_html",
            "prepared__top_html",
            "prepared__bottom_html",
        )
    )
)
_RELATED = CompiledValues(
    lambda slug: (
        RelatedArticle.objects.filter(article__slug=slug)
        .order_by("position")
        .values_list(
            "related__status",
            "related__published_at",
            "related__updated_at",
            "related__author__name",
            "related__topic__name",
            "related__prepared__site_key",
            "related__prepared__prepared_at",
            "related__prepared__card_key",
            "related__prepared__card_html",
        )
    )
)


class StoredPage:
    """A live article's page as prepare_article stored it, for ArticleDetailView:
    what the template shows of it, and nothing to work out."""

    def __init__(
        self,
        *,
        article_id: int,
        head: str,
        top: str,
        bottom: str,
        related_html: str | None,
    ):
        self.article_id = article_id
        # Safe: render_head's and render_part's output, stored by prepare_article.
        self.head = mark_safe(head)
        self.top = mark_safe(top)
        self.bottom = mark_safe(bottom)
        # Safe: render_card's output, stored by prepare_article. None: a card
        # the related articles show must be worked out (`related`).
        self.related_html = None if related_html is None else mark_safe(related_html)

    @cached_property
    def related(self) -> list[Article]:
        if self.related_html is not None:
            return []
        return listed_related(self.article_id)


def stored_page(slug: str) -> StoredPage | None:
    """The live article's stored page when its prepared row fits the article as
    it is now (the same tests as ArticlePage.prepared and .stored_parts); None
    otherwise: not live, not prepared, or changed since (ArticleDetailView then
    works the page out)."""
    rows = _PAGE.rows(slug)
    if not rows:
        return None
    row = rows[0]
    people = _digest(
        tuple(row[f"author__{name}"] for name in AUTHOR_FIELDS),
        (
            *(row[f"reviewer__{name}"] for name in REVIEWER_FIELDS),
            *(row[name] for name in REVIEWED_AS_FIELDS),
        )
        if row["reviewer_id"] is not None
        else None,
        tuple(row[f"topic__{name}"] for name in TOPIC_FIELDS),
    )
    prepared_at = row["prepared__prepared_at"]
    current_site = site_key()
    fits = (
        is_live(row["status"], row["published_at"])
        and row["prepared__site_key"] == current_site
        and prepared_at is not None
        and prepared_at >= row["updated_at"]
        and row["prepared__correction_count"] == (row["correction_total"] or 0)
        and row["prepared__people_key"] == people
        and row["prepared__head_html"]
        and row["prepared__top_html"]
    )
    if not fits:
        return None
    return StoredPage(
        article_id=row["pk"],
        head=row["prepared__head_html"],
        top=row["prepared__top_html"],
        bottom=row["prepared__bottom_html"],
        related_html=stored_cards(slug, current_site=current_site),
    )


def stored_cards(slug: str, *, current_site: str) -> str | None:
    """The stored cards of the first live articles of the article's related list;
    None when one of them has no card made for it as it is now."""
    cards = []
    for row in _RELATED.rows(slug):
        if len(cards) == trust.RELATED_COUNT:
            break
        if not is_live(row["related__status"], row["related__published_at"]):
            continue
        prepared_at = row["related__prepared__prepared_at"]
        fits = (
            row["related__prepared__site_key"] == current_site
            and prepared_at is not None
            and prepared_at >= row["related__updated_at"]
            and row["related__prepared__card_key"]
            == card_key(
                author_name=row["related__author__name"],
                topic_name=row["related__topic__name"],
            )
            and row["related__prepared__card_html"]
        )
        if not fits:
            return None
        cards.append(row["related__prepared__card_html"])
    return "".join(cards)


# Preparing ------------------------------------------------------------------------


def prepare_article(*, article: Article) -> bool:
    """Make and store what the public page of the article shows, and its related
    articles, from the database as it is now (only article.pk is read); for an
    article that is not published, delete them. True when the change moves the
    article in other articles' related lists (published, unpublished, retitled,
    rescheduled or moved): refresh_related_around should follow."""
    with transaction.atomic():
        current = (
            corrections.with_corrections(
                Article.objects.select_related("author", "topic", "reviewer")
            )
            .filter(pk=article.pk)
            .first()
        )
        before = (
            PreparedPage.objects.filter(article_id=article.pk)
            .values_list("related_basis", flat=True)
            .first()
        )
        if current is None or current.status != Article.Status.PUBLISHED:
            PreparedPage.objects.filter(article_id=article.pk).delete()
            RelatedArticle.objects.filter(article_id=article.pk).delete()
            return before is not None
        sources = article_sources(current)
        cover = current.cover_image.name or ""
        found = renditions.lookup({cover, *renditions.body_sources(current.body)})
        basis = related_basis(current)
        PreparedPage.objects.update_or_create(
            article_id=current.pk,
            defaults={
                "body_html": body.render_body(
                    current.body, source_count=len(sources), renditions=found
                ),
                "cover_html": cover_html(current, found),
                "outline": [asdict(h) for h in table_of_contents(current.body)],
                "first_citations": body.first_citations(current.body, len(sources)),
                "sources": [revisions.source_dict(source) for source in sources],
                "reading_minutes": trust.reading_minutes(current.body),
                "json_ld": seo.dump_json_ld(seo.article_json_ld(current)),
                "source_count": len(sources),
                "correction_count": len(corrections.for_article(current)),
                "site_key": site_key(),
                "related_basis": basis,
                "prepared_at": timezone.now(),
            },
        )
        # The page around the body, as a preview works it out: from the
        # database as it is now, never from a stored row.
        page = ArticlePage(current, preview=True)
        PreparedPage.objects.filter(article_id=current.pk).update(
            head_html=render_head(page),
            top_html=render_part("top", page),
            bottom_html=render_part("bottom", page),
            people_key=people_key(current),
            card_html=render_card(current),
            card_key=card_key(
                author_name=current.author.name, topic_name=current.topic.name
            ),
        )
        write_related(article=current)
    return basis != before


def write_related(*, article: Article) -> None:
    """Store the article's related articles: ranked among all published ones,
    scheduled included (the page shows those live), a few spare."""
    chosen = trust.related_articles(
        article,
        count=RELATED_KEPT,
        among=Article.objects.filter(status=Article.Status.PUBLISHED),
    )
    with transaction.atomic():
        # One writer per list at a time. NO KEY UPDATE: a publish holding another
        # article's row still adds related rows pointing at this one meanwhile.
        list(
            Article.objects.select_for_update(no_key=True)
            .filter(pk=article.pk)
            .values_list("pk", flat=True)
        )
        RelatedArticle.objects.filter(article_id=article.pk).delete()
        RelatedArticle.objects.bulk_create(
            RelatedArticle(article_id=article.pk, related=other, position=n)
            for n, other in enumerate(chosen, start=1)
        )


def articles_around(*, article_id: int, topic_id: int, text: str) -> set[int]:
    """The published articles whose related list may change with this article
    (its topic and its title and summary as `text`): those listing it now, those
    in its topic, and those whose significant words its text contains (a
    substring match, as the ranking's icontains; case-folded a little more
    generously, so never fewer)."""
    lowered = text.lower()
    found = set(
        RelatedArticle.objects.filter(related_id=article_id).values_list(
            "article_id", flat=True
        )
    )
    rows = (
        Article.objects.filter(status=Article.Status.PUBLISHED)
        .exclude(pk=article_id)
        .values_list("pk", "topic_id", "title", "summary")
    )
    for pk, topic, title, summary in rows.iterator(chunk_size=BATCH):
        if topic == topic_id or any(
            term in lowered for term in trust.related_terms(title, summary)
        ):
            found.add(pk)
    found.discard(article_id)
    return found


def refresh_related_around(*, article_id: int, topic_id: int, text: str) -> int:
    """Make again the related lists articles_around names; returns how many."""
    return refresh_related_of(
        articles_around(article_id=article_id, topic_id=topic_id, text=text)
    )


def refresh_related_of(ids: Iterable[int]) -> int:
    """Make again the related lists of these articles (the published ones)."""
    ids = sorted(ids)
    done = 0
    for start in range(0, len(ids), BATCH):
        batch = Article.objects.filter(
            pk__in=ids[start : start + BATCH], status=Article.Status.PUBLISHED
        ).only("pk", "title", "summary", "topic_id")
        for other in batch:
            write_related(article=other)
            done += 1
    return done


def prepare_articles(ids: Iterable[int]) -> int:
    """prepare_article for each of these articles; returns how many."""
    done = 0
    for pk in ids:
        prepare_article(article=Article(pk=pk))
        done += 1
    return done


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
