"""The articles' entries on the editorial calendar (core.calendar): planned
dates of drafts, publishes (scheduled ones ahead), medical reviews falling due;
and the story ideas editors took from searches that found nothing (IdeaSource).

One query for the entries of any period, whatever their number; links are made
from one reversed address each, not reversed entry by entry.
"""

from collections import namedtuple
from collections.abc import Callable
from datetime import date
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from articles.editorial.permissions import edit_refusal
from articles.models import Article, Stage, StoryIdea, Topic
from core.calendar.grid import local_days, on_days
from core.calendar.sources import Choice, Entry, url_maker

PLANNED, PUBLISH, REVIEW = "planned", "publish", "review"
IDEA = "idea"


def _planned(start: date, end: date) -> Q:
    return Q(status=Article.Status.DRAFT, planned_for__range=(start, end))


def _window(start: date, end: date) -> Q:
    published = Q(status=Article.Status.PUBLISHED) & on_days("published_at", start, end)
    return _planned(start, end) | published | Q(review_due__range=(start, end))


# What an entry needs of an article, read as plain values (no model instances:
# a month may hold thousands).
COLUMNS = (
    "pk",
    "title",
    "status",
    "stage",
    "published_at",
    "planned_for",
    "review_due",
    "created_by_id",
    "assigned_reviewer_id",
    "author__user_id",
    "reviewer__user_id",
)
Row = namedtuple("Row", [c.replace("__", "_") for c in COLUMNS])
STAGE_LABELS = dict(Stage.choices)


def _rows(condition: Q) -> list[Row]:
    found = Article.objects.filter(condition).order_by().values_list(*COLUMNS)
    return [Row._make(values) for values in found]


class ArticleSource:
    permission = "articles.view_article"

    def entries(
        self,
        *,
        user: AbstractBaseUser,
        start: date,
        end: date,
        topic: str = "",
        person: str = "",
    ) -> list[Entry]:
        condition = _window(start, end)
        if topic:
            condition &= Q(topic_id=topic)
        if person:
            condition &= (
                Q(created_by_id=person)
                | Q(author__user_id=person)
                | Q(assigned_reviewer_id=person)
                | Q(reviewer__user_id=person)
            )
        kinds = {PLANNED, PUBLISH, REVIEW}
        return _entries(_rows(condition), start, end, user, lambda article: kinds)

    def feed_entries(
        self, *, user: AbstractBaseUser, start: date, end: date
    ) -> list[Entry]:
        """Their medical reviews falling due (as the article's reviewer, or the
        one asked to review it) and the planned dates of their drafts (as owner
        or byline), if they may still view articles."""
        if not user.has_perm(self.permission):
            return []
        reviewing = Q(reviewer__user=user) | Q(assigned_reviewer=user)
        owning = Q(created_by=user) | Q(author__user=user)
        condition = (Q(review_due__range=(start, end)) & reviewing) | (
            _planned(start, end) & owning
        )

        def theirs(article: Row) -> set[str]:
            kinds = set()
            if user.pk in (article.created_by_id, article.author_user_id):
                kinds.add(PLANNED)
            if user.pk in (article.assigned_reviewer_id, article.reviewer_user_id):
                kinds.add(REVIEW)
            return kinds

        return _entries(_rows(condition), start, end, None, theirs)

    def topics(self) -> list[Choice]:
        return [
            Choice(str(pk), name)
            for pk, name in Topic.objects.order_by("name").values_list("pk", "name")
        ]


def _entries(
    rows: list[Row],
    start: date,
    end: date,
    user: AbstractBaseUser | None,
    kinds_of: Callable[[Row], set[str]],
) -> list[Entry]:
    """The entries of `rows` in the period, of the kinds `kinds_of` each row;
    planned ones movable when `user` may edit the article."""
    change_url = url_maker("admin:articles_article_change")
    plan_url = url_maker("admin:articles_article_plan")
    now = timezone.now()
    local_day = local_days()
    # edit_refusal depends on the owner and the stage only: asked once for each.
    refusals: dict[tuple[int | None, str], str] = {}
    found = []
    for article in rows:
        kinds = kinds_of(article)
        url = change_url(article.pk)
        planned = article.planned_for
        if (
            PLANNED in kinds
            and article.status == Article.Status.DRAFT
            and planned is not None
            and start <= planned <= end
        ):
            key = (article.created_by_id, article.stage)
            if user is not None and key not in refusals:
                refusals[key] = edit_refusal(user, created_by_id=key[0], stage=key[1])
            movable = user is not None and not refusals[key]
            found.append(
                Entry(
                    uid=f"article-{article.pk}-planned",
                    day=planned,
                    kind=PLANNED,
                    kind_label="Planned",
                    title=article.title,
                    url=url,
                    move_url=plan_url(article.pk) if movable else "",
                    detail=STAGE_LABELS[article.stage],
                )
            )
        published = article.published_at
        if (
            PUBLISH in kinds
            and article.status == Article.Status.PUBLISHED
            and published is not None
            and start <= (publish_day := local_day(published)) <= end
        ):
            found.append(
                Entry(
                    uid=f"article-{article.pk}-publish",
                    day=publish_day,
                    kind=PUBLISH,
                    kind_label="Scheduled" if published > now else "Published",
                    title=article.title,
                    url=url,
                    at=published,
                )
            )
        due = article.review_due
        if REVIEW in kinds and due is not None and start <= due <= end:
            found.append(
                Entry(
                    uid=f"article-{article.pk}-review",
                    day=due,
                    kind=REVIEW,
                    kind_label="Review due",
                    title=article.title,
                    url=url,
                )
            )
    return found


class IdeaSource:
    """“Write about this”: queries readers found nothing for, on the day an
    editor planned an article about them (articles/search/insight_report.py).
    Each links to a new draft named after the query."""

    permission = "articles.view_storyidea"

    def _entries(self, ideas) -> list[Entry]:
        add_url = reverse("admin:articles_article_add")
        return [
            Entry(
                uid=f"idea-{pk}",
                day=planned_for,
                kind=IDEA,
                kind_label="Idea",
                title=f"Write about “{query}”",
                url=f"{add_url}?{urlencode({'title': query.capitalize()})}",
                detail="Readers searched for it and found nothing",
            )
            for pk, query, planned_for in ideas.values_list(
                "pk", "query", "planned_for"
            )
        ]

    def entries(
        self,
        *,
        user: AbstractBaseUser,
        start: date,
        end: date,
        topic: str = "",
        person: str = "",
    ) -> list[Entry]:
        # Ideas have no topic yet: a calendar narrowed to one leaves them out.
        if topic:
            return []
        ideas = StoryIdea.objects.filter(planned_for__range=(start, end))
        if person:
            ideas = ideas.filter(created_by_id=person)
        return self._entries(ideas.order_by())

    def feed_entries(
        self, *, user: AbstractBaseUser, start: date, end: date
    ) -> list[Entry]:
        """The ideas they planned, while they may still see ideas."""
        if not user.has_perm(self.permission):
            return []
        ideas = StoryIdea.objects.filter(
            planned_for__range=(start, end), created_by=user
        )
        return self._entries(ideas.order_by())

    def topics(self) -> list[Choice]:
        return []
