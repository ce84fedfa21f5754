"""Readership in the admin: a chart of one article's views per day by source
(linked from its change page), one of the whole site with the most read articles,
and both as CSV. Who may see which is articles/readership/reports.py's rule,
checked here for every page and export."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from articles.models import Article, ReadershipSource
from articles.readership import reports
from core.charts import Series, stacked_days
from core.spreadsheets import csv_lines

SERIES = [Series(key=value, label=label) for value, label in ReadershipSource.choices]


def urls(model_admin) -> list[URLPattern]:
    """The pages and exports, wrapped by the admin's login check."""
    site = model_admin.admin_site

    def site_page(request: HttpRequest) -> HttpResponse:
        return site_view(request, model_admin=model_admin)

    def article_page(request: HttpRequest, object_id: int) -> HttpResponse:
        return article_view(request, object_id, model_admin=model_admin)

    return [
        path(
            "readership/",
            site.admin_view(site_page),
            name="articles_article_readership",
        ),
        path(
            "readership.csv",
            site.admin_view(site_csv_view),
            name="articles_article_readership_csv",
        ),
        path(
            "<int:object_id>/readership/",
            site.admin_view(article_page),
            name="articles_article_article_readership",
        ),
        path(
            "<int:object_id>/readership.csv",
            site.admin_view(article_csv_view),
            name="articles_article_article_readership_csv",
        ),
    ]


def site_url(request: HttpRequest) -> str:
    """The site-wide page, for the article list's link; "" for those who may not
    see it."""
    if not reports.may_see_site(request.user):
        return ""
    return reverse("admin:articles_article_readership")


def readership_url(request: HttpRequest, article: Article | None) -> str:
    """The article's readership page, for the change page's link; "" for a new
    article or someone who may not see its counts."""
    if article is None or not reports.may_see_article(request.user, article):
        return ""
    return reverse("admin:articles_article_article_readership", args=[article.pk])


def _readable_article(request: HttpRequest, object_id: int) -> Article:
    article = get_object_or_404(Article.objects.select_related("author"), pk=object_id)
    if not reports.may_see_article(request.user, article):
        raise PermissionDenied
    return article


def _periods(days: int, url: str) -> list[dict]:
    return [
        {"days": n, "url": f"{url}?days={n}", "current": n == days}
        for n in reports.PERIODS
    ]


def _context(request: HttpRequest, model_admin, *, days: int, url: str) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": Article._meta,
        "days": days,
        "periods": _periods(days, url),
    }


def site_view(request: HttpRequest, *, model_admin) -> HttpResponse:
    if not reports.may_see_site(request.user):
        raise PermissionDenied
    days = reports.period(request.GET.get("days"))
    span = reports.window(days)
    url = reverse("admin:articles_article_readership")
    context = {
        **_context(request, model_admin, days=days, url=url),
        "title": "Readership",
        "chart": stacked_days(reports.daily(article_id=None, span=span), SERIES),
        "most_read": reports.most_read(span=span),
        "csv_url": reverse("admin:articles_article_readership_csv") + f"?days={days}",
    }
    return TemplateResponse(request, "admin/articles/article/readership.html", context)


def article_view(request: HttpRequest, object_id: int, *, model_admin) -> HttpResponse:
    article = _readable_article(request, object_id)
    days = reports.period(request.GET.get("days"))
    span = reports.window(days)
    url = reverse("admin:articles_article_article_readership", args=[article.pk])
    csv_url = reverse(
        "admin:articles_article_article_readership_csv", args=[article.pk]
    )
    context = {
        **_context(request, model_admin, days=days, url=url),
        "title": f"Readership of “{article.title}”",
        "article": article,
        "change_url": reverse("admin:articles_article_change", args=[article.pk]),
        "chart": stacked_days(reports.daily(article_id=article.pk, span=span), SERIES),
        "csv_url": f"{csv_url}?days={days}",
        "site_url": reverse("admin:articles_article_readership")
        if reports.may_see_site(request.user)
        else "",
    }
    return TemplateResponse(
        request, "admin/articles/article/readership_article.html", context
    )


def _csv(request: HttpRequest, *, article_id: int | None, name: str):
    days = reports.period(request.GET.get("days"))
    rows = reports.export_rows(article_id=article_id, span=reports.window(days))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        csv_lines(reports.EXPORT_HEADER, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


def site_csv_view(request: HttpRequest) -> StreamingHttpResponse:
    if not reports.may_see_site(request.user):
        raise PermissionDenied
    return _csv(request, article_id=None, name="readership")


def article_csv_view(request: HttpRequest, object_id: int) -> StreamingHttpResponse:
    article = _readable_article(request, object_id)
    return _csv(request, article_id=article.pk, name=f"readership-{article.slug}")
