"""The editorial workflow: moving an article through its stages.

Draft -> In review -> Changes requested -> Approved -> Scheduled / Live ->
Unpublished. Every action checks its permission on the server first
(articles/editorial/permissions.py, who may do what), and records
a Transition; a refused action changes nothing and raises WorkflowError with the
reason. Roles are groups (migration 0005): Writer, Medical reviewer, Editor."""

from typing import Any

from django.db import transaction

from articles import services
from articles.editorial import medical, revisions
from articles.editorial.going_live import PUBLISH_AT_GRACE as PUBLISH_AT_GRACE
from articles.editorial.going_live import publish as publish
from articles.editorial.going_live import publish_blockers as publish_blockers
from articles.editorial.going_live import unpublish as unpublish
from articles.editorial.medical import current_approval as current_approval
from articles.editorial.medical import is_medical, is_reviewer
from articles.editorial.permissions import (
    Action,
    check,
    refusal,
)
from articles.editorial.transitions import (
    expect_revision,
    lock_article,
    move_stage,
    record_transition,
    reviewed_fields,
)
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRevision,
    Author,
    Autosave,
    MedicalApproval,
    MedicalFlagChange,
    Stage,
)
from articles.publishing import invalidation
from core.calendar.grid import add_months as add_months
from core.sanitize import sanitize_html

# Saving ---------------------------------------------------------------------------


@transaction.atomic
def save_draft(
    *, article: Article, data: dict[str, Any], user, note: str = ""
) -> ArticleRevision:
    """Save an edit as a new revision. Readers see no change: a published article
    keeps its row (the live version) until a revision is published; a draft's row
    follows its latest revision. A change to what a medical approval covers sends
    an approved or published article back to Draft (the approval is stale).

    An edit that would make a medical article not medical (unticking its flag, or
    moving it out of a medical topic) is refused: only a medical reviewer does
    that, with a reason (mark_not_medical)."""
    check(user, Action.EDIT, article)
    return _save(article=article, data=data, user=user, note=note)


@transaction.atomic
def mark_not_medical(*, article: Article, user, reason: str) -> ArticleRevision:
    """A medical reviewer's decision that the article is not medical: a new
    revision with its flag off, logged with the reason. Publishing that revision
    over a medical live version still needs a medical approval (publish_blockers)."""
    article = lock_article(article)
    check(user, Action.MARK_NOT_MEDICAL, article)
    reason = medical.check_turn_off(user=user, reason=reason, what="an article")
    data = {**revisions.latest(article, user=user).data, "medical": False}
    return _save(
        article=article,
        data=data,
        user=user,
        note="Marked not medical",
        medical_off_reason=reason,
    )


def _save(
    *,
    article: Article,
    data: dict[str, Any],
    user,
    note: str,
    medical_off_reason: str = "",
) -> ArticleRevision:
    data = {**data, "body": sanitize_html(html=data.get("body") or "")}
    if article.pk is None:
        if data.get("featured"):
            check(user, Action.FEATURE, article)
        revisions.apply(article, data)
        article.created_by = user
        services.save_article(article=article)
        revisions.write_sources(article=article, sources=data.get("sources", []))
        revision = revisions.create_revision(
            article=article, data=revisions.snapshot(article), user=user, note=note
        )
        record_transition(
            article=article,
            user=user,
            from_stage=Stage.DRAFT,
            to_stage=Stage.DRAFT,
            note="Created",
            revision=revision,
        )
        Autosave.objects.filter(user=user, article__isnull=True).delete()
        return revision
    article = lock_article(article)
    previous = revisions.latest(article, user=user)
    if bool(data.get("featured")) != bool(previous.data.get("featured")):
        check(user, Action.FEATURE, article)
    turns_off = is_medical(article, previous.data) and not is_medical(article, data)
    if turns_off and not medical_off_reason:
        raise WorkflowError(
            "This change would make a medical article not medical (its "
            "“medical” box unticked, or a move out of a medical topic), which "
            "takes away its medical review: only a medical reviewer can do that, "
            "with a reason. Nothing was saved."
        )
    published = article.status == Article.Status.PUBLISHED
    if not published:
        revisions.apply(article, data)
        services.save_article(article=article)
        revisions.write_sources(article=article, sources=data.get("sources", []))
        data = revisions.snapshot(article)
    else:
        # Checked like a save (slug, lengths), without touching the live row.
        copy = Article.objects.get(pk=article.pk)
        revisions.apply(copy, data)
        if not copy.slug:
            copy.slug = services.unique_article_slug(
                title=copy.title, exclude_pk=copy.pk
            )
            data["slug"] = copy.slug
        copy.full_clean(exclude=["slug"] if copy.slug == article.slug else None)
    Autosave.objects.filter(user=user, article=article).delete()
    if data == previous.data:
        return previous
    revision = revisions.create_revision(
        article=article, data=data, user=user, note=note
    )
    if turns_off:
        MedicalFlagChange.objects.create(
            article=article, medical=False, actor=user, reason=medical_off_reason
        )
        record_transition(
            article=article,
            user=user,
            from_stage=article.stage,
            to_stage=article.stage,
            note=f"Marked not medical. Reason: {medical_off_reason}",
            revision=revision,
        )
    elif data.get("medical") and not previous.data.get("medical"):
        MedicalFlagChange.objects.create(article=article, medical=True, actor=user)
    content_changed = revision.review_hash != previous.review_hash
    back_to_draft = (published and article.stage in (Stage.LIVE, Stage.SCHEDULED)) or (
        content_changed and article.stage in (Stage.IN_REVIEW, Stage.APPROVED)
    )
    if back_to_draft:
        why = (
            "Edited after approval: the approval no longer covers this version."
            if article.stage == Stage.APPROVED and content_changed
            else "Changes saved as a draft; readers still see the published version."
        )
        move_stage(
            article=article,
            user=user,
            to_stage=Stage.DRAFT,
            note=why,
            revision=revision,
        )
    return revision


