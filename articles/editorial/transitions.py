"""What every workflow action is made of: the Transition it records, the stage it
moves to, the refusal when the revision changed under the user, the article's row
locked for the transaction, and what the public page says about review.
articles/editorial/workflow.py and articles/editorial/going_live.py use them."""

from typing import Any

from django.utils import timezone

from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRevision,
    MedicalApproval,
    Transition,
)
from core.calendar.grid import add_months


def record_transition(
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


def move_stage(
    *,
    article: Article,
    user,
    to_stage: str,
    note: str = "",
    revision: ArticleRevision | None = None,
) -> None:
    """Log the step and put the article in its new stage."""
    record_transition(
        article=article,
        user=user,
        from_stage=article.stage,
        to_stage=to_stage,
        note=note,
        revision=revision,
    )
    Article.objects.filter(pk=article.pk).update(stage=to_stage)
    article.stage = to_stage


def expect_revision(
    revision: ArticleRevision, number: int | None, *, doing: str
) -> None:
    """Refuse when a revision was saved after the one the user was shown."""
    if number is not None and number != revision.number:
        raise WorkflowError(
            f"Revision {revision.number} was saved after the revision {number} you "
            f"were looking at: read it before {doing}. Nothing was done."
        )


def lock_article(article: Article) -> Article:
    """The article's row, locked for the transaction (two editors at once)."""
    return (
        Article.objects.select_for_update().select_related("topic").get(pk=article.pk)
    )


def reviewed_fields(
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
