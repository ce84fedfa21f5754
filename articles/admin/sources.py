"""Source health in the admin: the pause switch and progress of the check (one
row), the checked sources with their history, and the dashboard's "Source
problems" queue with its "checked, fine" button (whose rule is
articles/sources/problems.dismiss_refusal, checked again on every POST)."""

from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from articles.errors import WorkflowError
from articles.models import SourceCheckState, SourceProblem, SourceTarget
from articles.sources import problems
from articles.sources.schedule import resume_source_check

ROWS_MAX = 15


@dataclass
class ProblemRow:
    problem: SourceProblem
    article_url: str
    dismiss_url: str


@dataclass
class ProblemQueue:
    count: int
    rows: list[ProblemRow]


def queue_for(user) -> ProblemQueue | None:
    """The open source problems `user` sees on the dashboard, oldest first, with
    the "checked, fine" button on those they may clear. None for a role that
    sees none. Two queries."""
    shown = problems.visible_to(user)
    if shown is None:
        return None
    found = problems.open_problems().filter(shown)
    count = found.count()
    rows = [
        ProblemRow(
            problem=problem,
            article_url=reverse(
                "admin:articles_article_change", args=[problem.article_id]
            ),
            dismiss_url=""
            if problems.dismiss_refusal(user, problem)
            else reverse("admin:articles_sourceproblem_dismiss", args=[problem.pk]),
        )
        for problem in found.select_related("article", "target").order_by(
            "found_at", "pk"
        )[:ROWS_MAX]
    ]
    return ProblemQueue(count=count, rows=rows)


@require_POST
def dismiss_view(request: HttpRequest, problem_id: int) -> HttpResponse:
    problem = get_object_or_404(
        SourceProblem.objects.select_related("article"), pk=problem_id
    )
    about = f"“{problem.article.title}”: "
    try:
        problems.dismiss(problem=problem, user=request.user)
    except WorkflowError as refused:
        messages.error(request, about + str(refused))
    else:
        messages.success(request, about + f"marked {problem.target} checked and fine.")
    return HttpResponseRedirect(reverse("admin:index") + "#source-problems")


HISTORY_MAX = 52


def history_table(target: SourceTarget) -> str:
    """The last HISTORY_MAX checks, newest first, as a table in a region the
    keyboard can scroll (narrow screens scroll it sideways)."""
    checks = target.checks.order_by("-checked_at", "-pk")[:HISTORY_MAX]
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{timezone.localtime(check.checked_at):%Y-%m-%d %H:%M}",
                check.get_outcome_display(),
                check.http_status or "-",
                check.final_url or "-",
                check.reason or "-",
                f"{check.duration_ms} ms",
            )
            for check in checks
        ),
    )
    if not rows:
        return "Not checked yet."
    return format_html(
        '<div class="source-history" role="region" tabindex="0" '
        'aria-label="Checks, newest first"><table><thead><tr>'
        '<th scope="col">When</th><th scope="col">Outcome</th>'
        '<th scope="col">HTTP status</th><th scope="col">Final address</th>'
        '<th scope="col">Reason</th><th scope="col">Took</th>'
        "</tr></thead><tbody>{}</tbody></table></div>",
        rows,
    )


@admin.register(SourceTarget)
class SourceTargetAdmin(admin.ModelAdmin):
    """What the check knows about each source: read-only."""

    list_display = [
        "value",
        "kind",
        "last_outcome",
        "last_checked_at",
        "consecutive_failures",
    ]
    list_filter = ["kind", "last_outcome"]
    search_fields = ["value"]
    fields = [
        "kind",
        "value",
        "last_outcome",
        "last_checked_at",
        "consecutive_failures",
        "seen_at",
        "history",
    ]
    readonly_fields = fields

    @admin.display(description="history (newest first)")
    def history(self, obj: SourceTarget) -> str:
        return history_table(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        dismiss = self.admin_site.admin_view(dismiss_view)
        return [
            path(
                "problems/<int:problem_id>/dismiss/",
                dismiss,
                name="articles_sourceproblem_dismiss",
            ),
            *super().get_urls(),
        ]


@admin.register(SourceCheckState)
class SourceCheckStateAdmin(admin.ModelAdmin):
    """The pause switch, and how far the check has got: one row, never added or
    deleted by hand (its list opens it, making it before the first run)."""

    fields = ["paused", "progress", "run_started_at", "run_finished_at", "next_run_at"]
    readonly_fields = ["progress", "run_started_at", "run_finished_at", "next_run_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row, _ = SourceCheckState.objects.get_or_create(pk=1)
        return redirect("admin:articles_sourcecheckstate_change", row.pk)

    @admin.display(description="progress")
    def progress(self, obj: SourceCheckState) -> str:
        if obj.run_started_at is None:
            return "No run yet."
        done = f"{obj.checked} of {obj.total} sources checked"
        if not obj.running:
            return f"{done}: finished."
        if obj.paused:
            return f"{done}: paused, carries on from there once unticked."
        return f"{done}: running."

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        resumed = "paused" in form.changed_data and not obj.paused
        if resumed and resume_source_check():
            messages.info(
                request,
                "The stopped run carries on now, from where it was "
                f"({timezone.localtime():%H:%M}).",
            )
