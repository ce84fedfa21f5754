"""The search insight report editors read (top searches, searches that found
nothing, a chart of each day), and what they do from it: add a synonym, pin an
article to a query, or put “write about this” on the editorial calendar.

Who may: the report needs REPORT_PERMISSION (editors; superusers), each action its
own model permission (editors), checked here, whatever the page showed.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Max, Sum, When
from django.db.models.functions import Lower
from django.utils import timezone

from articles.models import (
    Article,
    SearchCount,
    SearchPromotion,
    SearchSynonym,
    StoryIdea,
)
from articles.search.common import synonym_groups, tokenize
from articles.search.insight import normalise, retention_days
from core.charts import Series, StackedDays, stacked_days

# The chart's bars: searches that found nothing at the bottom, the rest above.
CHART_SERIES = [
    Series(key="found_nothing", label="Found nothing"),
    Series(key="found_something", label="Found something"),
]

REPORT_PERMISSION = "articles.view_searchcount"
SYNONYM_PERMISSIONS = ("articles.add_searchsynonym", "articles.change_searchsynonym")
PIN_PERMISSION = "articles.add_searchpromotion"
IDEA_PERMISSION = "articles.add_storyidea"
PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
# Rows in each of the report's tables.
TOP_LENGTH = 50
TERM_LENGTH = SearchSynonym._meta.get_field("term").max_length
SYNONYMS_LENGTH = SearchSynonym._meta.get_field("synonyms").max_length


class InsightError(Exception):
    """An action that cannot be done as asked; the message says why."""


def may_view(user: AbstractBaseUser) -> bool:
    return user.is_active and user.is_staff and user.has_perm(REPORT_PERMISSION)


def _may(user: AbstractBaseUser, *permissions: str) -> bool:
    return may_view(user) and all(user.has_perm(p) for p in permissions)


def allowed_actions(user: AbstractBaseUser) -> dict[str, bool]:
    return {
        "synonym": _may(user, *SYNONYM_PERMISSIONS),
        "pin": _may(user, PIN_PERMISSION),
        "idea": _may(user, IDEA_PERMISSION),
    }


def _require(user: AbstractBaseUser, *permissions: str) -> None:
    if not _may(user, *permissions):
        raise PermissionDenied("Your role cannot do this.")


# The report ---------------------------------------------------------------------


@dataclass
class QueryRow:
    query: str
    searches: int
    found_nothing: int = 0
    last_day: date | None = None
    # What editors did about it already.
    has_synonym: bool = False
    pinned: list[str] = field(default_factory=list)  # article titles
    idea_for: date | None = None


@dataclass
class Report:
    days: int
    start: date
    end: date
    searches: int
    found_nothing: int
    withheld: int
    chart: StackedDays
    top: list[QueryRow]
    nothing: list[QueryRow]
    retention_days: int

    @property
    def found_nothing_percent(self) -> int:
        return round(100 * self.found_nothing / self.searches) if self.searches else 0


def period(value: str | None) -> int:
    """The report's period in days, from the address (7, 30 or 90)."""
    try:
        days = int(value or DEFAULT_PERIOD)
    except ValueError:
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def _zero_sum() -> Sum:
    return Sum(
        Case(When(found_nothing=True, then="count"), default=0),
        output_field=IntegerField(),
    )


def build(*, user: AbstractBaseUser, days: int, today: date | None = None) -> Report:
    """The report of the last `days` days (today included): a fixed number of
    queries whatever the number of searches."""
    if not may_view(user):
        raise PermissionDenied("Only editors see what readers search for.")
    end = today or timezone.localdate()
    start = end - timedelta(days=days - 1)
    counts = SearchCount.objects.filter(day__range=(start, end))
    by_day: dict[date, list[int]] = {}
    withheld = 0
    for day, is_withheld, total, zero in (
        counts.values_list("day", "withheld")
        .annotate(total=Sum("count"), zero=_zero_sum())
        .order_by()
    ):
        counted = by_day.setdefault(day, [0, 0])
        counted[0] += total
        counted[1] += zero
        if is_withheld:
            withheld += total
    values = []
    for day in (start + timedelta(days=n) for n in range(days)):
        total, zero = by_day.get(day, (0, 0))
        values.append((day, [zero, total - zero]))
    kept = counts.filter(withheld=False)
    top = [
        QueryRow(query=query, searches=total, found_nothing=zero)
        for query, total, zero in kept.values_list("query")
        .annotate(total=Sum("count"), zero=_zero_sum())
        .order_by("-total", "query")[:TOP_LENGTH]
    ]
    nothing = [
        QueryRow(query=query, searches=total, found_nothing=total, last_day=last)
        for query, total, last in kept.filter(found_nothing=True)
        .values_list("query")
        .annotate(total=Sum("count"), last=Max("day"))
        .order_by("-total", "-last", "query")[:TOP_LENGTH]
    ]
    _mark_done(nothing)
    chart = stacked_days(values, CHART_SERIES)
    return Report(
        days=days,
        start=start,
        end=end,
        searches=chart.total,
        found_nothing=chart.totals[0],
        withheld=withheld,
        chart=chart,
        top=top,
        nothing=nothing,
        retention_days=retention_days(),
    )


