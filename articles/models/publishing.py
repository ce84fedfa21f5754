"""What is made from an article for its public page: the prepared page, its related
articles, resized images."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from articles.models.content import Article


class PreparedPage(models.Model):
    """What the public page of a published article shows that depends only on
    its content, made once whenever that changes (articles/publishing/prepared.py),
    never per
    request. A separate row, so the many queries listing articles do not carry it."""

    article = models.OneToOneField(
        Article, primary_key=True, on_delete=models.CASCADE, related_name="prepared"
    )
    body_html = models.TextField(
        help_text="The body as served: pictures, heading ids, linked citations."
    )
    cover_html = models.TextField(blank=True, help_text="The cover's picture markup.")
    outline = models.JSONField(
        default=list, help_text="The table of contents; empty when there is none."
    )
    first_citations = models.JSONField(
        default=dict, help_text="{source number: id of its first citation}."
    )
    top_html = models.TextField(
        blank=True,
        help_text="The page down to its related articles "
        "(includes/article/main_top.html).",
    )
    bottom_html = models.TextField(
        blank=True,
        help_text="The page after its related articles "
        "(includes/article/main_bottom.html).",
    )
    head_html = models.TextField(
        blank=True,
        help_text="The page's title, description, sharing tags and JSON-LD "
        "(includes/article/head.html).",
    )
    card_html = models.TextField(
        blank=True,
        help_text="The article's card in other articles' related lists "
        "(includes/article_card.html).",
    )
    card_key = models.CharField(
        max_length=64,
        blank=True,
        help_text="A digest of the author and topic names the card shows.",
    )
    people_key = models.CharField(
        max_length=64,
        blank=True,
        help_text="A digest of the author, reviewer and topic as the stored markup "
        "names them.",
    )
    sources = models.JSONField(
        default=list,
        help_text="The sources shown under the article, in order (title, publisher, "
        "year, url, doi, pmid).",
    )
    reading_minutes = models.PositiveSmallIntegerField()
    json_ld = models.TextField(help_text="The page's JSON-LD, escaped for <script>.")
    source_count = models.PositiveIntegerField(
        help_text="How many sources the citations were linked for."
    )
    correction_count = models.PositiveIntegerField(
        help_text="How many corrections the JSON-LD lists."
    )
    site_key = models.CharField(
        max_length=64,
        help_text="The format and site settings it was made with (prepared.site_key).",
    )
    related_basis = models.CharField(
        max_length=64,
        help_text="A digest of what places the article among others' related "
        "articles: a change means their lists need making again.",
    )
    prepared_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Prepared page of article {self.article_id}"


class RelatedArticle(models.Model):
    """An article suggested under another, in order; kept by
    articles/publishing/prepared.py
    (a few more than are shown, so one unpublished meanwhile leaves no gap)."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="related_links"
    )
    related = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="listed_by"
    )
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["article", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "position"], name="related_article_position_unique"
            ),
            models.UniqueConstraint(
                fields=["article", "related"], name="related_article_once"
            ),
            models.CheckConstraint(
                condition=~Q(article=F("related")), name="related_article_not_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.related_id} related to {self.article_id}"


class ImageRendition(models.Model):
    """A resized copy of an uploaded image, made once, in one width and format."""

    source = models.CharField(max_length=300, db_index=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    file = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "width", "format"], name="rendition_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.width}w {self.format}"
