"""The planned date of an article (the editorial calendar's "planned for"): a
plan staff move around, kept apart from the publish time that makes it public."""

from datetime import date

from django.contrib.auth.models import AbstractBaseUser

from articles.editorial.permissions import Action, check
from articles.models import Article


def plan_article(
    *, article: Article, user: AbstractBaseUser, planned_for: date | None
) -> Article:
    """Plan `article` for `planned_for` (None: no plan). Whoever may edit the
    article may plan it (permissions.refusal: writers their own, editors any);
    refused with WorkflowError otherwise.

    Only the one column is written: no revision, since a plan is not content, and
    no public page changes."""
    check(user, Action.EDIT, article)
    Article.objects.filter(pk=article.pk).update(planned_for=planned_for)
    article.planned_for = planned_for
    return article
