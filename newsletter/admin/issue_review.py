"""The medical review panel of the issue page: where the issue's text stands
(approved, changed since, never reviewed), what changed, and for medical
reviewers the buttons that record a decision on exactly the text shown. The
decision itself is newsletter/issues/services.py's approve_issue, which checks
again."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from newsletter import selectors
from newsletter.issues import services as issue_services
from newsletter.models import Issue, Verdict


class IssueReviewViews:
    """Views of IssueAdmin (newsletter/admin/issues.py), which routes to them and
    provides has_review_permission() and _change_url()."""

    def review_context(self, request: HttpRequest, issue: Issue) -> dict:
        state = selectors.issue_review(issue)
        return {
            "review": state,
            "review_differences": state.differences(),
            "can_review": state.current is None and self.has_review_permission(request),
            "review_url": reverse("admin:newsletter_issue_review", args=[issue.pk]),
            "verdicts": Verdict,
        }

    def review_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST: a medical reviewer's decision on the text they were shown."""
        issue = get_object_or_404(Issue, pk=object_id)
        if not self.has_review_permission(request):
            raise PermissionDenied
        try:
            approval = issue_services.approve_issue(
                issue=issue,
                user=request.user,
                verdict=request.POST.get("verdict", ""),
                seen_hash=request.POST.get("content_hash", ""),
            )
        except issue_services.ReviewRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Recorded “{approval.get_verdict_display()}” for this issue's text "
                "as it is now. Any change to it (a featured article's too) makes "
                "it stale.",
            )
        return HttpResponseRedirect(self._change_url(issue))
