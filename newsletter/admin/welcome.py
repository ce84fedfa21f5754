"""The welcome email's admin: the one email, changed and never deleted, with its
medical review (staff edit a draft; subscribers get the text a medical reviewer
approved last); and a read-only list of the welcomes sent, for following up
failures."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core import admin_counts
from core.admin import SingleRowAdmin
from core.sanitize import sanitize_html
from newsletter import emails, selectors
from newsletter.admin import subscriber_search
from newsletter.admin.send_to_self import send_to_self
from newsletter.issues import services as issue_services
from newsletter.models import Verdict, WelcomeDelivery, WelcomeEmail
from newsletter.subscribers import services


class WelcomeEmailAdminForm(forms.ModelForm):
    class Meta:
        model = WelcomeEmail
        fields = ["enabled", "subject", "preheader", "greeting", "body"]

    def clean_greeting(self) -> str:
        greeting = self.cleaned_data["greeting"].strip()
        emails.check_greeting(greeting)
        return greeting


@admin.register(WelcomeEmail)
class WelcomeEmailAdmin(SingleRowAdmin):
    """Sent once to each subscriber when they confirm
    (newsletter/delivery/welcome.py)."""

    form = WelcomeEmailAdminForm

    def get_fields(self, request, obj=None):
        fields = WelcomeEmailAdminForm.Meta.fields
        if obj is not None and not self.has_change_permission(request, obj):
            # Read-only (a reviewer's view): the body as it reads.
            return [f if f != "body" else "body_rendered" for f in fields]
        return fields

    @admin.display(description="Body")
    def body_rendered(self, welcome: WelcomeEmail) -> str:
        # Saved sanitised; sanitised again here so nothing unsafe can ever render.
        return mark_safe(sanitize_html(html=welcome.body))

    def save_model(self, request, obj, form, change):
        services.save_welcome_email(welcome=obj, user=request.user)
        if selectors.welcome_review(obj).current is None:
            self.message_user(
                request,
                "Subscribers do not get this text until a medical reviewer approves "
                "it (or records that it has no medical content): "
                + (
                    "they keep getting the text approved last."
                    if selectors.approved_welcome()
                    else "until then no welcome email goes out."
                ),
                messages.WARNING,
            )

    def has_review_permission(self, request: HttpRequest) -> bool:
        return services.may(request.user, services.REVIEW_PERMISSION)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        welcome = self.get_object(request, object_id)
        if welcome is not None:
            state = selectors.welcome_review(welcome)
            extra_context = {
                **(extra_context or {}),
                "review": state,
                "review_differences": state.differences(),
                "can_review": state.current is None
                and self.has_review_permission(request),
                "review_url": reverse(
                    "admin:newsletter_welcomeemail_review", args=[welcome.pk]
                ),
                "verdicts": Verdict,
                "welcome": True,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        def welcome_path(route: str, view, name: str):
            return path(
                f"<path:object_id>/{route}",
                self.admin_site.admin_view(require_POST(view)),
                name=f"newsletter_welcomeemail_{name}",
            )

        return [
            welcome_path("send_test/", self.send_test_view, "send_test"),
            welcome_path("review/", self.review_view, "review"),
            *super().get_urls(),
        ]

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        welcome = self.get_object(request, object_id)
        if welcome is None or not self.has_view_or_change_permission(request, welcome):
            raise PermissionDenied
        send_to_self(
            request,
            send=lambda to: services.send_welcome_test(to=to, user=request.user),
            sent_message="Test of the saved welcome email sent to {to}.",
        )
        return redirect("admin:newsletter_welcomeemail_change", welcome.pk)

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: a medical reviewer's decision on the saved text they were shown."""
        welcome = self.get_object(request, object_id)
        if welcome is None or not self.has_review_permission(request):
            raise PermissionDenied
        try:
            approval = issue_services.approve_welcome(
                user=request.user,
                verdict=request.POST.get("verdict", ""),
                seen_hash=request.POST.get("content_hash", ""),
            )
        except issue_services.ReviewRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Recorded “{approval.get_verdict_display()}”: subscribers who "
                "confirm from now on get this text.",
            )
        return redirect("admin:newsletter_welcomeemail_change", welcome.pk)


@admin.register(WelcomeDelivery)
class WelcomeDeliveryAdmin(admin_counts.BigTableAdmin):
    """What became of each welcome: written by the worker only. A row per
    confirmed subscriber: no date hierarchy (core/admin_counts.py)."""

    list_display = ["subscriber", "confirmed_at", "status", "sent_at", "error"]
    list_filter = ["status"]
    list_select_related = ["subscriber"]
    # Searched by search_by_subscriber; the list only shows the search box.
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
