"""Moving an article's planned date from the editorial calendar: a POST of the
new date, checked on the server like any edit (writers their own drafts, editors
any), back to the calendar page it came from."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from articles.editorial import planning
from articles.errors import WorkflowError
from articles.models import Article


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("calendar:calendar")


@require_POST
def plan_view(request: HttpRequest, object_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=object_id)
    value = request.POST.get("planned_for", "").strip()
    try:
        planned_for = date.fromisoformat(value) if value else None
    except ValueError:
        messages.error(request, f"“{value[:20]}” is not a date (YYYY-MM-DD).")
        return HttpResponseRedirect(_back(request))
    try:
        planning.plan_article(
            article=article, user=request.user, planned_for=planned_for
        )
    except WorkflowError as error:
        raise PermissionDenied(str(error)) from error
    if planned_for is None:
        messages.success(request, f"“{article.title}” is no longer planned.")
    else:
        messages.success(
            request, f"“{article.title}” is planned for {planned_for:%d %B %Y}."
        )
    return HttpResponseRedirect(_back(request))


def urls(model_admin) -> list[URLPattern]:
    return [
        path(
            "<int:object_id>/planned-for/",
            model_admin.admin_site.admin_view(plan_view),
            name="articles_article_plan",
        )
    ]
