"""The welcome series' admin: its later steps (step 1 is the welcome email,
newsletter/admin/welcome.py), each with its medical review and its counts
(sent, waiting, failed, skipped per step), and a read-only list of what each
step did for each subscriber. Every change goes through
newsletter/issues/series.py, which checks who may make it."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core import admin_counts
from core.sanitize import sanitize_html
from newsletter import emails, selectors
from newsletter.admin import subscriber_search
from newsletter.admin.send_to_self import send_to_self
from newsletter.issues import review, series
from newsletter.issues.services import ReviewRefused
from newsletter.models import Verdict, WelcomeStep, WelcomeStepDelivery
from newsletter.subscribers import services

FIELDS = [
    "position",
    "delay_days",
    "enabled",
    "subject",
    "preheader",
    "greeting",
    "body",
]


class WelcomeStepAdminForm(forms.ModelForm):
    class Meta:
        model = WelcomeStep
        fields = FIELDS

    def clean_greeting(self) -> str:
        greeting = self.cleaned_data["greeting"].strip()
        emails.check_greeting(greeting)
        return greeting

    def clean(self):
        cleaned = super().clean()
        position, delay = cleaned.get("position"), cleaned.get("delay_days")
        if position is not None and delay is not None:
            try:
                series.check_order(
                    WelcomeStep(
                        pk=self.instance.pk, position=position, delay_days=delay
                    )
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(WelcomeStep)
class WelcomeStepAdmin(admin.ModelAdmin):
    """The steps after the welcome email, sent days after confirming
    (newsletter/delivery/series.py)."""

    form = WelcomeStepAdminForm
    list_display = ["position", "delay_days", "subject", "enabled", "review_state"]
    list_display_links = ["position", "subject"]
    actions = ["switch_on", "switch_off"]
    change_list_template = "admin/newsletter/welcomestep/change_list.html"
    change_form_template = "admin/newsletter/welcomestep/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("approvals")

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only (a reviewer's view): the body as it reads.
            return [f if f != "body" else "body_rendered" for f in FIELDS]
        return FIELDS

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Switched off, never deleted: its deliveries are the record of it.
        return False

    @admin.display(description="Body")
    def body_rendered(self, step: WelcomeStep) -> str:
        # Saved sanitised; sanitised again here so nothing unsafe can ever render.
        return mark_safe(sanitize_html(html=step.body))

    @admin.display(description="Medical review")
    def review_state(self, step: WelcomeStep) -> str:
        approvals = list(step.approvals.all())
        if not approvals:
            return "Not reviewed: not sent"
        if approvals[0].content_hash != review.welcome_hash(step):
            return "Changed since approval: the approved text is sent"
        return "Approved"

    def save_model(self, request, obj, form, change):
        series.save_welcome_step(step=obj, user=request.user)
        if selectors.welcome_step_review(obj).current is None:
            self.message_user(
                request,
                "Subscribers do not get this text until a medical reviewer approves "
                "it (or records that it has no medical content): "
                + (
                    "they keep getting the text approved last."
                    if obj.approvals.exists()
                    else "until then this step is not sent."
                ),
                messages.WARNING,
            )

    def has_review_permission(self, request: HttpRequest) -> bool:
        return services.may(request.user, services.REVIEW_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        steps = list(WelcomeStep.objects.all())
        counts = selectors.welcome_series_counts(steps)
        welcome = selectors.welcome_email()
        rows = [
            {
                "position": 1,
                "delay": "At once",
                "subject": welcome.subject if welcome else "(no welcome email)",
                "counts": counts[1],
            },
            *(
                {
                    "position": step.position,
                    "delay": f"{step.delay_days} days",
                    "subject": step.subject,
                    "counts": counts[step.position],
                }
                for step in steps
            ),
        ]
        extra_context = {**(extra_context or {}), "series_counts": rows}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        step = self.get_object(request, object_id)
        if step is not None:
            state = selectors.welcome_step_review(step)
            extra_context = {
                **(extra_context or {}),
                "review": state,
                "review_differences": state.differences(),
                "can_review": state.current is None
                and self.has_review_permission(request),
                "review_url": reverse(
                    "admin:newsletter_welcomestep_review", args=[step.pk]
                ),
                "verdicts": Verdict,
                "welcome": True,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        def step_path(route: str, view, name: str):
            return path(
                f"<path:object_id>/{route}",
                self.admin_site.admin_view(require_POST(view)),
                name=f"newsletter_welcomestep_{name}",
            )

        return [
            step_path("send_test/", self.send_test_view, "send_test"),
            step_path("review/", self.review_view, "review"),
            *super().get_urls(),
        ]

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        step = self.get_object(request, object_id)
        if step is None or not self.has_view_or_change_permission(request, step):
            raise PermissionDenied
        send_to_self(
            request,
            send=lambda to: series.send_welcome_step_test(
                step=step, to=to, user=request.user
            ),
            sent_message=f"Test of step {step.position} as saved sent to {{to}}.",
        )
        return redirect("admin:newsletter_welcomestep_change", step.pk)

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: a medical reviewer's decision on the saved text they were shown."""
        step = self.get_object(request, object_id)
        if step is None or not self.has_review_permission(request):
            raise PermissionDenied
        try:
            approval = series.approve_welcome_step(
                step=step,
                user=request.user,
                verdict=request.POST.get("verdict", ""),
                seen_hash=request.POST.get("content_hash", ""),
            )
        except ReviewRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Recorded “{approval.get_verdict_display()}”: subscribers get "
                f"this text of step {step.position} from now on"
                + ("." if step.enabled else " once it is switched on."),
            )
        return redirect("admin:newsletter_welcomestep_change", step.pk)

    def _switch(self, request: HttpRequest, queryset, *, enabled: bool) -> None:
        try:
            for step in queryset:
                series.switch_welcome_step(
                    step=step, user=request.user, enabled=enabled
                )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            "Switched on: each goes out once its text is approved, to those whose "
            "day for it is still to come."
            if enabled
            else "Switched off: nothing more of these steps is sent.",
        )

    @admin.action(description="Switch on the selected steps", permissions=["change"])
    def switch_on(self, request, queryset):
        self._switch(request, queryset, enabled=True)

    @admin.action(description="Switch off the selected steps", permissions=["change"])
    def switch_off(self, request, queryset):
        self._switch(request, queryset, enabled=False)


@admin.register(WelcomeStepDelivery)
class WelcomeStepDeliveryAdmin(admin_counts.BigTableAdmin):
    """What each step did for each subscription: written by the worker only. A
    row per subscriber and step (core/admin_counts.py)."""

    list_display = ["subscriber", "step", "confirmed_at", "status", "sent_at", "error"]
    list_filter = ["status", "step"]
    list_select_related = ["subscriber", "step"]
    # Searched as the welcome email's list is; the list only shows the search box.
    search_fields = ["subscriber__email"]
    search_help_text = subscriber_search.HELP
    # Sorting by any column would sort every row: the list keeps its order, the
    # newest first, read from an index.
    sortable_by: list[str] = []

    def get_search_results(self, request, queryset, search_term):
        return subscriber_search.by_subscriber(queryset, search_term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
