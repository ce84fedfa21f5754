"""What the desk is told about sources: raising a problem on every live article
citing a failing, moved or retracted source (its review falls due today; a medical
one citing retracted work goes back to the reviewers' queue), resolving it when
the check finds it fixed, and who may mark one "checked, fine"."""

from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from articles.editorial import permissions, workflow
from articles.editorial.medical import is_medical_reviewer
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ProblemKind,
    SourceCitation,
    SourceProblem,
    SourceTarget,
)


def open_problems() -> QuerySet:
    """Neither dismissed nor resolved: the dashboard's queue."""
    return SourceProblem.objects.filter(
        dismissed_at__isnull=True, resolved_at__isnull=True
    )


def visible_to(user: AbstractBaseUser) -> Q | None:
    """Which open problems `user`'s dashboard lists: an editor all of them; a
    writer those on their own articles; a medical reviewer the retractions too.
    None for anyone else."""
    if not (user.is_active and user.is_staff):
        return None
    if permissions.is_editor(user):
        return Q()
    shown = None
    if user.has_perm(permissions.ADD_PERMISSION):
        shown = Q(article__created_by=user)
    if is_medical_reviewer(user):
        retractions = Q(kind=ProblemKind.RETRACTED)
        shown = retractions if shown is None else shown | retractions
    return shown


def dismiss_refusal(user: AbstractBaseUser, problem: SourceProblem) -> str:
    """Why `user` may not mark `problem` checked and fine; empty when they may.
    An editor may any; a retraction asks a medical judgement (does the article
    still stand without that study?), so besides editors only a medical reviewer
    clears one; a broken or moved link its writer may judge too."""
    if not (user.is_active and user.is_staff):
        return "Only active staff can do this."
    if permissions.is_editor(user):
        return ""
    if problem.kind == ProblemKind.RETRACTED:
        if is_medical_reviewer(user):
            return ""
        return "Only an editor or a medical reviewer can clear a retracted source."
    if (
        user.has_perm(permissions.EDIT_PERMISSION)
        and problem.article.created_by_id == user.pk
    ):
        return ""
    return "Only an editor, or the writer of the article, can mark this source fine."


@transaction.atomic
def dismiss(*, problem: SourceProblem, user: AbstractBaseUser) -> SourceProblem:
    """Mark a problem checked and fine: it leaves the queue, and stays off it
    until the check finds the source fixed and then failing again."""
    problem = (
        SourceProblem.objects.select_for_update()
        .select_related("article")
        .get(pk=problem.pk)
    )
    reason = dismiss_refusal(user, problem)
    if reason:
        raise WorkflowError(reason)
    if problem.dismissed_at or problem.resolved_at:
        raise WorkflowError("This problem is no longer open: nothing was done.")
    problem.dismissed_at = timezone.now()
    problem.dismissed_by = user
    problem.save(update_fields=["dismissed_at", "dismissed_by"])
    return problem


def make_due(*, article_id: int, today: date) -> bool:
    """The article's review falls due today, unless it was due already."""
    return bool(
        Article.objects.filter(pk=article_id)
        .filter(Q(review_due__isnull=True) | Q(review_due__gt=today))
        .update(review_due=today)
    )


def raise_problem(
    *, target: SourceTarget, kind: str, reason: str, final_url: str = ""
) -> int:
    """A problem on each live article citing `target` that has none of this
    kind unresolved (a dismissed one stays dismissed). Returns how many."""
    today = timezone.localdate()
    cited_by = SourceCitation.objects.filter(target=target).values_list(
        "article_id", flat=True
    )
    raised = 0
    for article_id in cited_by:
        with transaction.atomic():
            if SourceProblem.objects.filter(
                article_id=article_id, target=target, kind=kind, resolved_at=None
            ).exists():
                continue
            SourceProblem.objects.create(
                article_id=article_id,
                target=target,
                kind=kind,
                reason=reason[:500],
                final_url=final_url,
            )
            make_due(article_id=article_id, today=today)
            if kind == ProblemKind.RETRACTED:
                workflow.send_back_to_review(
                    article=Article(pk=article_id),
                    reason=f"A source is retracted ({target}): {reason}"[:2000],
                )
            raised += 1
    return raised


def resolve(*, target: SourceTarget, kinds: list[str]) -> int:
    """The check found the source fine: its problems of these kinds are over."""
    return SourceProblem.objects.filter(
        target=target, kind__in=kinds, resolved_at=None
    ).update(resolved_at=timezone.now())


def resolve_uncited() -> int:
    """Problems of sources their article no longer cites (edited, or no longer
    live) are over."""
    cited = SourceCitation.objects.filter(
        target=OuterRef("target"), article=OuterRef("article")
    )
    return (
        SourceProblem.objects.filter(resolved_at=None)
        .exclude(Exists(cited))
        .update(resolved_at=timezone.now())
    )
