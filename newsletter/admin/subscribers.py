"""The subscriber admin: counts per status, a chart of confirmed subscribers over
the last months, filters, CSV export and import, and actions that go through
newsletter/subscribers/subscriptions.py (staff never set a status by hand).

Built for a million subscribers (core/admin_counts.py): the list's count comes
from table statistics, the counts per status and the chart are shared through
the cache for a short while once the table is big, search and every sortable
column have an index (newsletter/admin/subscriber_search.py), and there is no
date hierarchy (its years alone read every row)."""

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core import admin_counts
from newsletter import selectors
from newsletter.admin import growth_chart, subscriber_search
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


# The figures above the list, each counted over the whole table.
STATUS_COUNTS = "subscriber-status-counts"
GROWTH = "subscriber-growth"


@admin.register(Subscriber)
class SubscriberAdmin(SubscriberImportMixin, admin_counts.BigTableAdmin):
    list_display = [
        "email_address",
        "first_name",
        "status",
        "source",
        "consented",
        "confirmed",
    ]
    list_filter = ["status", "frequency", "consent_source", "left_how"]
    # Searched by subscriber_search.search (get_search_results); the list here
    # only makes the admin show the search box.
    search_fields = ["email"]
    search_help_text = subscriber_search.HELP
    # The columns with an index to sort by (newsletter/migrations/
    # 0014_subscriber_list_indexes.py); sorting by first name or source would
    # sort the whole table on every page, and by status (the counts above the
    # list filter by it) sorted each status's hundreds of thousands of rows.
    sortable_by = ["email_address", "consented", "confirmed"]
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

    # Sorted as subscriber_email_ci_unique, the index, has it.
    @admin.display(description="Email", ordering=Lower("email"))
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
        admin_counts.forget(STATUS_COUNTS)
        admin_counts.forget(GROWTH)

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
        # Live on a small table; on a big one (a count each over a million rows
        # per page load) shared through the cache for ADMIN_SUMMARY_SECONDS:
        # figures a minute or two old are fine for a glance, and staff's own
        # actions below forget them so they see what they did.
        figures = admin_counts.summaries(
            Subscriber,
            {STATUS_COUNTS: self.status_counts, GROWTH: selectors.subscriber_growth},
        )
        extra_context = {
            **(extra_context or {}),
            "status_counts": figures[STATUS_COUNTS],
            "has_import_permission": self.has_import_permission(request),
            "active_status": request.GET.get("status__exact", ""),
            "growth": growth_chart.layout(figures[GROWTH]),
        }
        return super().changelist_view(request, extra_context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return subscriber_search.search(queryset, search_term), False

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
        admin_counts.forget(STATUS_COUNTS)
        admin_counts.forget(GROWTH)
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
