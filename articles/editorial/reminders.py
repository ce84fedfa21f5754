"""The weekly email to medical reviewers about reviews due soon or overdue.

A live medical article's review is due `topic.review_interval_months` after the
approval of the version readers see (Article.review_due, set by
articles/editorial/workflow.py). Once a week each medical reviewer gets one email
listing the
published medical articles due within DUE_WITHIN days or overdue that are theirs:
assigned to them, or approved last by them. An article with neither (nobody
assigned, and whoever approved it last is gone: deleted, deactivated, or no longer
a reviewer) goes to every reviewer, so that no due review is left unseen.

At most one email per reviewer per week, whatever the worker does: a
ReviewReminder row (unique per user and week) is claimed before the email is
sent, so a second run in the same week, a retried task or a duplicate chain sends
nothing. A run killed between the claim and the send loses that reviewer's email
for the week (sent_at stays empty on the claim): we choose at most once over at
least once, because next week's email lists the same articles again (they stay
due until reviewed) while a duplicate would teach reviewers to ignore it. An email
that fails to send releases its claim, so a later run that week can try again.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.core.mail import EmailMultiAlternatives
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, MedicalApproval, ReviewReminder
from core.emails import build, render_email
from core.links import absolute

logger = logging.getLogger(__name__)

DUE_WITHIN = timedelta(days=30)
# The weekly run: Monday morning, site time, before the working week starts.
RUN_WEEKDAY = 0
RUN_TIME = time(7, 0)


@dataclass(frozen=True)
class DueReview:
    article: Article
    # Why this reviewer is told: "assigned", "approved_last" or "unclaimed".
    reason: str
    admin_url: str
    overdue: bool


@dataclass(frozen=True)
class Outcome:
    sent: int
    already_sent: int
    failed: int
    articles: int


def week_of(day: date) -> date:
    """The Monday of the week `day` is in: one reminder per reviewer per week."""
    return day - timedelta(days=day.weekday())


def next_run_after(moment: datetime) -> datetime:
    """The next weekly run after `moment`: next Monday at RUN_TIME, site time."""
    local = timezone.localtime(moment)
    days = (RUN_WEEKDAY - local.weekday()) % 7 or 7
    return timezone.make_aware(
        datetime.combine(local.date() + timedelta(days=days), RUN_TIME)
    )


def reviewers() -> QuerySet:
    """Active accounts given the review permission, through a role or directly.
    Superusers hold every permission without being medical reviewers: only those
    given it are asked."""
    permission = Permission.objects.get(
        content_type__app_label="articles", codename="review_article"
    )
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__permissions=permission) | Q(user_permissions=permission))
        .distinct()
        .order_by("pk")
    )


def due_articles(*, today: date) -> QuerySet:
    """Published medical articles whose review is due within DUE_WITHIN days, or
    overdue, oldest due first; each with the user who approved it last."""
    last_approver = MedicalApproval.objects.filter(article=OuterRef("pk")).order_by(
        "-approved_at", "-pk"
    )
    return (
        Article.objects.medical()
        .filter(
            status=Article.Status.PUBLISHED,
            review_due__isnull=False,
            review_due__lte=today + DUE_WITHIN,
        )
        .select_related("topic")
        .annotate(last_approver_id=Subquery(last_approver.values("user_id")[:1]))
        .order_by("review_due", "pk")
    )


def plan(*, today: date) -> dict[AbstractBaseUser, list[DueReview]]:
    """Each reviewer (a user) to be emailed, with their due reviews in order. A
    fixed number of queries, however many articles and reviewers."""
    everyone = list(reviewers())
    by_id = {user.pk: user for user in everyone}
    lists: defaultdict[AbstractBaseUser, list[DueReview]] = defaultdict(list)
    for article in due_articles(today=today):
        url = absolute(reverse("admin:articles_article_change", args=[article.pk]))
        targets = {}
        if article.assigned_reviewer_id in by_id:
            targets[article.assigned_reviewer_id] = "assigned"
        if article.last_approver_id in by_id:
            targets.setdefault(article.last_approver_id, "approved_last")
        if not targets:
            targets = dict.fromkeys(by_id, "unclaimed")
        overdue = article.review_due < today
        for user_id, reason in targets.items():
            lists[by_id[user_id]].append(DueReview(article, reason, url, overdue))
    return dict(lists)


def reminder_message(
    *, user: AbstractBaseUser, reviews: list[DueReview], today: date
) -> EmailMultiAlternatives:
    subject, text, html = render_email(
        "articles/email/review_due",
        {
            "user": user,
            "name": user.get_short_name() or user.get_username(),
            "reviews": reviews,
            "overdue_count": sum(review.overdue for review in reviews),
            "due_within_days": DUE_WITHIN.days,
            "today": today,
            "queue_url": absolute(reverse("admin:articles_article_changelist")),
        },
    )
    return build(
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        # Automatic: out-of-office replies should not answer it.
        headers={"Auto-Submitted": "auto-generated"},
    )


def send_due_reminders(*, today: date | None = None) -> Outcome:
    """Email each reviewer with due reviews, once this week at most."""
    today = today or timezone.localdate()
    week = week_of(today)
    sent = already_sent = failed = 0
    planned = plan(today=today)
    for user, reviews in planned.items():
        if not user.email:
            logger.warning("Reviewer %s has no email address: not reminded.", user)
            continue
        claim, created = ReviewReminder.objects.get_or_create(
            user=user, week=week, defaults={"article_count": len(reviews)}
        )
        if not created:
            already_sent += 1
            continue
        try:
            reminder_message(user=user, reviews=reviews, today=today).send()
        except Exception:
            # Not sent: let a later run this week try again.
            claim.delete()
            failed += 1
            logger.exception("Review reminder to %s could not be sent.", user)
            continue
        ReviewReminder.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
        sent += 1
    articles = {review.article.pk for reviews in planned.values() for review in reviews}
    return Outcome(
        sent=sent, already_sent=already_sent, failed=failed, articles=len(articles)
    )
