"""The subscriber admin: counts per status, a chart of confirmed subscribers over
the last months, filters, CSV export and import, and actions that go through
newsletter/subscribers/subscriptions.py (staff never set a status by hand)."""

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from newsletter import selectors
from newsletter.admin import growth_chart
from newsletter.admin.csv_export import ExportChangeList, subscribers_csv_response
from newsletter.admin.imports import SubscriberImportMixin
from newsletter.models import Subscriber, SubscriberEvent
from newsletter.subscribers import subscriptions


def short_time(moment: datetime | None) -> str | None:
    """The day, for list columns; the full time shows on hover and on the detail."""
    if moment is None:
        return None
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        local.strftime("%Y-%m-%d"),
    )


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
class SubscriberAdmin(SubscriberImportMixin, admin.ModelAdmin):
    list_display = [
        "email_address",
        "first_name",
        "status",
        "source",
        "consented",
        "confirmed",
    ]
    list_filter = ["status", "frequency", "consent_source", "left_how"]
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
        # Theirs to choose, on their preference page: shown, never edited here.
        (
            "Preferences",
            {
                "fields": [
                    "chosen_topics",
                    "frequency",
                    "advice_changes",
                    "paused_until",
                ]
            },
        ),
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
        "chosen_topics",
        "frequency",
        "advice_changes",
        "paused_until",
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

    @admin.display(description="Topics")
    def chosen_topics(self, subscriber: Subscriber) -> str:
        names = subscriber.topics.order_by("name").values_list("name", flat=True)
        return ", ".join(names) or "All topics (none chosen)"

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

    def delete_model(self, request: HttpRequest, obj: Subscriber) -> None:
        subscriptions.delete_subscriber(subscriber=obj)

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
            "growth": growth_chart.layout(selectors.subscriber_growth()),
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
            subscriptions.unsubscribe(
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
            *self.import_urls(),
            *super().get_urls(),
        ]

    def get_changelist(self, request: HttpRequest, **kwargs):
        match = request.resolver_match
        if match and match.url_name == "newsletter_subscriber_export":
            return ExportChangeList
        return super().get_changelist(request, **kwargs)

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
