"""The editorial workflow: who may do what to an article, and doing it.

Draft -> In review -> Changes requested -> Approved -> Scheduled / Live ->
Unpublished. Every action checks its permission here, on the server, and records
a Transition; a refused action changes nothing and raises WorkflowError with the
reason. Roles are groups (migration 0005): Writer, Medical reviewer, Editor.
"""

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.db.models import TextChoices
from django.utils import timezone

from articles import content_checks, medical, revisions, services
from articles.errors import WorkflowError
from articles.medical import current_approval, is_medical, is_reviewer
from articles.models import (
    Article,
    ArticleRevision,
    Author,
    Autosave,
    Correction,
    MedicalApproval,
    MedicalFlagChange,
    PreviewLink,
    Stage,
    Transition,
)
from articles.publishing import invalidation
from core.sanitize import sanitize_html


class Action(TextChoices):
    EDIT = "edit", "Edit"
    SUBMIT = "submit", "Submit for review"
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    PUBLISH = "publish", "Publish"
    UNPUBLISH = "unpublish", "Unpublish"
    ASSIGN_REVIEWER = "assign_reviewer", "Assign a reviewer"
    SHARE_PREVIEW = "share_preview", "Share a preview"
    MARK_NOT_MEDICAL = "mark_not_medical", "Mark not medical"


PUBLISH_PERMISSION = "articles.publish_article"
REVIEW_PERMISSION = medical.REVIEW_PERMISSION
OVERRIDE_PERMISSION = "articles.override_checks"
EDIT_PERMISSION = "articles.change_article"
ADD_PERMISSION = "articles.add_article"
PREVIEW_SALT = "articles.preview-link"
PREVIEW_DAYS_DEFAULT = 7
PREVIEW_DAYS_MAX = 30
# A publish time this recent counts as now: the form's minute had just passed.
PUBLISH_AT_GRACE = timedelta(minutes=5)
SUBMITTABLE = {Stage.DRAFT, Stage.CHANGES_REQUESTED, Stage.UNPUBLISHED}


def is_editor(user: AbstractBaseUser) -> bool:
    return user.has_perm(PUBLISH_PERMISSION)


def readers_have_seen(article: Article) -> bool:
    """Whether a version of the article has been public (what a correction is
    about): not so for one only ever scheduled."""
    return (
        article.live_revision_id is not None
        and article.published_at is not None
        and article.published_at <= timezone.now()
    )


def needs_live_approval(article: Article) -> bool:
    """A medical article readers see without a current approval (the reviewers'
    queue): the launch articles, for one."""
    return (
        article.status == Article.Status.PUBLISHED
        and article.reviewer_id is None
        and article.is_medical
    )


def refusal(user: AbstractBaseUser, action: str, article: Article | None) -> str:
    """Why `user` may not do `action` to `article` now; empty when they may."""
    if not (user.is_active and user.is_staff):
        return "Only active staff can do this."
    editor = is_editor(user)
    if action == Action.EDIT:
        if article is None or article.pk is None:
            return "" if user.has_perm(ADD_PERMISSION) else "You cannot add articles."
        if editor:
            return ""
        if not user.has_perm(EDIT_PERMISSION):
            return "Your role cannot change articles."
        if article.created_by_id != user.pk:
            return "Writers change only their own articles; ask an editor."
        if article.stage in (Stage.IN_REVIEW, Stage.APPROVED):
            return (
                "The article is in review (or approved): it is locked for writers "
                "until a reviewer asks for changes, or an editor's change to its "
                "text sends it back to Draft."
            )
        return ""
    assert article is not None
    stage = article.stage
    if action == Action.SUBMIT:
        if refusal(user, Action.EDIT, article):
            return refusal(user, Action.EDIT, article)
        if stage not in SUBMITTABLE:
            return (
                f"Only a draft can be submitted; this article is {article.stage_label}."
            )
        return ""
    if action in (Action.APPROVE, Action.REQUEST_CHANGES):
        latest = article.latest_revision if article.latest_revision_id else None
        needs_reviewer = medical.needs_medical_review(
            article, latest.data if latest else None
        )
        if needs_reviewer and not is_reviewer(user):
            return "Only a medical reviewer can review a medical article."
        if not needs_reviewer and not (is_reviewer(user) or editor):
            return "Only an editor or a reviewer can review an article."
        # The reviewers' queue also holds the version readers see of a medical
        # article nobody approved (the launch articles): a reviewer approves it
        # as it is, or asks for changes to it.
        queue = (
            article.is_medical
            and needs_live_approval(article)
            and stage in (Stage.LIVE, Stage.SCHEDULED)
            and not article.has_unpublished_changes
        )
        if stage != Stage.IN_REVIEW and not queue:
            return (
                "Only an article in review can be reviewed; this one is "
                f"{article.stage_label}."
            )
        return ""
    if action in (Action.PUBLISH, Action.ASSIGN_REVIEWER, Action.SHARE_PREVIEW):
        if not editor:
            return "Only an editor can do this."
        # A scheduled article readers do not see yet may be published now or
        # rescheduled.
        if (
            action == Action.PUBLISH
            and article.is_live
            and (not article.has_unpublished_changes)
        ):
            return "This version is already published."
        return ""
    if action == Action.UNPUBLISH:
        if not editor:
            return "Only an editor can unpublish."
        if article.status != Article.Status.PUBLISHED:
            return "The article is not published."
        return ""
    if action == Action.MARK_NOT_MEDICAL:
        latest = article.latest_revision if article.latest_revision_id else None
        data = latest.data if latest else revisions.snapshot(article)
        if not data.get("medical"):
            return "The article is not marked medical."
        if is_medical(article, {**data, "medical": False}):
            return (
                "Its topic is medical, so the article stays medical: a reviewer "
                "marks the topic not medical, or an editor moves the article."
            )
        if not medical.is_medical_reviewer(user):
            return "Only a medical reviewer can mark an article not medical."
        return ""
    return "Unknown action."


