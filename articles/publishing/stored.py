"""A live article's page as stored, read per request in two compiled queries; None
when the stored page no longer fits (articles/publishing/prepared.py)."""

from functools import cached_property

from django.utils.safestring import mark_safe

from articles.models import (
    Article,
    RelatedArticle,
    is_live,
)
from articles.publishing import corrections, trust
from articles.publishing.pages import (
    AUTHOR_FIELDS,
    REVIEWED_AS_FIELDS,
    REVIEWER_FIELDS,
    TOPIC_FIELDS,
    _digest,
    card_key,
    listed_related,
    site_key,
)
from core.compiled import CompiledValues

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
