"""Pruning old article revisions: a retention step (settings.RETENTION_STEPS,
core/retention.py).

Every save makes a revision holding the whole article (articles/editorial/
revisions.py), and nothing removed them: at ten years' scale they were 542 MB for
20,000 articles. Wagtail sites hit the same wall, an 11 GB revision table and a
2 s latest-revision query (wagtail/wagtail#13547). A revision goes only when
nothing needs it. It stays when it is:

- named by any row at all: the article's live and latest revisions, a medical
  approval, a workflow step (Transition), a correction, an autosave's base or a
  preview link. Read from the model's relations, not listed here, so a new
  foreign key to ArticleRevision keeps what it names without a change here;
- one of the article's last ARTICLE_REVISIONS_KEEP (by number);
- younger than ARTICLE_REVISIONS_MIN_AGE_DAYS, so an edit going on keeps its
  history to compare and restore.

Revision numbers are never reused (the next one follows the highest), and the
comparison and restore pages work on whichever numbers remain.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, ForeignObjectRel, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from articles.models import ArticleRevision
from core.retention import delete_in_batches


def relations() -> list[ForeignObjectRel]:
    """Every relation pointing at ArticleRevision (foreign keys and one-to-ones,
    hidden ones with related_name="+" included)."""
    return [
        relation
        for relation in ArticleRevision._meta.get_fields(include_hidden=True)
        if relation.auto_created
        and not relation.concrete
        and (relation.one_to_many or relation.one_to_one)
    ]


def named() -> Q:
    """Some row, through any relation, names this revision."""
    condition = Q()
    for relation in relations():
        rows = relation.related_model._base_manager.filter(
            **{relation.field.name: OuterRef("pk")}
        )
        condition |= Q(Exists(rows))
    return condition


def cutoff() -> datetime:
    """Revisions made since are kept whatever else holds."""
    return timezone.now() - timedelta(days=settings.ARTICLE_REVISIONS_MIN_AGE_DAYS)


def prunable(*, before: datetime) -> QuerySet:
    """The revisions made before `before` that no other rule keeps."""
    keep = settings.ARTICLE_REVISIONS_KEEP
    # The article's keep-th highest number: revisions below it are past the last
    # `keep`. An article with fewer has none (NULL), and NULL compares as false.
    last_kept = (
        ArticleRevision.objects.filter(article=OuterRef("article"))
        .order_by("-number")
        .values("number")[keep - 1 : keep]
    )
    return ArticleRevision.objects.filter(
        created_at__lt=before, number__lt=Subquery(last_kept)
    ).exclude(named())


def prune_revisions(*, dry_run: bool) -> int:
    """Delete the revisions no rule keeps, in batches; how many went (or would).
    Batches are found among the old revisions (created_at alone), then the
    whole rule is applied to each range of them (core.retention)."""
    before = cutoff()
    return delete_in_batches(
        prunable(before=before),
        candidates=ArticleRevision.objects.filter(created_at__lt=before),
        dry_run=dry_run,
    )
