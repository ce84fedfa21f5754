"""The issue admin's sending side: send now, schedule, cancel, test, follow the
progress, resume and send uncertain deliveries again. Every change goes through
newsletter/issues/services.py, which checks the permissions and the medical
approval again; the views check the permissions first, so a refused POST is a 403."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from newsletter import selectors
from newsletter.admin.forms import ScheduleForm
from newsletter.admin.progress import progress_data, send_phase
from newsletter.admin.send_to_self import send_to_self
from newsletter.issues import services as issue_services
from newsletter.models import Delivery, Issue

# Addresses listed on the page that asks before sending uncertain ones again.
RESEND_LIST_ROWS = 100


class IssueSendingViews:
    """Views of IssueAdmin (newsletter/admin/issues.py), which routes to them and
    provides _issue(), _context(), _change_url() and has_send_permission()."""

    def sending_context(self, request: HttpRequest, issue: Issue) -> dict:
        phase = send_phase(issue)
        context = {
            "phase": phase,
            "can_send": issue.status == Issue.Status.DRAFT
            and self.has_send_permission(request),
            # Not while starting: a worker may be creating the deliveries right now.
            "can_cancel": phase in {"scheduled", "not_started"}
            and self.has_send_permission(request),
            "start_grace_seconds": int(issue_services.START_GRACE.total_seconds()),
            "has_send_permission": self.has_send_permission(request),
            "progress_url": reverse("admin:newsletter_issue_progress", args=[issue.pk]),
        }
        if issue.status == Issue.Status.SCHEDULED:
            context["confirmed_count"] = selectors.recipient_count(issue)
        if issue.status != Issue.Status.DRAFT:
            context["progress"] = progress_data(issue)
            if context["progress"]["counts"][Delivery.Status.UNCERTAIN] and (
                self.has_send_permission(request)
            ):
                context["resend_uncertain_url"] = reverse(
                    "admin:newsletter_issue_resend_uncertain", args=[issue.pk]
                )
        return context

    def send_test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        # Whoever may see the issue may mail it to their own address.
        issue = self._issue(request, object_id)
        send_to_self(
            request,
            send=lambda to: issue_services.send_test(
                issue=issue, to=to, user=request.user
            ),
            sent_message="Test sent to {to}.",
        )
        return HttpResponseRedirect(self._change_url(issue))

    def send_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._send_or_schedule(request, object_id, schedule=False)

    def schedule_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._send_or_schedule(request, object_id, schedule=True)

    def _send_or_schedule(
        self, request: HttpRequest, object_id: int, *, schedule: bool
    ) -> HttpResponse:
        issue = self._issue(request, object_id, send=True)
        if issue.status != Issue.Status.DRAFT:
            messages.error(
                request,
                "This issue has already been scheduled or sent; it cannot be sent "
                "again.",
            )
            return HttpResponseRedirect(self._change_url(issue))
        # Who would receive it now; the send itself takes its list when it starts.
        confirmed = selectors.recipient_count(issue)
        form = ScheduleForm(request.POST or None) if schedule else None
        if request.method == "POST":
            if not schedule and confirmed == 0:
                messages.error(
                    request,
                    "There are no confirmed subscribers in this issue's audience: "
                    "nothing was sent.",
                )
            elif form is None or form.is_valid():
                at = form.cleaned_data["send_at"] if form else None
                try:
                    count = issue_services.schedule_send(
                        issue=issue, at=at, user=request.user
                    )
                except issue_services.SendRefused as exc:
                    messages.error(request, f"{exc} Nothing was sent.")
                    return HttpResponseRedirect(self._change_url(issue))
                if at:
                    when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M %Z")
                    messages.success(
                        request,
                        f"Scheduled for {when}. It will go to the subscribers "
                        f"confirmed then ({count} today).",
                    )
                else:
                    messages.success(
                        request,
                        f"Sending to {count} confirmed subscriber(s) has started.",
                    )
                return HttpResponseRedirect(self._change_url(issue))
        title = (
            f"Schedule “{issue.subject}”" if schedule else f"Send “{issue.subject}” now"
        )
        context = {
            **self._context(request, issue, title),
            "schedule": schedule,
            "form": form,
            "confirmed_count": confirmed,
            "audience_label": selectors.audience_label(issue),
            # Shown, and no button offered: the service refuses it anyway.
            "send_refusal": selectors.send_refusal(issue),
            "review": selectors.issue_review(issue),
            "featured_count": issue.issuearticle_set.count(),
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(
            request, "admin/newsletter/issue/send_confirm.html", context
        )

    def cancel_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        issue = self._issue(request, object_id, send=True)
        try:
            issue_services.cancel_schedule(issue=issue, user=request.user)
        except issue_services.SendRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, "The send is cancelled; the issue is a draft again."
            )
        return HttpResponseRedirect(self._change_url(issue))

    def progress_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        issue = self._issue(request, object_id)
        return JsonResponse(progress_data(issue))

    def resume_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        issue = self._issue(request, object_id, send=True)
        try:
            queued = issue_services.resume_send(issue=issue, user=request.user)
        except issue_services.SendRefused as exc:
            messages.error(request, f"{exc} Nothing done.")
        else:
            messages.success(
                request,
                f"Sending resumed: a worker will take the {queued} queued "
                "deliveries. Uncertain ones are sent again only if you choose to.",
            )
        return HttpResponseRedirect(self._change_url(issue))

    def resend_uncertain_view(
        self, request: HttpRequest, object_id: int
    ) -> HttpResponse:
        """GET: what sending the uncertain deliveries again means. POST: do it."""
        issue = self._issue(request, object_id, send=True)
        if request.method == "POST":
            try:
                count = issue_services.resend_uncertain(issue=issue, user=request.user)
            except issue_services.SendRefused as exc:
                messages.error(request, f"{exc} Nothing was sent.")
            else:
                if count:
                    messages.success(
                        request,
                        f"{count} uncertain deliver{'y' if count == 1 else 'ies'} "
                        "queued again; a worker will send them.",
                    )
                else:
                    messages.info(request, "No delivery is uncertain: nothing to do.")
            return HttpResponseRedirect(self._change_url(issue))
        uncertain = issue.deliveries.filter(status=Delivery.Status.UNCERTAIN)
        count = uncertain.count()
        addresses = list(
            uncertain.order_by("pk").values_list("subscriber__email", flat=True)[
                :RESEND_LIST_ROWS
            ]
        )
        context = {
            **self._context(request, issue, f"Send “{issue.subject}” again?"),
            "uncertain_count": count,
            "addresses": addresses,
            "more": count - len(addresses),
        }
        return TemplateResponse(
            request, "admin/newsletter/issue/resend_uncertain.html", context
        )
