"""Topics, authors and articles: what readers read and who wrote it."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from articles.images import upload_to_author, upload_to_cover
from core.editor.fields import RichTextField
from core.images import validate_image_file


class Stage(models.TextChoices):
    """Where an article is in the editorial workflow. Scheduled turns into Live by
    itself when its publish time comes (Article.stage_label)."""

    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    UNPUBLISHED = "unpublished", "Unpublished"


# Where the change to a live (or scheduled) article is, by the latest revision's
# stage (Article.stage_label).
CHANGES_IN_PROGRESS = {
    Stage.DRAFT: "changes in draft",
    Stage.CHANGES_REQUESTED: "changes requested",
    Stage.IN_REVIEW: "changes in review",
    Stage.APPROVED: "approved changes waiting",
}


class Evidence(models.TextChoices):
    """How strong the evidence behind an article is, shown near its title."""

    STRONG = "strong", "Strong"
    MODERATE = "moderate", "Moderate"
    LIMITED = "limited", "Limited"
    EXPERT_OPINION = "expert_opinion", "Expert opinion"


# What each evidence label means, for readers (the editorial policy page).


EVIDENCE_EXPLAINED = {
    Evidence.STRONG: "Several well-designed randomised controlled trials or "
    "systematic reviews agree.",
    Evidence.MODERATE: "At least one good randomised trial, or several consistent "
    "controlled studies, with some limits.",
    Evidence.LIMITED: "Small, uncontrolled or early studies, case series, or "
    "results that do not yet agree.",
    Evidence.EXPERT_OPINION: "Clinical experience and professional guidance, "
    "without study results to rest on.",
}


DEFAULT_REVIEW_INTERVAL_MONTHS = 12


class Topic(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(
        blank=True,
        max_length=300,
        help_text="One or two sentences shown on the topic page. Plain text.",
    )
    medical = models.BooleanField(
        default=False,
        help_text="Every article in a medical topic needs a medical reviewer's "
        "approval of the exact version before it is published.",
    )
    review_interval_months = models.PositiveSmallIntegerField(
        "review every (months)",
        default=DEFAULT_REVIEW_INTERVAL_MONTHS,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="A medical article is due for a new review this many months "
        "after its approval.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("articles:topic", kwargs={"slug": self.slug})


class Author(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", "A person"
        ORGANIZATION = "organization", "A team or organisation"

    name = models.CharField(max_length=120)
    kind = models.CharField(
        max_length=12,
        choices=Kind.choices,
        default=Kind.PERSON,
        help_text="A byline that is a team (such as the editorial team) is shown "
        "to search engines as an organisation, not a person.",
    )
    slug = models.SlugField(max_length=120, unique=True)
    credentials = models.CharField(
        max_length=120,
        blank=True,
        help_text="Degrees or qualifications, e.g. 'MD, board-certified "
        "dermatologist'. Leave empty rather than guess.",
    )
    bio = models.TextField(
        max_length=600,
        blank=True,
        help_text="A short biography in plain text, up to 600 characters.",
    )
    photo = models.ImageField(
        upload_to=upload_to_author,
        blank=True,
        validators=[validate_image_file],
        width_field="photo_width",
        height_field="photo_height",
        help_text="A portrait, JPEG, PNG or WebP. Shown on the author page.",
    )
    photo_width = models.PositiveIntegerField(null=True, editable=False)
    photo_height = models.PositiveIntegerField(null=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="author_profile",
        help_text="The staff account this byline belongs to. A medical reviewer's "
        "approvals are shown with this name and these credentials.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}, {self.credentials}" if self.credentials else self.name

    def get_absolute_url(self) -> str:
        return reverse("articles:author", kwargs={"slug": self.slug})


def published_q(prefix: str = "") -> Q:
    """The one publish rule, as a filter: published, with a publish time now or
    past. `prefix` reaches articles through a relation ("articles__")."""
    return Q(
        **{
            f"{prefix}status": Article.Status.PUBLISHED,
            f"{prefix}published_at__lte": timezone.now(),
        }
    )


def is_live(status: str, published_at: datetime | None) -> bool:
    """published_q, for an article's status and publish time read as values."""
    return (
        status == Article.Status.PUBLISHED
        and published_at is not None
        and published_at <= timezone.now()
    )


