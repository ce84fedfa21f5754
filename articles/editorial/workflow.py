"""The editorial workflow: moving an article through its stages.

Draft -> In review -> Changes requested -> Approved -> Scheduled / Live ->
Unpublished. Every action checks its permission on the server first
(articles/editorial/permissions.py, who may do what), and records
a Transition; a refused action changes nothing and raises WorkflowError with the
reason. Roles are groups (migration 0005): Writer, Medical reviewer, Editor."""

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from articles import services
from articles.editorial import content_checks, medical, revisions
from articles.editorial.medical import current_approval, is_medical, is_reviewer
from articles.editorial.permissions import (
    OVERRIDE_PERMISSION,
    Action,
    check,
    readers_have_seen,
    refusal,
)
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRevision,
    Author,
    Autosave,
    Correction,
    MedicalApproval,
    MedicalFlagChange,
    Stage,
    Transition,
)
from articles.publishing import invalidation
from core.sanitize import sanitize_html

# A publish time this recent counts as now: the form's minute had just passed.
PUBLISH_AT_GRACE = timedelta(minutes=5)


def _log(
    *,
    article: Article,
    user,
    from_stage: str,
    to_stage: str,
    note: str = "",
    revision: ArticleRevision | None = None,
) -> Transition:
    return Transition.objects.create(
        article=article,
        revision=revision or article.latest_revision,
        actor=user,
        from_stage=from_stage,
        to_stage=to_stage,
        note=note,
    )


def _move(
    *,
    article: Article,
    user,
    to_stage: str,
    note: str = "",
    revision: ArticleRevision | None = None,
) -> None:
    """Log the step and put the article in its new stage."""
    _log(
        article=article,
        user=user,
        from_stage=article.stage,
        to_stage=to_stage,
        note=note,
        revision=revision,
    )
    Article.objects.filter(pk=article.pk).update(stage=to_stage)
    article.stage = to_stage


def _expect(revision: ArticleRevision, number: int | None, *, doing: str) -> None:
    """Refuse when a revision was saved after the one the user was shown."""
    if number is not None and number != revision.number:
        raise WorkflowError(
            f"Revision {revision.number} was saved after the revision {number} you "
            f"were looking at: read it before {doing}. Nothing was done."
        )


def _locked(article: Article) -> Article:
    """The article's row, locked for the transaction (two editors at once)."""
    return (
        Article.objects.select_for_update().select_related("topic").get(pk=article.pk)
    )


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
    article = _locked(article)
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
        _log(
            article=article,
            user=user,
            from_stage=Stage.DRAFT,
            to_stage=Stage.DRAFT,
            note="Created",
            revision=revision,
        )
        Autosave.objects.filter(user=user, article__isnull=True).delete()
        return revision
    article = _locked(article)
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
        _log(
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
        _move(
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
    article = _locked(article)
    check(user, Action.SUBMIT, article)
    revision = revisions.latest(article, user=user)
    _move(
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


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _reviewed_fields(
    article: Article, approval: MedicalApproval | None
) -> dict[str, Any]:
    """What the public page says about review, from the approval covering the live
    revision (or nothing)."""
    if approval is None:
        return {
            "reviewer": None,
            "reviewer_name": "",
            "reviewer_credentials": "",
            "reviewed_at": None,
            "review_due": None,
        }
    reviewed = timezone.localdate(approval.approved_at)
    return {
        "reviewer": approval.reviewer,
        # As the reviewer was when approving: a later edit of their profile does
        # not change what an approval says.
        "reviewer_name": approval.reviewer_name,
        "reviewer_credentials": approval.reviewer_credentials,
        "reviewed_at": reviewed,
        "review_due": add_months(reviewed, article.topic.review_interval_months),
    }


@transaction.atomic
def approve(
    *, article: Article, user, note: str = "", revision_number: int | None = None
) -> MedicalApproval | None:
    """Approve the latest revision (the one numbered `revision_number`, when
    given: the one the reviewer read). For a medical article, a medical
    reviewer's approval of this exact revision; approving the live revision shows
    readers the reviewed-by line at once."""
    article = _locked(article)
    check(user, Action.APPROVE, article)
    revision = revisions.latest(article, user=user)
    _expect(revision, revision_number, doing="approving")
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
            stage=stage, **_reviewed_fields(article, approval)
        )
        invalidation.article_changed(
            article=Article.objects.get(pk=article.pk),
            before=article,
            reason="live version approved",
        )
        _log(
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
    _move(
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
    article = _locked(article)
    if not article.is_medical:
        return False
    if (
        article.status == Article.Status.PUBLISHED
        and article.stage in (Stage.LIVE, Stage.SCHEDULED)
        and not article.has_unpublished_changes
    ):
        _move(
            article=article,
            user=None,
            to_stage=Stage.IN_REVIEW,
            note=reason,
            revision=article.live_revision,
        )
        return True
    _log(
        article=article,
        user=None,
        from_stage=article.stage,
        to_stage=article.stage,
        note=reason,
    )
    return False


@transaction.atomic
def request_changes(*, article: Article, user, note: str) -> Article:
    article = _locked(article)
    check(user, Action.REQUEST_CHANGES, article)
    if not note.strip():
        raise WorkflowError("Say what needs to change: the writer reads your note.")
    _move(
        article=article,
        user=user,
        to_stage=Stage.CHANGES_REQUESTED,
        note=note.strip(),
    )
    return article


@transaction.atomic
def assign_reviewer(*, article: Article, user, reviewer) -> Article:
    article = _locked(article)
    check(user, Action.ASSIGN_REVIEWER, article)
    if reviewer is not None and not (reviewer.is_active and is_reviewer(reviewer)):
        raise WorkflowError(f"{reviewer} is not a medical reviewer.")
    Article.objects.filter(pk=article.pk).update(assigned_reviewer=reviewer)
    _log(
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
    article = _locked(article)
    check(user, Action.PUBLISH, article)
    revision = revisions.latest(article, user=user)
    _expect(revision, revision_number, doing="publishing")
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
    for name, value in _reviewed_fields(
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
    _log(
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
    article = _locked(article)
    check(user, Action.UNPUBLISH, article)
    from_stage = article.stage
    services.unpublish_article(article=article)
    _log(
        article=article,
        user=user,
        from_stage=from_stage,
        to_stage=Stage.UNPUBLISHED,
        note=note,
    )
    services.refresh_article_page(article=article)
    return article
