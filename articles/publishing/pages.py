"""An article's public page worked out from the article (ArticlePage), and the
parts and keys prepared pages are made from and checked against
(articles/publishing/prepared.py tells how they fit together)."""

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from articles.models import (
    Article,
    ImageRendition,
    PreparedPage,
)
from articles.publishing import body, corrections, renditions, seo, trust
from core.links import absolute
from core.pagecache import release

# Bump when what prepare_article makes changes (markup, JSON-LD, outline): rows
# made in an older format are then worked out per request until prepare_articles
# has made them again.
FORMAT = 4
# Fewer headings than this: no table of contents.
TOC_MIN_HEADINGS = 2


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
    site's addresses (SITE_URL, media, the static images the JSON-LD names). A
    deploy changing any of them retires the rows made before."""
    return _digest(
        FORMAT,
        # The templates and code that made the stored markup.
        release(),
        settings.SITE_URL,
        settings.SITE_NAME,
        settings.MEDIA_URL,
        seo.site_image_url(seo.LOGO_IMAGE),
        seo.default_image_url(),
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
        """Live articles to read next: the stored list (kept when the article is
        prepared and by the daily refresh), read through published() so one
        that went off the site is never shown, even while the rest of the row
        no longer fits. Never ranked per request: an article without a row
        (a preview, one not prepared yet) shows its topic's newest."""
        if self.prepared or self.has_row:
            return listed_related(self.article.pk)
        return trust.latest_in_topic(self.article)

    @cached_property
    def has_row(self) -> bool:
        """Whether the article has a prepared row, fitting or not (the detail
        view's query brings it; a preview never uses it)."""
        if self.preview or self.article.pk is None:
            return False
        try:
            return self.article.prepared is not None
        except ObjectDoesNotExist:
            return False


def listed_related(article_id: int) -> list[Article]:
    """The first live articles of the article's stored related list."""
    return list(
        Article.objects.published()
        .for_listing()
        .filter(listed_by__article_id=article_id)
        .order_by("listed_by__position")[: trust.RELATED_COUNT]
    )
