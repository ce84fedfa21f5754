"""The newsletter's staff side: subscribers (with CSV import and export) and issues.

Every change goes through newsletter/services.py, as on the public side: staff
never set a subscriber's status or an issue's sending state by hand.
"""

import csv
import hashlib
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from articles.services import sanitize_html
from newsletter import emails, sending, services
from newsletter.admin_forms import ImportForm, IssueAdminForm, ScheduleForm
from newsletter.models import (
    Delivery,
    Issue,
    IssueArticle,
    Subscriber,
    SubscriberEvent,
)

# Subscribers ----------------------------------------------------------------------

EXPORT_COLUMNS = [
    ("email", "email"),
    ("first_name", "first_name"),
    ("status", "status"),
    ("source", "consent_source"),
    ("consent_version", "consent_version"),
    ("consent_at", "consent_at"),
    ("consent_ip", "consent_ip"),
    ("lawful_basis", "lawful_basis"),
    ("confirmed_at", "confirmed_at"),
    ("left_at", "left_at"),
    ("left_how", "left_how"),
]
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000
IMPORT_SESSION_KEY = "newsletter_import_checked"
IMPORT_REPORT_ROWS = 1000


def csv_cell(value) -> str:
    """A value as CSV text that a spreadsheet shows as text, never runs."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def short_time(moment: datetime | None) -> str | None:
    """The day, for list columns; the full time shows on hover and on the detail."""
    if moment is None:
        return None
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        local.strftime("%Y-%m-%d"),
    )


class _Echo:
    """A file-like object whose write() hands the line back, for streaming."""

    def write(self, value: str) -> str:
        return value


def subscriber_csv_lines(queryset: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in EXPORT_COLUMNS])
    fields = [field for _, field in EXPORT_COLUMNS]
    rows = queryset.values_list(*fields).iterator(chunk_size=EXPORT_CHUNK)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def subscribers_csv_response(queryset: QuerySet) -> StreamingHttpResponse:
    """Stream rows as CSV: memory stays flat however many subscribers there are."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        subscriber_csv_lines(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class SubscriberEventInline(admin.TabularInline):
    model = SubscriberEvent
    fields = ["at", "kind", "ip", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "event"
    verbose_name_plural = "History"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


CONSENT_FIELDS = [
    "consent_text",
    "consent_version",
    "consent_source",
    "consent_at",
    "consent_ip",
    "lawful_basis",
]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = [
        "email_address",
        "first_name",
        "status",
        "source",
        "consented",
        "confirmed",
    ]
    list_filter = ["status", "consent_source", "left_how"]
    search_fields = ["email", "first_name"]
    search_help_text = "Search by email address or first name."
    date_hierarchy = "consent_at"
    list_per_page = 100
    actions = ["export_selected", "unsubscribe_staff", "mark_complained"]
    inlines = [SubscriberEventInline]
    fieldsets = [
        (None, {"fields": ["email", "first_name", "status"]}),
        (
            "Proof of consent",
            {"fields": CONSENT_FIELDS},
        ),
        ("Confirmation", {"fields": ["confirmed_at", "confirmed_ip"]}),
        ("Leaving", {"fields": ["left_at", "left_how"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    # Staff may correct the first name; everything else is the record of consent.
    readonly_fields = [
        "email",
        "status",
        *CONSENT_FIELDS,
        "confirmed_at",
        "confirmed_ip",
        "left_at",
        "left_how",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Email", ordering="email")
    def email_address(self, subscriber: Subscriber) -> str:
        # May wrap before the @ in a narrow list, never in the middle of a name.
        local, at, domain = subscriber.email.rpartition("@")
        return format_html("{}<wbr>{}{}", local, at, domain)

    @admin.display(description="Source", ordering="consent_source")
    def source(self, subscriber: Subscriber) -> str:
        return subscriber.get_consent_source_display()

    @admin.display(description="Consented", ordering="consent_at")
    def consented(self, subscriber: Subscriber) -> str:
        return short_time(subscriber.consent_at)

    @admin.display(description="Confirmed", ordering="confirmed_at")
    def confirmed(self, subscriber: Subscriber) -> str | None:
        return short_time(subscriber.confirmed_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Subscribers come from the sign-up form (double opt-in) or the CSV import.
        return False

    def has_import_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def delete_model(self, request: HttpRequest, obj: Subscriber) -> None:
        services.delete_subscriber(subscriber=obj)

    # The list, with counts per status ------------------------------------------

    def status_counts(self) -> dict:
        """Subscribers per status, in one query."""
        totals = Subscriber.objects.aggregate(
            total=Count("pk"),
            **{
                status: Count("pk", filter=Q(status=status))
                for status in Subscriber.Status.values
            },
        )
        changelist = reverse("admin:newsletter_subscriber_changelist")
        return {
            "total": totals["total"],
            "url": changelist,
            "statuses": [
                {
                    "value": value,
                    "label": label,
                    "count": totals[value],
                    "url": f"{changelist}?status__exact={value}",
                }
                for value, label in Subscriber.Status.choices
            ],
        }

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "status_counts": self.status_counts(),
            "has_import_permission": self.has_import_permission(request),
            "active_status": request.GET.get("status__exact", ""),
        }
        return super().changelist_view(request, extra_context)

    # Actions ---------------------------------------------------------------------

    @admin.action(description="Export selected subscribers as CSV")
    def export_selected(self, request: HttpRequest, queryset: QuerySet):
        return subscribers_csv_response(queryset)

    def _leave(self, request: HttpRequest, queryset: QuerySet, how: str) -> int:
        changed = 0
        for subscriber in queryset.only("pk", "status"):
            before = subscriber.status
            services.unsubscribe(
                subscriber=subscriber,
                how=how,
                detail=f"By {request.user.get_username()} in the admin",
            )
            if (
                Subscriber.objects.filter(pk=subscriber.pk)
                .exclude(status=before)
                .exists()
            ):
                changed += 1
        return changed

    @admin.action(description="Unsubscribe selected (staff)", permissions=["change"])
    def unsubscribe_staff(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = self._leave(request, queryset, Subscriber.LeftHow.STAFF)
        self.message_user(
            request,
            f"Unsubscribed {changed} subscriber(s); they receive nothing from now on."
            + self._unchanged_note(queryset.count(), changed),
            messages.SUCCESS,
        )

    @admin.action(description="Mark selected as complained", permissions=["change"])
    def mark_complained(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = self._leave(request, queryset, Subscriber.LeftHow.COMPLAINT)
        self.message_user(
            request,
            f"Marked {changed} subscriber(s) as complained; they receive nothing "
            "from now on." + self._unchanged_note(queryset.count(), changed),
            messages.SUCCESS,
        )

    @staticmethod
    def _unchanged_note(selected: int, changed: int) -> str:
        unchanged = selected - changed
        if not unchanged:
            return ""
        return f" {unchanged} already had that status (or a stronger one) and kept it."

    # Custom views ----------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "export/",
                wrap(self.export_view),
                name="newsletter_subscriber_export",
            ),
            path(
                "import/",
                wrap(self.import_view),
                name="newsletter_subscriber_import",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The list as CSV, with the filters and search of the list page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            messages.error(request, "Those filters are not valid; nothing exported.")
            return redirect("admin:newsletter_subscriber_changelist")
        return subscribers_csv_response(changelist.queryset)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        checked = False
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES)
            if form.is_valid():
                report, checked = self._run_import(request, form)
                if checked:
                    # Ready for the real run: same basis and evidence, dry run off.
                    form = ImportForm(
                        initial={
                            "basis": form.cleaned_data["basis"],
                            "evidence": form.cleaned_data["evidence"],
                            "dry_run": False,
                        }
                    )
        else:
            form = ImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import subscribers",
            "form": form,
            "report": report,
            "checked": checked,
            "summary": import_summary(report) if report else None,
            "max_rows": IMPORT_REPORT_ROWS,
        }
        return TemplateResponse(
            request, "admin/newsletter/subscriber/import.html", context
        )

    def _run_import(self, request: HttpRequest, form: ImportForm):
        """(report or None, whether a clean dry run now allows the real run)."""
        data = form.cleaned_data["file"].read()
        try:
            rows = services.read_import_csv(data)
        except ValidationError as exc:
            form.add_error("file", exc)
            return None, False
        if not rows:
            form.add_error("file", "The file has no addresses below its first line.")
            return None, False
        basis = form.cleaned_data["basis"]
        evidence = form.cleaned_data["evidence"]
        dry_run = form.cleaned_data["dry_run"]
        fingerprint = hashlib.sha256(
            b"\0".join([data, basis.encode(), evidence.encode()])
        ).hexdigest()
        if not dry_run and request.session.get(IMPORT_SESSION_KEY) != fingerprint:
            form.add_error(
                "dry_run",
                "Check this file with a dry run first (same file, basis and "
                "evidence); then import it.",
            )
            return None, False
        report = services.import_subscribers(
            rows=rows, basis=basis, evidence=evidence, dry_run=dry_run
        )
        if report.errors:
            request.session.pop(IMPORT_SESSION_KEY, None)
            messages.error(
                request,
                f"{len(report.errors)} row(s) have errors: nothing was imported. "
                "Correct the file and check it again.",
            )
            return report, False
        if dry_run:
            request.session[IMPORT_SESSION_KEY] = fingerprint
            return report, report.added > 0
        request.session.pop(IMPORT_SESSION_KEY, None)
        confirmed = basis == services.LawfulBasis.CONSENTED
        messages.success(
            request,
            f"Imported {report.added} address(es)"
            + (
                " as confirmed subscribers (their consent is recorded; no email sent)."
                if confirmed
                else ": each was sent an email asking them to confirm."
            ),
        )
        return report, False


def import_summary(report: services.ImportReport) -> dict:
    errors = report.errors
    existing = sum(1 for row in report.rows if row.outcome and row.outcome != "added")
    shown = errors + [row for row in report.rows if not row.error]
    return {
        "total": len(report.rows),
        "added": report.added,
        "existing": existing,
        "errors": len(errors),
        "rows": shown[: max(IMPORT_REPORT_ROWS, len(errors))],
        "hidden": max(0, len(shown) - max(IMPORT_REPORT_ROWS, len(errors))),
    }


# Issues ---------------------------------------------------------------------------

PROGRESS_POLL_STATUSES = {Issue.Status.SENDING}


class IssueArticleInline(admin.TabularInline):
    model = IssueArticle
    fields = ["position", "article"]
    autocomplete_fields = ["article"]
    ordering = ["position", "pk"]
    extra = 1
    verbose_name = "featured article"
    verbose_name_plural = "Featured articles (shown after the body, lowest first)"

    def _locked(self, obj) -> bool:
        return obj is not None and obj.is_locked

    def has_add_permission(self, request, obj=None) -> bool:
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._locked(obj) and super().has_delete_permission(request, obj)


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    form = IssueAdminForm
    list_display = [
        "subject",
        "status",
        "scheduled_at",
        "sent_at",
        "recipients",
        "sent_count",
    ]
    list_filter = ["status"]
    search_fields = ["subject", "slug"]
    prepopulated_fields = {"slug": ["subject"]}
    inlines = [IssueArticleInline]
    readonly_fields = [
        "status",
        "scheduled_at",
        "send_started_at",
        "sent_at",
        "recipient_count",
    ]
    content_fields = ["subject", "slug", "preheader", "body"]

    class Media:
        js = ["admin/js/newsletter-progress.js"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent_total=Count(
                    "deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)
                )
            )
        )

    def get_fieldsets(self, request, obj=None):
        content = self.content_fields
        if obj is not None and obj.is_locked:
            content = [f if f != "body" else "body_rendered" for f in content]
        fieldsets = [(None, {"fields": content})]
        if obj is not None:
            fieldsets.append(("Sending", {"fields": self.readonly_fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_locked:
            return [*self.content_fields, "body_rendered", *self.readonly_fields]
        return self.readonly_fields

    @admin.display(description="Body")
    def body_rendered(self, issue: Issue) -> str:
        # Saved sanitised; sanitised again here so nothing unsafe can ever render.
        return mark_safe(sanitize_html(html=issue.body))

    def view_on_site(self, issue: Issue) -> str | None:
        # Only sent issues are in the public archive.
        return issue.get_absolute_url() if issue.status == Issue.Status.SENT else None

    @admin.display(description="Recipients", ordering="recipient_count")
    def recipients(self, issue: Issue):
        return issue.recipient_count

    @admin.display(description="Sent", ordering="sent_total")
    def sent_count(self, issue: Issue):
        if issue.status in {Issue.Status.DRAFT, Issue.Status.SCHEDULED}:
            return None
        return issue.sent_total

    # Once scheduled, an issue is shown read-only: no field, article or save button.
    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_locked:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status in {
            Issue.Status.SCHEDULED,
            Issue.Status.SENDING,
        }:
            return False
        return super().has_delete_permission(request, obj)

    def has_send_permission(self, request: HttpRequest) -> bool:
        return super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        services.save_issue(issue=obj)

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
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def sending_context(self, request: HttpRequest, issue: Issue) -> dict:
        context = {
            "can_send": issue.status == Issue.Status.DRAFT
            and self.has_send_permission(request),
            "can_cancel": issue.status == Issue.Status.SCHEDULED
            and self.has_send_permission(request),
            "has_send_permission": self.has_send_permission(request),
            "progress_url": reverse("admin:newsletter_issue_progress", args=[issue.pk]),
        }
        if issue.status == Issue.Status.SCHEDULED:
            context["confirmed_count"] = Subscriber.objects.confirmed().count()
        if issue.is_locked:
            context["progress"] = progress_data(issue)
            if context["progress"]["counts"][Delivery.Status.UNCERTAIN] and (
                self.has_send_permission(request)
            ):
                context["resend_uncertain_url"] = reverse(
                    "admin:newsletter_issue_resend_uncertain", args=[issue.pk]
                )
        return context

    # Custom views ----------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def issue_path(route: str, view, name: str):
            return path(
                f"<int:object_id>/{route}", wrap(view), name=f"newsletter_issue_{name}"
            )

        return [
            issue_path("preview/", self.preview_view, "preview"),
            issue_path("preview/email.html", self.preview_html_view, "preview_html"),
            issue_path("send-test/", require_POST(self.send_test_view), "send_test"),
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

    def send_test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        issue = self._issue(request, object_id, send=True)
        to = (request.user.email or "").strip()
        if not to:
            messages.error(
                request,
                "Your account has no email address, so there is nowhere to send a "
                "test. Add one to your user account, then try again.",
            )
        else:
            services.send_test(issue=issue, to=to)
            messages.success(request, f"Test sent to {to}.")
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
        confirmed = Subscriber.objects.confirmed().count()
        form = ScheduleForm(request.POST or None) if schedule else None
        if request.method == "POST":
            if not schedule and confirmed == 0:
                messages.error(
                    request, "There are no confirmed subscribers: nothing was sent."
                )
            elif form is None or form.is_valid():
                at = form.cleaned_data["send_at"] if form else None
                try:
                    count = services.schedule_send(issue=issue, at=at)
                except services.SendRefused as exc:
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
            "featured_count": issue.issuearticle_set.count(),
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(
            request, "admin/newsletter/issue/send_confirm.html", context
        )

    def cancel_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        issue = self._issue(request, object_id, send=True)
        try:
            services.cancel_schedule(issue=issue)
        except services.SendRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, "The schedule is cancelled; the issue is a draft again."
            )
        return HttpResponseRedirect(self._change_url(issue))

    def progress_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        issue = self._issue(request, object_id)
        return JsonResponse(progress_data(issue))

    def resume_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        from newsletter.tasks import send_issue

        issue = self._issue(request, object_id, send=True)
        if issue.status != Issue.Status.SENDING:
            messages.error(
                request, "Only an issue that is sending can be resumed; nothing done."
            )
        else:
            transaction.on_commit(lambda: send_issue.enqueue(issue.pk))
            queued = issue.deliveries.filter(status=Delivery.Status.QUEUED).count()
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
                count = services.resend_uncertain(
                    issue=issue, by=request.user.get_username()
                )
            except services.SendRefused as exc:
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


RESEND_LIST_ROWS = 100
COUNT_ORDER = [
    Delivery.Status.QUEUED,
    Delivery.Status.SENDING,
    Delivery.Status.SENT,
    Delivery.Status.FAILED,
    Delivery.Status.UNCERTAIN,
    Delivery.Status.SKIPPED,
]


def progress_data(issue: Issue) -> dict:
    """sending.progress, plus what the page needs to show and to keep polling."""
    data = sending.progress(issue=issue)
    counts = data["counts"]
    done = sum(
        counts[status]
        for status in [
            Delivery.Status.SENT,
            Delivery.Status.FAILED,
            Delivery.Status.UNCERTAIN,
            Delivery.Status.SKIPPED,
        ]
    )
    labels = dict(Delivery.Status.choices)
    return {
        **data,
        "done": done,
        "rows": [
            {"status": status, "label": labels[status], "count": counts[status]}
            for status in COUNT_ORDER
        ],
        "problems": [
            {
                "status": problem["status"],
                "status_label": labels[problem["status"]],
                "email": problem["subscriber__email"] or "(deleted subscriber)",
                "smtp_code": problem["smtp_code"],
                "error": problem["error"],
            }
            for problem in data["problems"]
        ],
        "poll": issue.status in PROGRESS_POLL_STATUSES
        or (
            issue.status == Issue.Status.SCHEDULED
            and issue.scheduled_at is not None
            and issue.scheduled_at <= timezone.now()
        ),
        "scheduled_at": _iso(issue.scheduled_at),
        "send_started_at": _iso(issue.send_started_at),
        "sent_at": _iso(issue.sent_at),
        "recipient_count": issue.recipient_count,
    }


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None