class ArticleQuerySet(models.QuerySet):
    def published(self) -> "ArticleQuerySet":
        """Articles the public may see (published_q)."""
        return self.filter(published_q())

    def for_listing(self) -> "ArticleQuerySet":
        return self.select_related("author", "topic").defer("body")

    def medical(self) -> "ArticleQuerySet":
        """Articles that need a medical reviewer's approval to be published."""
        return self.filter(Q(medical=True) | Q(topic__medical=True))


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=200,
        unique=True,
        help_text="The article's address: /articles/your-slug/. Filled in from the "
        "title; lowercase letters, numbers and hyphens.",
    )
    summary = models.TextField(
        max_length=300,
        help_text="One or two sentences (ideally 120-200 characters, at most 300) "
        "shown on lists and under the title.",
    )
    seo_title = models.CharField(
        "SEO title",
        max_length=70,
        blank=True,
        help_text="Title for search results and browser tabs, at most 70 characters "
        "(about 60 show in search results). Empty: the article's title.",
    )
    seo_description = models.CharField(
        "SEO description",
        max_length=160,
        blank=True,
        help_text="Description for search results, ideally 120-160 characters. "
        "Empty: the summary.",
    )
    cover_image = models.ImageField(
        upload_to=upload_to_cover,
        blank=True,
        width_field="cover_image_width",
        height_field="cover_image_height",
        validators=[validate_image_file],
        help_text="JPEG, PNG, GIF or WebP, up to 10 MB. Shown at the top of the "
        "article and on lists.",
    )
    cover_image_alt = models.CharField(
        "cover image alt text",
        max_length=200,
        blank=True,
        help_text="Required with a cover image: what the image shows, for readers "
        "who cannot see it.",
    )
    cover_image_width = models.PositiveIntegerField(null=True, editable=False)
    cover_image_height = models.PositiveIntegerField(null=True, editable=False)
    author = models.ForeignKey(
        Author, on_delete=models.PROTECT, related_name="articles"
    )
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="articles")
    reviewer = models.ForeignKey(
        Author,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_articles",
        help_text="Who medically reviewed this article. Leave empty unless a review "
        "really took place: it is shown to readers and search engines.",
    )
    reviewed_at = models.DateField(
        "reviewed on",
        null=True,
        blank=True,
        help_text="The date of the medical review. Required with a reviewer.",
    )
    reviewer_name = models.CharField(
        max_length=120,
        blank=True,
        editable=False,
        help_text="The reviewer's name as the approval of the live version has it.",
    )
    reviewer_credentials = models.CharField(
        max_length=120,
        blank=True,
        editable=False,
        help_text="The reviewer's credentials when they approved the live version: "
        "what readers are shown, even if the profile changes later.",
    )
    body = RichTextField(
        help_text="Use 'Heading 2' for sections. Scripts, styles, embeds and "
        "images from other sites are removed when saved."
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.DRAFT,
        help_text="Drafts are never public. A published article is public from its "
        "publish time on; a publish time in the future schedules it.",
    )
    published_at = models.DateTimeField(
        "publish time",
        null=True,
        blank=True,
        help_text="When the article becomes public. Required to publish; filled "
        "with the current time if left empty.",
    )
    featured = models.BooleanField(
        default=False, help_text="Featured articles lead the home page."
    )
    content_updated_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Last change to the title, summary or body after publishing.",
    )
    medical = models.BooleanField(
        "medical article",
        default=False,
        help_text="Needs a medical reviewer's approval of the exact version before "
        "it is published. Articles in a medical topic are medical anyway.",
    )
    evidence = models.CharField(
        "evidence label",
        max_length=20,
        choices=Evidence.choices,
        blank=True,
        help_text="How strong the evidence behind the article is; shown near the "
        "title and explained on the editorial policy page.",
    )
    stage = models.CharField(
        max_length=20,
        choices=Stage.choices,
        default=Stage.DRAFT,
        editable=False,
        help_text="Where the latest version is in the workflow. Changed only by "
        "workflow actions (submit, approve, publish...), each one logged.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The writer who owns the article.",
    )
    assigned_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The medical reviewer asked to review this article.",
    )
    latest_revision = models.ForeignKey(
        "ArticleRevision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    live_revision = models.ForeignKey(
        "ArticleRevision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The revision readers see; later revisions are drafts.",
    )
    review_due = models.DateField(
        "review due",
        null=True,
        blank=True,
        editable=False,
        help_text="When the medical review of the live version should be renewed.",
    )
    planned_for = models.DateField(
        "planned for",
        null=True,
        blank=True,
        db_index=True,
        help_text="The day the editorial calendar plans this article for. Only a "
        "plan: the publish time alone makes it public.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-pk"]
        indexes = [
            # The newest first, site-wide and a topic's, an author's and a
            # reviewer's: lists, feeds, related lists and the sitemap walk these
            # (the id too, so even a deep page's ids come from the index alone).
            models.Index(
                fields=["status", "-published_at", "-id"], name="article_status_pub_idx"
            ),
            models.Index(
                fields=["topic", "status", "-published_at", "-id"],
                name="article_topic_pub_idx",
            ),
            models.Index(
                fields=["author", "status", "-published_at", "-id"],
                name="article_author_pub_idx",
            ),
            models.Index(
                fields=["reviewer", "status", "-published_at", "-id"],
                name="article_reviewer_pub_idx",
            ),
            # The home page's featured articles, however few among many.
            models.Index(
                fields=["-published_at"],
                condition=Q(featured=True, status="published"),
                name="article_featured_pub_idx",
            ),
            # The dashboard's sections: each a stage's few articles, and the
            # reviews falling due, out of the whole archive.
            models.Index(fields=["stage"], name="article_stage_idx"),
            models.Index(
                fields=["review_due"],
                condition=Q(review_due__isnull=False),
                name="article_review_due_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="article_published_has_time",
                violation_error_message="A published article needs a publish time.",
            ),
            models.CheckConstraint(
                condition=Q(cover_image="") | ~Q(cover_image_alt=""),
                name="article_cover_has_alt",
                violation_error_message="A cover image needs alt text.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published"]),
                name="article_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | Q(reviewed_at__isnull=False),
                name="article_review_has_date",
                violation_error_message="A medical review needs its date.",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values),
                name="article_stage_valid",
            ),
            # Scheduled and Live are published; Unpublished is not.
            models.CheckConstraint(
                condition=~Q(stage__in=[Stage.SCHEDULED, Stage.LIVE])
                | Q(status="published"),
                name="article_published_stage_is_published",
            ),
            models.CheckConstraint(
                condition=~Q(stage=Stage.UNPUBLISHED) | Q(status="draft"),
                name="article_unpublished_stage_is_draft",
            ),
        ]
        permissions = [
            ("publish_article", "Can publish, schedule and unpublish articles"),
            ("review_article", "Can approve articles medically or request changes"),
            ("override_checks", "Can publish despite failing content checks"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("articles:detail", kwargs={"slug": self.slug})

    @property
    def is_live(self) -> bool:
        """published_q, for one article already loaded."""
        return is_live(self.status, self.published_at)

    @property
    def is_scheduled(self) -> bool:
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at > timezone.now()
        )

    @property
    def state_label(self) -> str:
        if self.is_live:
            return "Live"
        if self.is_scheduled:
            return "Scheduled"
        return "Draft"

    @property
    def stage_shown(self) -> str:
        """The stage readers see, for the badge's colour: live or scheduled while a
        change is in progress (stage_label says which)."""
        if self.is_live:
            return Stage.LIVE
        if self.is_scheduled:
            return Stage.SCHEDULED
        return self.stage

    @property
    def stage_label(self) -> str:
        """The stage as staff read it, saying first what readers see: a live or
        scheduled article with a change in progress is "Live · changes in draft",
        not "Draft" (the stage of its latest revision). The one label the
        dashboard, the admin lists and the workflow panel show; it reads only
        the row's own fields, so a list adds no query per row."""
        if self.is_live:
            shown = "Live"
        elif self.is_scheduled:
            moment = timezone.localtime(self.published_at)
            shown = f"Scheduled for {moment.day} {moment:%b %Y, %H:%M}"
        else:
            return Stage(self.stage).label
        if not self.has_unpublished_changes:
            return shown
        return f"{shown} · {CHANGES_IN_PROGRESS.get(self.stage, 'changes in draft')}"

    @property
    def is_medical(self) -> bool:
        return self.medical or self.topic.medical

    @property
    def has_unpublished_changes(self) -> bool:
        return (
            self.live_revision_id is not None
            and self.latest_revision_id != self.live_revision_id
        )

    @property
    def meta_title(self) -> str:
        return self.seo_title or self.title

    @property
    def meta_description(self) -> str:
        return self.seo_description or self.summary


class Reference(models.Model):
    """A source an article rests on, numbered in order at the end of the article."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="references"
    )
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=300)
    publisher = models.CharField("publisher or journal", max_length=200, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    url = models.URLField("URL", max_length=500, blank=True)
    doi = models.CharField("DOI", max_length=200, blank=True)
    pmid = models.CharField("PMID", max_length=20, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title


# A source's fields, as revisions and prepared pages keep them (plain values).
SOURCE_FIELDS = ("title", "publisher", "year", "url", "doi", "pmid")


def source_dict(source: Reference | dict[str, Any]) -> dict[str, Any]:
    get = source.get if isinstance(source, dict) else source.__dict__.get
    return {
        name: get(name) if name == "year" else (get(name) or "")
        for name in SOURCE_FIELDS
    }


class ArticleRedirect(models.Model):
    """An old slug of a published article, answered with a permanent redirect."""

    old_slug = models.SlugField(max_length=200, unique=True)
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="old_slugs"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.old_slug} -> {self.article.slug}"
