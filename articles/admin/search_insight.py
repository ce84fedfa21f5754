"""The search insight report (Articles, Search insight) and its buttons: from a
query that found nothing an editor adds a synonym, pins an article, or puts
“write about this” on the editorial calendar. Each button is a POST with its CSRF
token; articles/search/insight_report.py checks who may, whatever the page showed
(a refused one is a 403 and changes nothing). Pinned results and story ideas have
their own lists, to remove one."""

from datetime import date, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from articles.models import SearchCount, SearchPromotion, StoryIdea
from articles.search import insight_report
from articles.search.insight_report import InsightError

# A new idea's date: a week ahead, time to write it.
IDEA_LEAD = timedelta(days=7)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    days = insight_report.period(request.POST.get("days"))
    url = reverse("admin:articles_searchcount_changelist")
    return HttpResponseRedirect(f"{url}?{urlencode({'days': days})}#nothing")


@admin.register(SearchCount)
class SearchInsightAdmin(admin.ModelAdmin):
    """The report in place of a list of rows: counts are never edited by hand."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return insight_report.may_view(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return insight_report.may_view(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "synonym/",
                view(require_POST(self.synonym_view)),
                name="articles_searchcount_synonym",
            ),
            path(
                "pin/",
                view(require_POST(self.pin_view)),
                name="articles_searchcount_pin",
            ),
            path(
                "idea/",
                view(require_POST(self.idea_view)),
                name="articles_searchcount_idea",
            ),
            path(
                "",
                view(self.changelist_view),
                name="articles_searchcount_changelist",
            ),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        days = insight_report.period(request.GET.get("days"))
        report = insight_report.build(user=request.user, days=days)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Search insight: the last {days} days",
            "report": report,
            "periods": insight_report.PERIODS,
            "may": insight_report.allowed_actions(request.user),
            "idea_day": timezone.localdate() + IDEA_LEAD,
            "today": timezone.localdate(),
        }
        return TemplateResponse(
            request, "admin/articles/searchcount/report.html", context
        )

    def _act(self, request: HttpRequest, action) -> HttpResponse:
        try:
            done = action()
        except InsightError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, done)
        return _back(request)

    def synonym_view(self, request: HttpRequest) -> HttpResponse:
        def add() -> str:
            synonym = insight_report.add_synonym(
                user=request.user,
                query=request.POST.get("query", ""),
                means=request.POST.get("means", ""),
            )
            return (
                f"Searches for “{request.POST.get('query', '')[:200]}” now find "
                f"what “{synonym.term}” finds."
            )

        return self._act(request, add)

    def pin_view(self, request: HttpRequest) -> HttpResponse:
        def pin() -> str:
            # Who may is checked before the article is even looked up.
            if not insight_report.allowed_actions(request.user)["pin"]:
                raise PermissionDenied("Your role cannot pin articles.")
            article = insight_report.article_from(request.POST.get("article", ""))
            promotion = insight_report.pin_article(
                user=request.user, query=request.POST.get("query", ""), article=article
            )
            shown = "" if article.is_live else " It shows once the article is live."
            return f"“{article.title}” is pinned for “{promotion.query}”.{shown}"

        return self._act(request, pin)

    def idea_view(self, request: HttpRequest) -> HttpResponse:
        def plan() -> str:
            value = request.POST.get("planned_for", "").strip()
            try:
                planned_for = date.fromisoformat(value)
            except ValueError:
                raise InsightError(
                    f"“{value[:20]}” is not a date (YYYY-MM-DD)."
                ) from None
            idea, created = insight_report.plan_idea(
                user=request.user,
                query=request.POST.get("query", ""),
                planned_for=planned_for,
            )
            if not created:
                return (
                    f"“{idea.query}” was on the calendar already, for "
                    f"{idea.planned_for:%d %B %Y}."
                )
            return (
                f"“{idea.query}” is on the editorial calendar for "
                f"{idea.planned_for:%d %B %Y}."
            )

        return self._act(request, plan)


@admin.register(SearchPromotion)
class SearchPromotionAdmin(admin.ModelAdmin):
    list_display = ["query", "article", "position", "created_by", "created_at"]
    list_select_related = ["article", "created_by"]
    search_fields = ["query", "article__title"]
    fields = ["query", "article", "position"]
    readonly_fields = ["query"]
    raw_id_fields = ["article"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Pinned from the report, where the query is normalised as searches are.
        return False


@admin.register(StoryIdea)
class StoryIdeaAdmin(admin.ModelAdmin):
    list_display = ["query", "planned_for", "created_by", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["query"]
    fields = ["query", "planned_for"]
    readonly_fields = ["query"]
    date_hierarchy = "planned_for"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
