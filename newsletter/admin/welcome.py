"""The welcome email's admin: the one email, changed and never deleted; and a
read-only list of the welcomes sent, for following up failures."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_POST

from newsletter import emails, services
from newsletter.admin.send_to_self import send_to_self
from newsletter.models import WelcomeDelivery, WelcomeEmail


class WelcomeEmailAdminForm(forms.ModelForm):
    class Meta:
        model = WelcomeEmail
        fields = ["enabled", "subject", "preheader", "greeting", "body"]

    def clean_greeting(self) -> str:
        greeting = self.cleaned_data["greeting"].strip()
        emails.check_greeting(greeting)
        return greeting


@admin.register(WelcomeEmail)
class WelcomeEmailAdmin(admin.ModelAdmin):
    """Sent once to each subscriber when they confirm (newsletter/welcome.py)."""

    form = WelcomeEmailAdminForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not WelcomeEmail.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        welcome = WelcomeEmail.objects.first()
        if welcome is None:
            return redirect("admin:newsletter_welcomeemail_add")
        return redirect("admin:newsletter_welcomeemail_change", welcome.pk)

    def save_model(self, request, obj, form, change):
        services.save_welcome_email(welcome=obj)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/send_test/",
                self.admin_site.admin_view(require_POST(self.send_test_view)),
                name="newsletter_welcomeemail_send_test",
            ),
            *super().get_urls(),
        ]

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        welcome = self.get_object(request, object_id)
        if welcome is None or not self.has_change_permission(request, welcome):
            raise PermissionDenied
        send_to_self(
            request,
            send=lambda to: services.send_welcome_test(to=to),
            sent_message="Test of the saved welcome email sent to {to}.",
        )
        return redirect("admin:newsletter_welcomeemail_change", welcome.pk)


@admin.register(WelcomeDelivery)
class WelcomeDeliveryAdmin(admin.ModelAdmin):
    """What became of each welcome: written by the worker only."""

    list_display = ["subscriber", "confirmed_at", "status", "sent_at", "error"]
    list_filter = ["status"]
    list_select_related = ["subscriber"]
    search_fields = ["subscriber__email"]
    date_hierarchy = "claimed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
