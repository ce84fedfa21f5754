"""Pruning old revisions (articles/editorial/retention.py): each rule that keeps a
revision holds, and the rest go in batches."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.editorial import retention, revisions
from articles.models import (
    Article,
    ArticleRevision,
    Autosave,
    Correction,
    MedicalApproval,
    PreviewLink,
    Stage,
    Transition,
)
from core import retention as core_retention
from tests.factories import make_article, make_reviewer, make_staff

pytestmark = pytest.mark.django_db

OLD = timedelta(days=60)
RECENT = timedelta(days=5)


@pytest.fixture(autouse=True)
def keep_three(settings):
    settings.ARTICLE_REVISIONS_KEEP = 3
    settings.ARTICLE_REVISIONS_MIN_AGE_DAYS = 30


def history(article: Article, ages: list[timedelta]) -> list[ArticleRevision]:
    """One revision per age, oldest first (numbers 1, 2...)."""
    made = []
    for age in ages:
        revision = revisions.create_revision(
            article=article, data=revisions.snapshot(article), note=f"{age}"
        )
        ArticleRevision.objects.filter(pk=revision.pk).update(
            created_at=timezone.now() - age
        )
        made.append(revision)
    return made


def numbers_left(article: Article) -> set[int]:
    return set(article.revisions.values_list("number", flat=True))


def test_only_old_revisions_past_the_last_n_go():
    article = make_article()
    history(article, [OLD] * 8)
    assert retention.prune_revisions(dry_run=False) == 5
    assert numbers_left(article) == {6, 7, 8}


def test_an_article_with_no_more_than_n_revisions_keeps_them_all():
    article = make_article()
    history(article, [OLD] * 3)
    assert retention.prune_revisions(dry_run=False) == 0
    assert numbers_left(article) == {1, 2, 3}


def test_revisions_younger_than_the_minimum_age_stay_past_the_last_n():
    """An edit going on keeps its whole history to compare and restore."""
    article = make_article()
    history(article, [OLD, OLD, *[RECENT] * 6])
    assert retention.prune_revisions(dry_run=False) == 2
    assert numbers_left(article) == set(range(3, 9))


def test_each_article_keeps_its_own_last_n():
    first, second = make_article(), make_article()
    history(first, [OLD] * 5)
    history(second, [OLD] * 2)
    assert retention.prune_revisions(dry_run=False) == 2
    assert numbers_left(first) == {3, 4, 5}
    assert numbers_left(second) == {1, 2}


def name_revision(kind: str, article: Article, revision: ArticleRevision) -> None:
    """Make the row of `kind` that points at `revision`."""
    if kind == "live":
        Article.objects.filter(pk=article.pk).update(live_revision=revision)
    elif kind == "approval":
        reviewer = make_reviewer()
        MedicalApproval.objects.create(
            article=article,
            revision=revision,
            review_hash=revision.review_hash,
            reviewer=reviewer.author_profile,
            reviewer_name="Dr Ada",
            reviewer_credentials="MD",
            user=reviewer,
        )
    elif kind == "transition":
        Transition.objects.create(
            article=article,
            revision=revision,
            from_stage=Stage.DRAFT,
            to_stage=Stage.IN_REVIEW,
        )
    elif kind == "correction":
        Correction.objects.create(article=article, revision=revision, text="Fixed.")
    elif kind == "preview link":
        PreviewLink.objects.create(
            revision=revision, expires_at=timezone.now() - timedelta(days=40)
        )
    elif kind == "autosave":
        Autosave.objects.create(
            article=article,
            user=make_staff(),
            data={},
            base_revision=revision,
        )


NAMING = ["live", "approval", "transition", "correction", "preview link", "autosave"]


@pytest.mark.parametrize("kind", NAMING)
def test_a_revision_something_names_is_kept_however_old(kind):
    article = make_article()
    made = history(article, [OLD] * 8)
    name_revision(kind, article, made[1])
    assert retention.prune_revisions(dry_run=False) == 4
    assert numbers_left(article) == {2, 6, 7, 8}


def test_the_latest_revision_is_kept_even_when_n_is_one(settings):
    settings.ARTICLE_REVISIONS_KEEP = 1
    article = make_article()
    made = history(article, [OLD] * 4)
    name_revision("live", article, made[0])
    assert retention.prune_revisions(dry_run=False) == 2
    assert numbers_left(article) == {1, 4}
    article.refresh_from_db()
    assert article.latest_revision_id == made[-1].pk
    assert article.live_revision_id == made[0].pk


def test_every_relation_to_revisions_is_a_reason_to_keep():
    """Read from the model: a new foreign key to ArticleRevision keeps what it
    names without a change to the pruning."""
    found = {(r.related_model.__name__, r.field.name) for r in retention.relations()}
    assert found == {
        ("Article", "latest_revision"),
        ("Article", "live_revision"),
        ("MedicalApproval", "revision"),
        ("Transition", "revision"),
        ("Correction", "revision"),
        ("PreviewLink", "revision"),
        ("Autosave", "base_revision"),
    }


def test_a_dry_run_deletes_nothing_and_counts_what_the_run_deletes():
    article = make_article()
    history(article, [OLD] * 7)
    assert retention.prune_revisions(dry_run=True) == 4
    assert article.revisions.count() == 7
    assert retention.prune_revisions(dry_run=False) == 4


def test_a_second_run_finds_nothing_to_delete():
    article = make_article()
    history(article, [OLD] * 7)
    assert retention.prune_revisions(dry_run=False) == 4
    assert retention.prune_revisions(dry_run=False) == 0
    assert numbers_left(article) == {5, 6, 7}


def test_revisions_are_deleted_a_batch_at_a_time(monkeypatch):
    monkeypatch.setattr(core_retention, "BATCH", 2)
    article = make_article()
    history(article, [OLD] * 8)
    with CaptureQueriesContext(connection) as queries:
        assert retention.prune_revisions(dry_run=False) == 5
    deletes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("DELETE") and "articlerevision" in q["sql"]
    ]
    assert len(deletes) == 3
    assert numbers_left(article) == {6, 7, 8}


def test_the_next_revision_follows_the_highest_number_after_pruning():
    article = make_article()
    history(article, [OLD] * 6)
    retention.prune_revisions(dry_run=False)
    article.refresh_from_db()
    new = revisions.create_revision(article=article, data=revisions.snapshot(article))
    assert new.number == 7


def test_a_batch_takes_the_same_queries_however_many_articles_it_holds(
    django_assert_max_num_queries,
):
    """Keys, the rule over their range, the relations Django's delete visits and
    the delete: a fixed number a batch, not one per article or revision."""
    for _ in range(10):
        history(make_article(), [OLD] * 8)
    with django_assert_max_num_queries(13):
        assert retention.prune_revisions(dry_run=False) == 50
