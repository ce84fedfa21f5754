"""The editorial dashboard on the admin home: the articles waiting for the person
looking, by workflow stage. Each role sees the sections that concern it: writers
their drafts and the changes asked of them, reviewers their review queue and the
reviews falling due, editors everything.

Counts take one query for every section together, and rows one query a section,
whatever the number of articles.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from articles.admin import review_views, workflow_views
from articles.editorial import permissions, workflow
from articles.editorial.permissions import Action
from articles.models import Article, Stage, Transition

ROWS_MAX = 15
REVIEW_DUE_DAYS = 30


@dataclass
class Row:
    article: Article
    url: str
    when: datetime | date | None
    # The one-click buttons of the review and approved sections, shown only to
    # those the workflow allows (it checks again when the button is used).
    review_url: str = ""
    approve_url: str = ""
    publish_url: str = ""

    @property
    def unreviewed_live(self) -> bool:
        """Readers see it, medical, with no current medical approval."""
        return permissions.needs_live_approval(self.article)

    @property
    def owner(self) -> str:
        user = self.article.created_by
        return (user.get_full_name() or user.get_username()) if user else ""


@dataclass
class Section:
    key: str
    title: str
    explanation: str
    date_label: str
    count: int
    rows: list[Row]


@dataclass
class SectionSpec:
    key: str
    title: str
    explanation: str
    date_label: str
    date_field: str
    # Oldest first (waiting longest), or newest first.
    oldest_first: bool
    condition: Q
    # The workflow buttons its rows offer (Action values).
    actions: tuple[str, ...] = ()


@dataclass
class Dashboard:
    sections: list[Section]


def needs_live_approval_q() -> Q:
    """permissions.needs_live_approval as a filter, for articles nobody is working
    on (once changes are asked for, the article is back in the workflow)."""
    return Q(
        status=Article.Status.PUBLISHED,
        reviewer__isnull=True,
        stage__in=[Stage.LIVE, Stage.SCHEDULED],
    ) & (Q(medical=True) | Q(topic__medical=True))


def specs(user) -> list[SectionSpec]:
    """The sections `user`'s role sees, with what each selects."""
    editor = permissions.is_editor(user)
    reviewer = workflow.is_reviewer(user)
    writer = user.has_perm(permissions.ADD_PERMISSION)
    today = timezone.localdate()
    found = []
    if writer:
        found.append(
            SectionSpec(
                "my_drafts",
                "My drafts",
                "Articles you started that are not yet submitted for review.",
                "Last saved",
                "last_saved",
                False,
                Q(created_by=user, stage__in=[Stage.DRAFT, Stage.CHANGES_REQUESTED]),
            )
        )
    if editor or reviewer:
        in_review = Q(stage=Stage.IN_REVIEW)
        if not editor:
            in_review &= Q(assigned_reviewer=user) | Q(assigned_reviewer__isnull=True)
        found.append(
            SectionSpec(
                "review",
                "Waiting for review" if editor else "Waiting for my review",
                "Submitted articles"
                + ("" if editor else " assigned to you or to no one")
                + ", and medical articles readers see without a current medical "
                "approval (oldest first).",
                "Waiting since",
                "last_step",
                True,
                in_review | needs_live_approval_q(),
                actions=(Action.APPROVE,),
            )
        )
    if writer and not editor:
        # Where a writer starts a correction to what readers see (editors find
        # every article in the list).
        found.append(
            SectionSpec(
                "my_published",
                "My published articles",
                "Articles you started that readers see or will see: open one to "
                "correct it, then save and submit the change for review.",
                "Published",
                "published_at",
                False,
                Q(created_by=user, status=Article.Status.PUBLISHED),
            )
        )
    if editor or writer:
        changes = Q(stage=Stage.CHANGES_REQUESTED)
        if not editor:
            changes &= Q(created_by=user)
        found.append(
            SectionSpec(
                "changes_requested",
                "Changes requested",
                "A reviewer asked for changes: their note is on the article's page.",
                "Asked on",
                "last_step",
                False,
                changes,
            )
        )
    if editor:
        found += [
            SectionSpec(
                "approved",
                "Approved and waiting to publish",
                "Approved articles an editor can publish or schedule.",
                "Approved on",
                "last_step",
                True,
                Q(stage=Stage.APPROVED),
                actions=(Action.PUBLISH,),
            ),
            SectionSpec(
                "scheduled",
                "Scheduled",
                "Published articles readers see from their publish time on.",
                "Publishes",
                "published_at",
                True,
                Q(stage=Stage.SCHEDULED, published_at__gt=timezone.now()),
            ),
        ]
    if editor or reviewer:
        found.append(
            SectionSpec(
                "review_due",
                "Review due",
                f"Published medical articles whose review is due within "
                f"{REVIEW_DUE_DAYS} days, or overdue.",
                "Review due",
                "review_due",
                True,
                Q(
                    status=Article.Status.PUBLISHED,
                    review_due__lte=today + timedelta(days=REVIEW_DUE_DAYS),
                ),
            )
        )
    return found


