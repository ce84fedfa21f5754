"""The counts as staff read them: per day and source for one article or the whole
site, the most read articles, the rows of the CSV export; and who may see them.

Editors see every article's counts and the site's; a writer sees those of the
articles they wrote (made, or signed with their author profile); medical
reviewers and newsletter editors see none. Checked on the server for every page
and export (articles/admin/readership_views.py).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from articles.editorial.permissions import EDIT_PERMISSION, is_editor
from articles.models import Article, DailyReadership, ReadershipSource

PERIODS = (30, 90, 365)  # days the pages offer
TOP_ARTICLES = 20
EXPORT_CHUNK = 2000
EXPORT_HEADER = [
    "day",
    "article_id",
    "article_slug",
    "article_title",
    "source",
    "views",
]


def may_see_site(user: AbstractBaseUser) -> bool:
    """The site-wide counts, which rank everyone's articles: editors only."""
    return user.is_active and user.is_staff and is_editor(user)


def may_see_article(user: AbstractBaseUser, article: Article) -> bool:
    if may_see_site(user):
        return True
    if not (user.is_active and user.is_staff and user.has_perm(EDIT_PERMISSION)):
        return False
    return article.created_by_id == user.pk or (
        article.author_id is not None and article.author.user_id == user.pk
    )


def readable_articles(user: AbstractBaseUser) -> QuerySet:
    """The articles whose counts `user` may see."""
    if may_see_site(user):
        return Article.objects.all()
    if not (user.is_active and user.is_staff and user.has_perm(EDIT_PERMISSION)):
        return Article.objects.none()
    return Article.objects.filter(Q(created_by=user) | Q(author__user=user))


def period(days: str | None) -> int:
    """The period asked for in the address, or the shortest."""
    try:
        value = int(days or 0)
    except ValueError:
        return PERIODS[0]
    return value if value in PERIODS else PERIODS[0]


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        count = (self.last - self.first).days + 1
        return [self.first + timedelta(days=n) for n in range(count)]


def window(days: int) -> Window:
    """The last `days` days, today (in the site's time zone) included."""
    today = timezone.localdate()
    return Window(first=today - timedelta(days=days - 1), last=today)


def _rows(article_id: int | None, span: Window) -> QuerySet:
    rows = DailyReadership.objects.filter(day__gte=span.first, day__lte=span.last)
    return rows if article_id is None else rows.filter(article_id=article_id)


def daily(*, article_id: int | None, span: Window) -> list[tuple[date, list[int]]]:
    """Views per day in the window, one value per ReadershipSource in its order
    (days without views give zeros); one query."""
    sources = list(ReadershipSource.values)
    found: dict[date, list[int]] = {day: [0] * len(sources) for day in span.days}
    totals = (
        _rows(article_id, span)
        .values_list("day", "source")
        .annotate(views=Sum("views"))
        .order_by()
    )
    for day, source, views in totals:
        found[day][sources.index(source)] += views
    return list(found.items())


def most_read(*, span: Window, limit: int = TOP_ARTICLES) -> list[dict]:
    """The most read articles in the window, with their views; one query."""
    return list(
        _rows(None, span)
        .values("article_id", "article__title")
        .annotate(views=Sum("views"))
        .order_by("-views", "article__title")[:limit]
    )


def export_rows(*, article_id: int | None, span: Window) -> Iterator[tuple]:
    """The CSV export's rows: one per article, day and source with views; read
    in chunks once the response starts streaming."""
    rows = (
        _rows(article_id, span)
        .order_by("day", "article_id", "source")
        .values_list(
            "day", "article_id", "article__slug", "article__title", "source", "views"
        )
    )
    yield from rows.iterator(chunk_size=EXPORT_CHUNK)