def allowed(user: AbstractBaseUser, article: Article) -> list[str]:
    """The actions `user` may take on `article` now (buttons to show)."""
    return [a for a in Action.values if not refusal(user, a, article)]


def _check(user: AbstractBaseUser, action: str, article: Article | None) -> None:
    reason = refusal(user, action, article)
    if reason:
        raise WorkflowError(reason)


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
    _check(user, Action.EDIT, article)
    return _save(article=article, data=data, user=user, note=note)


@transaction.atomic
def mark_not_medical(*, article: Article, user, reason: str) -> ArticleRevision:
    """A medical reviewer's decision that the article is not medical: a new
    revision with its flag off, logged with the reason. Publishing that revision
    over a medical live version still needs a medical approval (publish_blockers)."""
    article = _locked(article)
    _check(user, Action.MARK_NOT_MEDICAL, article)
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
    return save_draft(
        article=article,
        data=dict(revision.data),
        user=user,
        note=f"Restored from revision {revision.number}",
    )


# Review ---------------------------------------------------------------------------


@transaction.atomic
def submit_for_review(*, article: Article, user, note: str = "") -> Article:
    article = _locked(article)
    _check(user, Action.SUBMIT, article)
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
            "article. Ask an editor to link your profile, with your credentials."
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
    _check(user, Action.APPROVE, article)
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
        # The version readers see is the one approved.
        Article.objects.filter(pk=article.pk).update(
            **_reviewed_fields(article, approval)
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
            to_stage=article.stage,
            note=note or "Approved the live version.",
            revision=revision,
        )
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
def request_changes(*, article: Article, user, note: str) -> Article:
    article = _locked(article)
    _check(user, Action.REQUEST_CHANGES, article)
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
    _check(user, Action.ASSIGN_REVIEWER, article)
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


@transaction.atomic
def publish(
    *,
    article: Article,
    user,
    at: datetime | None = None,
    override_reason: str = "",
    correction: str = "",
    revision_number: int | None = None,
) -> Article:
    """Publish the latest revision now, or schedule it (`at` in the future);
    with `revision_number`, only if that is still the latest."""
    article = _locked(article)
    _check(user, Action.PUBLISH, article)
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
            article=article, revision=revision, text=correction, created_by=user
        )
        notes.append(f"Correction: {correction}")
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
    _check(user, Action.UNPUBLISH, article)
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


# Share previews --------------------------------------------------------------------


def create_preview_link(
    *, article: Article, user, days: int = PREVIEW_DAYS_DEFAULT
) -> tuple[PreviewLink, str]:
    """A link for an outside reviewer to the latest revision: the link and its
    signed token (the token is not stored)."""
    _check(user, Action.SHARE_PREVIEW, article)
    if not 1 <= days <= PREVIEW_DAYS_MAX:
        raise WorkflowError(f"A preview link lasts 1 to {PREVIEW_DAYS_MAX} days.")
    link = PreviewLink.objects.create(
        revision=revisions.latest(article, user=user),
        created_by=user,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return link, signing.dumps(link.pk, salt=PREVIEW_SALT)


def revoke_preview_link(*, link: PreviewLink, user) -> PreviewLink:
    _check(user, Action.SHARE_PREVIEW, link.revision.article)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


def preview_link_for(token: str) -> PreviewLink | None:
    """The working link a token names, or None (forged, expired, revoked, or its
    maker may no longer make links)."""
    try:
        pk = signing.loads(
            token, salt=PREVIEW_SALT, max_age=timedelta(days=PREVIEW_DAYS_MAX)
        )
    except signing.BadSignature:
        return None
    link = (
        PreviewLink.objects.select_related("revision__article", "created_by")
        .filter(pk=pk)
        .first()
    )
    return link if link is not None and preview_link_works(link) else None


def preview_link_works(link: PreviewLink) -> bool:
    """Whether the link opens its preview now: neither revoked nor expired, and
    its maker may still make share links.

    The maker's right is read on every use rather than copied into the link, so
    the link stops at once when its maker is deactivated, deleted, or loses staff
    status, the Editor role or the permission, whichever way it was taken; and
    works again if the right is given back before it expires. Revoking it ends it
    for good."""
    maker = link.created_by
    return (
        link.is_active
        and maker is not None
        and not refusal(maker, Action.SHARE_PREVIEW, link.revision.article)
    )


# Autosave --------------------------------------------------------------------------


def autosave(*, article: Article | None, user, data: dict[str, Any]) -> Autosave:
    """Keep what `user` is typing (no revision, nothing published)."""
    _check(user, Action.EDIT, article)
    base = article.latest_revision if article is not None else None
    saved, _ = Autosave.objects.update_or_create(
        article=article,
        user=user,
        defaults={"data": data, "saved_at": timezone.now(), "base_revision": base},
    )
    return saved


def pending_autosave(*, article: Article | None, user) -> Autosave | None:
    """The user's autosave that holds more than the last saved revision."""
    saved = Autosave.objects.filter(article=article, user=user).first()
    if saved is None:
        return None
    latest = article.latest_revision if article is not None else None
    if latest is not None and latest.created_at >= saved.saved_at:
        return None
    return saved


def discard_autosave(*, article: Article | None, user) -> None:
    Autosave.objects.filter(article=article, user=user).delete()