def _mark_done(rows: list[QueryRow]) -> None:
    """What editors did already about each query: three queries for all rows."""
    if not rows:
        return
    queries = [row.query for row in rows]
    phrases = {phrase for group in synonym_groups() for phrase in group}
    pins: dict[str, list[str]] = {}
    for query, title in (
        SearchPromotion.objects.filter(query__in=queries)
        .order_by("position", "pk")
        .values_list("query", "article__title")
    ):
        pins.setdefault(query, []).append(title)
    ideas = dict(
        StoryIdea.objects.filter(query__in=queries).values_list("query", "planned_for")
    )
    for row in rows:
        row.has_synonym = tuple(tokenize(row.query)) in phrases
        row.pinned = pins.get(row.query, [])
        row.idea_for = ideas.get(row.query)


# The editors' actions -------------------------------------------------------------


def _query(text: str) -> str:
    query = normalise(text)
    if not query:
        raise InsightError("There is no query to act on.")
    return query


def add_synonym(*, user: AbstractBaseUser, query: str, means: str) -> SearchSynonym:
    """Make `query` a synonym of `means` (a word or phrase articles use): added to
    the synonyms of the term `means` if there is one (by any case), else a new
    term. Searches for the query then find what `means` finds."""
    _require(user, *SYNONYM_PERMISSIONS)
    # A comma separates synonyms: inside one it would split it in two.
    words = _query(query).replace(",", " ")
    words = " ".join(words.split())
    term = " ".join(means.replace(",", " ").split())
    if not term:
        raise InsightError("Say which word or phrase the query means.")
    if len(term) > TERM_LENGTH:
        raise InsightError(f"The word it means is longer than {TERM_LENGTH} letters.")
    if tuple(tokenize(term)) == tuple(tokenize(words)):
        raise InsightError("A query cannot be a synonym of itself.")
    with transaction.atomic():
        synonym = (
            SearchSynonym.objects.select_for_update()
            .annotate(lower=Lower("term"))
            .filter(lower=term.casefold())
            .first()
        )
        if synonym is None:
            if len(words) > SYNONYMS_LENGTH:
                raise InsightError("The query is too long to be a synonym.")
            return SearchSynonym.objects.create(term=term, synonyms=words)
        present = {s.strip().casefold() for s in synonym.synonyms.split(",")}
        if words in present:
            return synonym
        joined = ", ".join(s for s in (synonym.synonyms.strip(), words) if s)
        if len(joined) > SYNONYMS_LENGTH:
            raise InsightError(
                f"“{synonym.term}” has too many synonyms to add this one "
                f"({SYNONYMS_LENGTH} letters in all): edit it in Search synonyms."
            )
        synonym.synonyms = joined
        synonym.save(update_fields=["synonyms"])
        return synonym


def article_from(reference: str) -> Article:
    """An article by its address on the site, its slug or its id."""
    text = (reference or "").strip()
    slug = text.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    if not slug:
        raise InsightError("Give the article's address or slug.")
    found = Article.objects.filter(slug=slug).first()
    if found is None and slug.isdigit():
        found = Article.objects.filter(pk=int(slug)).first()
    if found is None:
        raise InsightError(f"No article has the address or slug “{slug[:100]}”.")
    return found


def pin_article(
    *, user: AbstractBaseUser, query: str, article: Article
) -> SearchPromotion:
    """Pin `article` first on the results of `query` (after those pinned before).
    A draft may be pinned: readers see it once it is live. Pinning it twice
    changes nothing."""
    _require(user, PIN_PERMISSION)
    normalised = _query(query)
    existing = SearchPromotion.objects.filter(query=normalised, article=article)
    if (promotion := existing.first()) is not None:
        return promotion
    last = SearchPromotion.objects.filter(query=normalised).aggregate(
        last=Max("position")
    )["last"]
    try:
        with transaction.atomic():
            return SearchPromotion.objects.create(
                query=normalised,
                article=article,
                position=(last or 0) + 1,
                created_by=user,
            )
    except IntegrityError:
        # Pinned by someone else meanwhile: the same outcome.
        return existing.get()


def plan_idea(
    *, user: AbstractBaseUser, query: str, planned_for: date
) -> tuple[StoryIdea, bool]:
    """Put “write about this” for the query on the editorial calendar on
    `planned_for`; one idea per query (a second click leaves the first as it
    is). Returns the idea and whether it is new."""
    _require(user, IDEA_PERMISSION)
    normalised = _query(query)
    if planned_for < timezone.localdate():
        raise InsightError("Plan the idea for today or a later day.")
    try:
        with transaction.atomic():
            return StoryIdea.objects.get_or_create(
                query=normalised,
                defaults={"planned_for": planned_for, "created_by": user},
            )
    except IntegrityError:
        return StoryIdea.objects.get(query=normalised), False
