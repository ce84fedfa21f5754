"""What makes an article medical, and who may say it is not.

A medical article is published only with a medical reviewer's approval of that
exact version. The medical flag (a topic's or an article's own) is therefore no
switch around the review: only a medical reviewer may turn it off, with a reason,
and each change is logged (MedicalFlagChange, and the articles' history). Anyone
who may edit may turn it on. The same goes for what an approval says of its
reviewer: a reviewer's name and credentials are changed only by that reviewer or
a superuser, and readers see them as they were when the reviewer approved.
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from articles.errors import WorkflowError
from articles.models import Article, ArticleRevision, Author, MedicalApproval, Topic

REVIEW_PERMISSION = "articles.review_article"


def is_reviewer(user: AbstractBaseUser) -> bool:
    """May review: a medical reviewer, or a superuser (who holds every
    permission)."""
    return user.has_perm(REVIEW_PERMISSION)


def is_medical_reviewer(user: AbstractBaseUser) -> bool:
    """Given the review permission, through a role or directly: a superuser's
    blanket permissions do not make them a medical reviewer."""
    if not (user.is_active and user.is_staff and is_reviewer(user)):
        return False
    if not user.is_superuser:
        return True  # has_perm: the role's or their own permission
    app_label, codename = REVIEW_PERMISSION.split(".")
    given = {"content_type__app_label": app_label, "codename": codename}
    return (
        user.user_permissions.filter(**given).exists()
        or user.groups.filter(
            **{f"permissions__{key}": value for key, value in given.items()}
        ).exists()
    )


def is_medical(article: Article, data: dict[str, Any] | None = None) -> bool:
    """Medical by the article's flag or its topic's, as `data` (a revision) has
    them when given."""
    if data is None:
        return article.is_medical
    topic_id = data.get("topic_id", article.topic_id)
    topic_medical = (
        article.topic.medical
        if topic_id == article.topic_id
        else Topic.objects.filter(pk=topic_id, medical=True).exists()
    )
    return bool(data.get("medical")) or topic_medical


def needs_medical_review(article: Article, data: dict[str, Any] | None) -> bool:
    """Whether approving or publishing the version `data` needs a medical
    reviewer: it is medical, or the article's row is (for a published article,
    the version readers see). A version that stops being medical is published
    only with a reviewer's approval too, so no change of flag or topic, in any
    order, publishes unreviewed text in place of a medical article."""
    return article.is_medical or (data is not None and is_medical(article, data))


def current_approval(
    article: Article, revision: ArticleRevision
) -> MedicalApproval | None:
    """The latest approval that covers this revision's reviewed content."""
    return (
        article.approvals.filter(review_hash=revision.review_hash)
        .select_related("reviewer")
        .first()
    )


def check_turn_off(*, user: AbstractBaseUser, reason: str, what: str) -> str:
    """The reason, cleaned, when `user` may mark `what` not medical; raises
    WorkflowError otherwise."""
    if not is_medical_reviewer(user):
        raise WorkflowError(
            f"Only a medical reviewer can mark {what} not medical: it takes away "
            "the medical review. Nothing was changed."
        )
    reason = reason.strip()
    if not reason:
        raise WorkflowError(
            f"Say why {what} is not medical: the reason is kept in its history."
        )
    return reason


# Reviewers' bylines -----------------------------------------------------------------

# What an approval shows readers of its reviewer, and the account it belongs to.
GUARDED_AUTHOR_FIELDS = ("name", "credentials", "user")


def is_reviewer_profile(author: Author) -> bool:
    """A byline a "Medically reviewed by" line names, or may name: its account
    reviews, or it has approved before."""
    if author.pk is None:
        return False
    user = author.user
    if user is not None and user.is_active and is_reviewer(user):
        return True
    return author.approvals.exists()


def may_change_reviewer_profile(user: AbstractBaseUser, author: Author) -> bool:
    """A reviewer's name, credentials and account link are theirs: changed only
    by that reviewer or a superuser."""
    return user.is_active and (
        user.is_superuser or (author.user_id is not None and author.user_id == user.pk)
    )


def is_reviewer_account(user: AbstractBaseUser | None) -> bool:
    return user is not None and user.is_active and is_reviewer(user)