def restore_revision(
    *, article: Article, revision: ArticleRevision, user
) -> ArticleRevision:
    """Make an old revision's content the latest draft (a new revision)."""
    if revision.article_id != article.pk:
        raise WorkflowError("That revision belongs to another article.")
    data = dict(revision.data)
    if refusal(user, Action.FEATURE, article):
        # Restoring is about the content: whoever may not feature keeps the
        # placement the latest revision has.
        data["featured"] = revisions.latest(article, user=user).data.get("featured")
    return save_draft(
        article=article,
        data=data,
        user=user,
        note=f"Restored from revision {revision.number}",
    )


# Review ---------------------------------------------------------------------------


@transaction.atomic
def submit_for_review(*, article: Article, user, note: str = "") -> Article:
    article = lock_article(article)
    check(user, Action.SUBMIT, article)
    revision = revisions.latest(article, user=user)
    move_stage(
        article=article,
        user=user,
        to_stage=Stage.IN_REVIEW,
        note=note,
        revision=revision,
    )
    return article


def reviewer_byline(user) -> Author:
    """The author profile a medical approval is shown with."""
    author = Author.objects.filter(user=user).first()
    if author is None:
        raise WorkflowError(
            "Your account has no author profile: readers are told who reviewed an "
            "article. Make it from the dashboard (Your author profile), with your "
            "credentials."
        )
    if not author.credentials:
        raise WorkflowError(
            "Your author profile has no credentials: add them before approving a "
            "medical article."
        )
    return author


@transaction.atomic
def approve(
    *, article: Article, user, note: str = "", revision_number: int | None = None
) -> MedicalApproval | None:
    """Approve the latest revision (the one numbered `revision_number`, when
    given: the one the reviewer read). For a medical article, a medical
    reviewer's approval of this exact revision; approving the live revision shows
    readers the reviewed-by line at once."""
    article = lock_article(article)
    check(user, Action.APPROVE, article)
    revision = revisions.latest(article, user=user)
    expect_revision(revision, revision_number, doing="approving")
    approval = None
    if medical.needs_medical_review(article, revision.data):
        byline = reviewer_byline(user)
        approval = MedicalApproval.objects.create(
            article=article,
            revision=revision,
            review_hash=revision.review_hash,
            reviewer=byline,
            reviewer_name=byline.name,
            reviewer_credentials=byline.credentials,
            user=user,
            note=note,
        )
    if (
        article.status == Article.Status.PUBLISHED
        and revision.pk == article.live_revision_id
    ):
        # The version readers see is the one approved. One the source check sent
        # back to review (send_back_to_review) leaves the queue: Live again.
        stage = article.stage
        if stage == Stage.IN_REVIEW:
            stage = Stage.LIVE if article.is_live else Stage.SCHEDULED
        Article.objects.filter(pk=article.pk).update(
            stage=stage, **reviewed_fields(article, approval)
        )
        invalidation.article_changed(
            article=Article.objects.get(pk=article.pk),
            before=article,
            reason="live version approved",
        )
        record_transition(
            article=article,
            user=user,
            from_stage=article.stage,
            to_stage=stage,
            note=note or "Approved the live version.",
            revision=revision,
        )
        article.stage = stage
        services.refresh_article_page(article=article)
        return approval
    move_stage(
        article=article,
        user=user,
        to_stage=Stage.APPROVED,
        note=note,
        revision=revision,
    )
    return approval


@transaction.atomic
def send_back_to_review(*, article: Article, reason: str) -> bool:
    """The source check found that a medical article readers see cites retracted
    work: it goes back to the reviewers' queue (In review), logged with the reason
    and no actor (the check, not a person). A reviewer approves the live version
    again (it goes back to Live) or asks for changes. One with a change in progress
    passes a review before that change is published anyway: it stays where it is,
    with the reason logged. True when it moved."""
    article = lock_article(article)
    if not article.is_medical:
        return False
    if (
        article.status == Article.Status.PUBLISHED
        and article.stage in (Stage.LIVE, Stage.SCHEDULED)
        and not article.has_unpublished_changes
    ):
        move_stage(
            article=article,
            user=None,
            to_stage=Stage.IN_REVIEW,
            note=reason,
            revision=article.live_revision,
        )
        return True
    record_transition(
        article=article,
        user=None,
        from_stage=article.stage,
        to_stage=article.stage,
        note=reason,
    )
    return False


@transaction.atomic
def request_changes(*, article: Article, user, note: str) -> Article:
    article = lock_article(article)
    check(user, Action.REQUEST_CHANGES, article)
    if not note.strip():
        raise WorkflowError("Say what needs to change: the writer reads your note.")
    move_stage(
        article=article,
        user=user,
        to_stage=Stage.CHANGES_REQUESTED,
        note=note.strip(),
    )
    return article


@transaction.atomic
def assign_reviewer(*, article: Article, user, reviewer) -> Article:
    article = lock_article(article)
    check(user, Action.ASSIGN_REVIEWER, article)
    if reviewer is not None and not (reviewer.is_active and is_reviewer(reviewer)):
        raise WorkflowError(f"{reviewer} is not a medical reviewer.")
    Article.objects.filter(pk=article.pk).update(assigned_reviewer=reviewer)
    record_transition(
        article=article,
        user=user,
        from_stage=article.stage,
        to_stage=article.stage,
        note=f"Reviewer: {reviewer.get_full_name() or reviewer.get_username()}"
        if reviewer
        else "Reviewer unassigned",
    )
    article.assigned_reviewer = reviewer
    return article


# Publishing -----------------------------------------------------------------------