def dated(queryset: QuerySet) -> QuerySet:
    """The dates sections sort by: the latest workflow step (one probe of the
    transitions' (article, -at) index an article) and the last save."""
    last_step = (
        Transition.objects.filter(article=OuterRef("pk")).order_by("-at").values("at")
    )
    return queryset.annotate(
        last_step=Subquery(last_step[:1]),
        last_saved=Coalesce("latest_revision__created_at", "updated_at"),
    )


def articles() -> QuerySet:
    return dated(
        Article.objects.select_related(
            "author", "topic", "created_by", "assigned_reviewer"
        ).defer("body")
    )


def for_user(user) -> Dashboard:
    """The sections `user` sees, with their counts and first rows."""
    found = specs(user)
    if not found:
        return Dashboard(sections=[])
    counts = Article.objects.aggregate(
        **{spec.key: Count("pk", filter=spec.condition) for spec in found}
    )
    sections = []
    for spec in found:
        field = F(spec.date_field)
        order = (
            (field.asc(nulls_first=True), "pk")
            if spec.oldest_first
            else (field.desc(nulls_last=True), "-pk")
        )
        # The section's first rows picked on narrow rows, then read in full: a
        # queue of thousands is not sorted with every row's joins and revision.
        first = dated(Article.objects.filter(spec.condition)).order_by(*order)
        found_rows = articles().filter(pk__in=first.values("pk")[:ROWS_MAX])
        found_rows = found_rows.order_by(*order)
        if spec.actions:
            # The revision the buttons name, and the permission check reads.
            found_rows = found_rows.select_related("latest_revision")
        rows = found_rows[:ROWS_MAX]
        sections.append(
            Section(
                key=spec.key,
                title=spec.title,
                explanation=spec.explanation,
                date_label=spec.date_label,
                count=counts[spec.key],
                rows=[
                    Row(
                        article=article,
                        url=reverse("admin:articles_article_change", args=[article.pk]),
                        when=getattr(article, spec.date_field),
                        **row_actions(article, user, spec.actions),
                    )
                    for article in rows
                ],
            )
        )
    return Dashboard(sections=sections)


def row_actions(article: Article, user, actions: tuple[str, ...]) -> dict[str, str]:
    """The URLs of the buttons `user` may use on this row (permissions.refusal,
    no query: the row has its topic and latest revision)."""
    found = {}
    if Action.APPROVE in actions:
        found["review_url"] = review_views.review_url(article)
    for action, key in (
        (Action.APPROVE, "approve_url"),
        (Action.PUBLISH, "publish_url"),
    ):
        if action in actions and not permissions.refusal(user, action, article):
            found[key] = reverse(
                f"admin:{workflow_views.url_name(action)}", args=[article.pk]
            )
    return found
