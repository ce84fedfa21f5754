"""Who may do what to an article in the editorial workflow: the actions, the
permissions and roles they need, and why a refused one is refused (checked on the
server before every action)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import TextChoices
from django.utils import timezone

from articles.editorial import medical, revisions
from articles.editorial.medical import is_medical, is_reviewer
from articles.errors import WorkflowError
from articles.models import (
    Article,
    Stage,
)


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
    FEATURE = "feature", "Feature on the home page"


PUBLISH_PERMISSION = "articles.publish_article"
REVIEW_PERMISSION = medical.REVIEW_PERMISSION
OVERRIDE_PERMISSION = "articles.override_checks"
EDIT_PERMISSION = "articles.change_article"
ADD_PERMISSION = "articles.add_article"


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


def edit_refusal(
    user: AbstractBaseUser, *, created_by_id: int | None, stage: str
) -> str:
    """Why `user` may not edit an existing article owned by `created_by_id` in
    `stage`; empty when they may. What refusal() answers for Action.EDIT, from
    the two values it depends on: lists of many articles (the editorial calendar)
    ask it without loading each article."""
    if not (user.is_active and user.is_staff):
        return "Only active staff can do this."
    if is_editor(user):
        return ""
    if not user.has_perm(EDIT_PERMISSION):
        return "Your role cannot change articles."
    if created_by_id != user.pk:
        return "Writers change only their own articles; ask an editor."
    if stage in (Stage.IN_REVIEW, Stage.APPROVED):
        return (
            "The article is in review (or approved): it is locked for writers "
            "until a reviewer asks for changes, or an editor's change to its "
            "text sends it back to Draft."
        )
    return ""


def refusal(user: AbstractBaseUser, action: str, article: Article | None) -> str:
    """Why `user` may not do `action` to `article` now; empty when they may."""
    if not (user.is_active and user.is_staff):
        return "Only active staff can do this."
    editor = is_editor(user)
    if action == Action.EDIT:
        if article is None or article.pk is None:
            return "" if user.has_perm(ADD_PERMISSION) else "You cannot add articles."
        return edit_refusal(
            user, created_by_id=article.created_by_id, stage=article.stage
        )
    if action == Action.FEATURE:
        # Featuring places an article at the top of the home page: an editor's
        # choice, on a new article as on any other.
        return "" if editor else "Only an editor can feature an article."
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


def check(user: AbstractBaseUser, action: str, article: Article | None) -> None:
    reason = refusal(user, action, article)
    if reason:
        raise WorkflowError(reason)
