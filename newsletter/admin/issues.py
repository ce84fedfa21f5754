"""The issue admin: write, preview, test, have it medically approved, send or
schedule, and follow a send. Who may do what is checked again in
newsletter/issues/services.py, whatever the way in."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core.admin import LabelledTabularInline
from core.sanitize import sanitize_html
from newsletter import emails, selectors
from newsletter.admin.forms import IssueAdminForm
from newsletter.admin.issue_review import IssueReviewViews
from newsletter.admin.issue_sending import IssueSendingViews
from newsletter.admin.progress import PHASE_LABELS, send_phase
from newsletter.issues import services as issue_services
from newsletter.models import Issue, IssueArticle, counters
from newsletter.subscribers import services

UNSCHEDULED_MESSAGE = (
    "This issue is no longer scheduled: its text changed after its medical "
    "approval, so it is a draft again. Once a medical reviewer has approved the "
    "text as it is now, schedule it again."
)


def may_edit(request: HttpRequest, issue: Issue | None) -> bool:
    """Whether the issue's content may change now, as far as its state goes: a
    draft; or an issue scheduled for later, for those who may send (a change to
    its text unschedules it). The model permissions are checked besides."""
    if issue is None or issue.status == Issue.Status.DRAFT:
        return True
    if issue.is_locked:
        return False
    return services.may(request.user, services.SEND_PERMISSION)


class IssueArticleInline(LabelledTabularInline):
    model = IssueArticle
    fields = ["position", "article"]
    autocomplete_fields = ["article"]
    ordering = ["position", "pk"]
    extra = 1
    verbose_name = "featured article"
    verbose_name_plural = "Featured articles (shown after the body, lowest first)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The choices are live articles only (IssueArticle.article's
        # limit_choices_to, which the autocomplete applies too).
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "article":
            field.error_messages["invalid_choice"] = (
                "Only live articles can be featured: this one is a draft or "
                "scheduled for later (or was deleted)."
            )
        return field

    def has_add_permission(self, request, obj=None) -> bool:
        return may_edit(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return may_edit(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return may_edit(request, obj) and super().has_delete_permission(request, obj)


@admin.register(Issue)
class IssueAdmin(IssueReviewViews, IssueSendingViews, admin.ModelAdmin):
    form = IssueAdminForm
    list_display = [
        "subject",
        "kind",
        "send_status",
        "scheduled_at",
        "sent_at",
        "recipients",
        "sent_count",
    ]
    list_filter = ["status", "kind"]
    # Replaces the admin's site-wide delete action of the same name.
    actions = ["delete_selected"]
    search_fields = ["subject", "slug"]
    prepopulated_fields = {"slug": ["subject"]}
    inlines = [IssueArticleInline]
    readonly_fields = [
        "kind",
        "send_status",
        "scheduled_at",
        "send_started_at",
        "sent_at",
        "recipient_count",
    ]
    content_fields = ["subject", "slug", "preheader", "greeting", "body"]
    audience_fields = ["kind", "audience", "topics"]

    class Media:
        js = ["admin/js/newsletter-progress.js"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The issue's counter, never a count of its deliveries (millions).
        return counters.with_sent_count(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        content = self.content_fields
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only (locked, or a role that reads only): the body as it reads.
            content = [f if f != "body" else "body_rendered" for f in content]
        fieldsets = [
            (None, {"fields": content}),
            ("Audience", {"fields": self.audience_fields}),
        ]
        if obj is not None:
            sending = [f for f in self.readonly_fields if f != "kind"]
            fieldsets.append(("Sending", {"fields": sending}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_locked:
            return [
                *self.content_fields,
                "body_rendered",
                "audience",
                "topics",
                *self.readonly_fields,
            ]
        return self.readonly_fields

    @admin.display(description="Body")
    def body_rendered(self, issue: Issue) -> str:
        # Saved sanitised; sanitised again here so nothing unsafe can ever render.
        return mark_safe(sanitize_html(html=issue.body))

    def view_on_site(self, issue: Issue) -> str | None:
        # Only sent issues are in the public archive.
        return issue.get_absolute_url() if issue.status == Issue.Status.SENT else None

    @admin.display(description="Status", ordering="status")
    def send_status(self, issue: Issue) -> str:
        # "Starting" rather than "Scheduled" once due, as the progress panel says.
        return PHASE_LABELS[send_phase(issue)]

    @admin.display(description="Recipients", ordering="recipient_count")
    def recipients(self, issue: Issue):
        return issue.recipient_count

    @admin.display(description="Sent", ordering="sent_total")
    def sent_count(self, issue: Issue):
        if issue.status in {Issue.Status.DRAFT, Issue.Status.SCHEDULED}:
            return None
        return issue.sent_total

    # Once due, sending or sent, an issue is shown read-only: no field, article or
    # save button; scheduled for later, to those who may send only.
    def has_change_permission(self, request, obj=None) -> bool:
        return may_edit(request, obj) and super().has_change_permission(request, obj)

    # Only drafts can be deleted: a sent issue is its archive page and the record
    # of who got what (Delivery.issue is PROTECT too); a scheduled or sending one
    # is under way.
    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != Issue.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(permissions=["delete"], description="Delete selected draft issues")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet):
        """The admin's bulk delete, refused whole if any issue is not a draft."""
        locked = list(
            queryset.exclude(status=Issue.Status.DRAFT).values_list(
                "subject", flat=True
            )
        )
        if locked:
            names = ", ".join(f"“{subject}”" for subject in locked)
            self.message_user(
                request,
                f"Nothing was deleted: only draft issues can be deleted, and {names} "
                f"{'is' if len(locked) == 1 else 'are'} scheduled, sending or sent "
                "(a sent issue is its archive page and the record of its delivery).",
                messages.ERROR,
            )
            return None
        return delete_selected(self, request, queryset)

    def has_send_permission(self, request: HttpRequest) -> bool:
        return services.may(request.user, services.SEND_PERMISSION)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return services.may(request.user, services.REVIEW_PERMISSION)

    def save_model(self, request, obj, form, change):
        was = obj.status
        issue_services.save_issue(issue=obj, user=request.user)
        if was == Issue.Status.SCHEDULED and obj.status == Issue.Status.DRAFT:
            self.message_user(request, UNSCHEDULED_MESSAGE, messages.WARNING)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The featured articles are saved now: are they what was approved?
        if issue_services.unschedule_if_changed(issue=form.instance, user=request.user):
            self.message_user(request, UNSCHEDULED_MESSAGE, messages.WARNING)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is IssueArticle:
            # Number the featured articles 1, 2, 3 in the order they will appear.
            items = IssueArticle.objects.filter(issue=form.instance).order_by(
                "position", "pk"
            )
            for number, item in enumerate(items, start=1):
                if item.position != number:
                    IssueArticle.objects.filter(pk=item.pk).update(position=number)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        issue = self.get_object(request, object_id)
        if issue is not None:
            extra_context = {
                **(extra_context or {}),
                **self.sending_context(request, issue),
                **self.review_context(request, issue),
            }
            if issue.status in {Issue.Status.SENDING, Issue.Status.SENT}:
                progress = extra_context["progress"]
                extra_context["delivery_stats"] = selectors.issue_delivery_stats(
                    issue, counts=progress["counts"] | progress["reports"]
                )
            if issue.status != Issue.Status.DRAFT:
                extra_context["link_clicks"] = selectors.link_clicks(issue)
        return super().change_view(request, object_id, form_url, extra_context)

    # Custom views ----------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def issue_path(route: str, view, name: str):
            return path(
                f"<int:object_id>/{route}", wrap(view), name=f"newsletter_issue_{name}"
            )

        return [
            path(
                "build-digest/",
                wrap(require_POST(self.build_digest_view)),
                name="newsletter_issue_build_digest",
            ),
            issue_path("preview/", self.preview_view, "preview"),
            issue_path("preview/email.html", self.preview_html_view, "preview_html"),
            issue_path("send-test/", require_POST(self.send_test_view), "send_test"),
            issue_path("review/", require_POST(self.review_view), "review"),
            issue_path("send/", self.send_view, "send"),
            issue_path("schedule/", self.schedule_view, "schedule"),
            issue_path(
                "cancel-schedule/", require_POST(self.cancel_view), "cancel_schedule"
            ),
            issue_path("progress.json", self.progress_view, "progress"),
            issue_path("resume/", require_POST(self.resume_view), "resume"),
            issue_path(
                "resend-uncertain/", self.resend_uncertain_view, "resend_uncertain"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_build_digest": self.has_add_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def build_digest_view(self, request: HttpRequest) -> HttpResponse:
        """POST: a draft digest of the articles since the last digest."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        try:
            issue = issue_services.build_digest(user=request.user)
        except issue_services.NothingToDigest as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:newsletter_issue_changelist"))
        count = issue.issuearticle_set.count()
        self.message_user(
            request,
            f"Digest drafted with {count} article{'s' if count != 1 else ''}, by "
            "topic. Edit it, preview it, have it medically approved, then send it: "
            "it goes to monthly-digest subscribers.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(issue))

    def _issue(self, request: HttpRequest, object_id: int, *, send=False) -> Issue:
        issue = get_object_or_404(Issue, pk=object_id)
        allowed = (
            self.has_send_permission(request)
            if send
            else self.has_view_or_change_permission(request, issue)
        )
        if not allowed:
            raise PermissionDenied
        return issue

    @staticmethod
    def _change_url(issue: Issue) -> str:
        return reverse("admin:newsletter_issue_change", args=[issue.pk])

    def _context(self, request: HttpRequest, issue: Issue, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": issue,
            "issue": issue,
            "title": title,
            "change_url": self._change_url(issue),
        }

    def _preview_message(self, request: HttpRequest, issue: Issue):
        to = request.user.email or "preview@example.invalid"
        return emails.test_issue_message(issue=issue, to=to)

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        issue = self._issue(request, object_id)
        message = self._preview_message(request, issue)
        context = {
            **self._context(request, issue, f"Preview: {issue.subject}"),
            "subject": message.subject.removeprefix("[Test] "),
            "from_email": message.from_email,
            "html": message.alternatives[0][0],
            "text": message.body,
            "html_url": reverse("admin:newsletter_issue_preview_html", args=[issue.pk]),
        }
        return TemplateResponse(request, "admin/newsletter/issue/preview.html", context)

    def preview_html_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Exactly the email's HTML, as its own page (inert: no script can run)."""
        issue = self._issue(request, object_id)
        message = self._preview_message(request, issue)
        response = HttpResponse(
            message.alternatives[0][0], content_type="text/html; charset=utf-8"
        )
        response["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
            f"img-src 'self' data: https: {settings.SITE_URL}; "
            "frame-ancestors 'self'"
        )
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
