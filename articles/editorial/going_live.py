"""Taking an article live and off: what stands in the way of publishing, publishing
(now or at a time, with a correction for readers) and unpublishing. Part of the
workflow (articles/editorial/workflow.py re-exports these), with the same rules:
the permission checked on the server first, a Transition recorded, a refusal
changing nothing."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from articles import services
from articles.editorial import content_checks, medical, revisions
from articles.editorial.medical import current_approval, is_medical
from articles.editorial.permissions import (
    OVERRIDE_PERMISSION,
    Action,
    check,
    readers_have_seen,
)
from articles.editorial.transitions import (
    expect_revision,
    lock_article,
    record_transition,
    reviewed_fields,
)
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRevision,
    Correction,
    Stage,
)

# A publish time this recent counts as now: the form's minute had just passed.
PUBLISH_AT_GRACE = timedelta(minutes=5)


def publish_blockers(
    article: Article, revision: ArticleRevision
) -> tuple[str, list[content_checks.Check]]:
    """Why this revision cannot be published: a missing medical approval (never
    overridden), and the failing content checks (an editor may override)."""
    needs_review = medical.needs_medical_review(article, revision.data)
    approval_problem = ""
    if needs_review and current_approval(article, revision) is None:
        last = article.approvals.select_related("revision").first()
        approval_problem = (
            "A medical article needs a medical reviewer's approval of this exact "
            "version."
            + (
                f" The last approval covers revision {last.revision.number}; what "
                "readers are shown changed since."
                if last
                else ""
            )
            + (
                ""
                if is_medical(article, revision.data)
                else " This version is not medical, but the one readers see is: a "
                "reviewer approves the change."
            )
        )
    return approval_problem, content_checks.failing(
        revision.data, medical=is_medical(article, revision.data)
    )


def _check_telling(*, correction: str, changes_advice: bool, tell_readers: str) -> None:
    """Refuse a choice of how readers hear of a correction that cannot hold."""
    if tell_readers not in Correction.TellReaders.values:
        raise WorkflowError(
            f"Unknown way to tell readers “{tell_readers}”: choose in the next "
            "digest or now."
        )
    if (changes_advice or tell_readers == Correction.TellReaders.NOW) and not (
        correction
    ):
        raise WorkflowError(
            "Write the correction for readers: what changed in the advice is what "
            "the newsletter tells them."
        )
    if tell_readers == Correction.TellReaders.NOW and not changes_advice:
        raise WorkflowError(
            "Readers are told at once only of a change to the advice: mark it as "
            "changing the advice, or let it wait for the next digest."
        )


@transaction.atomic
def publish(
    *,
    article: Article,
    user,
    at: datetime | None = None,
    override_reason: str = "",
    correction: str = "",
    revision_number: int | None = None,
    changes_advice: bool = False,
    tell_readers: str = Correction.TellReaders.NEXT_DIGEST,
) -> Article:
    """Publish the latest revision now, or schedule it (`at` in the future);
    with `revision_number`, only if that is still the latest.

    A correction marked `changes_advice` is told to the newsletter's readers of
    the article's topic, in their next digest or (`tell_readers` now) in a notice
    a medical reviewer approves first (newsletter/issues/notices.py)."""
    article = lock_article(article)
    check(user, Action.PUBLISH, article)
    revision = revisions.latest(article, user=user)
    expect_revision(revision, revision_number, doing="publishing")
    approval_problem, failing = publish_blockers(article, revision)
    if approval_problem:
        raise WorkflowError(approval_problem)
    override_reason = override_reason.strip()
    if failing and not override_reason:
        raise WorkflowError(
            "Content checks fail: "
            + " ".join(c.reason for c in failing)
            + " Fix them, or (editors) give a reason to publish anyway."
        )
    if failing and not user.has_perm(OVERRIDE_PERMISSION):
        raise WorkflowError("Your role cannot override content checks.")
    correction = correction.strip()
    if correction and not readers_have_seen(article):
        raise WorkflowError(
            "A correction is recorded when a change to a published article is "
            "published; this article has not been published before."
        )
    _check_telling(
        correction=correction, changes_advice=changes_advice, tell_readers=tell_readers
    )
    now = timezone.now()
    if at is not None and at < now - PUBLISH_AT_GRACE:
        raise WorkflowError(
            f"The publish time ({timezone.localtime(at):%d %b %Y %H:%M}) has passed: "
            "leave it empty to publish now, or choose a later time."
        )
    if at is not None and at <= now:
        at = None
    if at is not None and article.is_live:
        raise WorkflowError(
            "Changes to a live article are published now: scheduling would take "
            "the article off the site until then."
        )
    from_stage = article.stage
    revisions.apply(article, revision.data)
    revisions.write_sources(article=article, sources=revision.data.get("sources", []))
    for name, value in reviewed_fields(
        article, current_approval(article, revision)
    ).items():
        setattr(article, name, value)
    article.live_revision = revision
    if at is None and article.published_at is not None and article.published_at > now:
        # A scheduled publication brought forward (or unpublished before its time
        # and published again) is public now.
        article.published_at = None
    services.publish_article(article=article, at=at)
    notes = []
    if failing:
        notes.append(
            "Published despite failing checks ("
            + "; ".join(c.label for c in failing)
            + f"). Reason: {override_reason}"
        )
    if correction:
        Correction.objects.create(
            article=article,
            revision=revision,
            text=correction,
            created_by=user,
            changes_advice=changes_advice,
            tell_readers=tell_readers,
        )
        notes.append(
            f"Correction: {correction}"
            + (
                f" (changes the advice; readers told: "
                f"{Correction.TellReaders(tell_readers).label.lower()})"
                if changes_advice
                else ""
            )
        )
    record_transition(
        article=article,
        user=user,
        from_stage=from_stage,
        to_stage=article.stage,
        note=" ".join(notes),
        revision=revision,
    )
    services.refresh_article_page(article=article)
    return article


@transaction.atomic
def unpublish(*, article: Article, user, note: str = "") -> Article:
    article = lock_article(article)
    check(user, Action.UNPUBLISH, article)
    from_stage = article.stage
    services.unpublish_article(article=article)
    record_transition(
        article=article,
        user=user,
        from_stage=from_stage,
        to_stage=Stage.UNPUBLISHED,
        note=note,
    )
    services.refresh_article_page(article=article)
    return article
