"""Read queries more than one part of the articles app shares (the public views
and the sitemap): each in one place, so they ask the same thing."""

from datetime import datetime

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Subquery

from articles.models import (
    Article,
    EditorialPolicy,
    HomePage,
    Stage,
    Topic,
    Transition,
)


def topics_with_articles():
    """Topics that have at least one public article, with how many: counted per
    topic in its index of publish times (no read of the articles' rows)."""
    live = Article.objects.published().filter(topic=OuterRef("pk")).order_by()
    count = live.values("topic").annotate(n=Count("pk")).values("n")
    # Exists, not a filter on the count: the database would count twice.
    return (
        Topic.objects.filter(Exists(live))
        .annotate(article_count=Subquery(count, output_field=IntegerField()))
        .order_by("name")
    )


def editorial_policy() -> EditorialPolicy:
    """The policy as editors last saved it; migration 0005 creates it, so an
    unsaved default (the evidence labels and review sections alone) only stands in
    on a database where it was deleted."""
    return EditorialPolicy.current() or EditorialPolicy()


def home_page() -> HomePage:
    """The home page's words as staff last saved them; the defaults if never."""
    return HomePage.current() or HomePage()


def live_since(article: Article) -> datetime | None:
    """When the version readers see now went live: the last time its revision was
    published (at its publish time, when it was scheduled). Not the article's
    publish time, which stays the first publication's after a correction. An
    article published outside the workflow (no such step) went live then."""
    if not article.is_live:
        return None
    published = (
        Transition.objects.filter(
            article_id=article.pk,
            revision_id=article.live_revision_id,
            to_stage__in=[Stage.LIVE, Stage.SCHEDULED],
        )
        # An approval or a reschedule leaves the stage as it was.
        .exclude(from_stage=F("to_stage"))
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    if published is None or published < article.published_at:
        return article.published_at
    return published
