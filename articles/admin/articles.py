from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from articles import services
from articles.admin import revision_views, workflow_views
from articles.models import (
    Article,
    Reference,
    published_q,
)

# Wide inputs for the one-line text fields, so a normal title shows in full.
WIDE_TEXT = forms.TextInput(attrs={"class": "vTextField wide-text"})


class ArticleAdminForm(forms.ModelForm):
    class Meta:
        model = Article
        fields = [
            "title",
            "slug",
            "summary",
            "body",
            "cover_image",
            "cover_image_alt",
            "author",
            "topic",
            "reviewer",
            "reviewed_at",
            "status",
            "published_at",
            "featured",
            "seo_title",
            "seo_description",
        ]
        widgets = {
            "title": WIDE_TEXT,
            "slug": WIDE_TEXT,
            "summary": forms.Textarea(attrs={"rows": 3, "class": "wide-text"}),
            "cover_image_alt": WIDE_TEXT,
            "seo_title": WIDE_TEXT,
            "seo_description": WIDE_TEXT,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled in from the title when left empty (also without JavaScript).
        if "slug" in self.fields:  # not for a view-only user: no fields
            self.fields["slug"].required = False

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("slug") and cleaned.get("title"):
            cleaned["slug"] = services.unique_article_slug(
                title=cleaned["title"], exclude_pk=self.instance.pk
            )
        if cleaned.get("cover_image") and not cleaned.get("cover_image_alt"):
            self.add_error(
                "cover_image_alt",
                "Describe the cover image for readers who cannot see it.",
            )
        if cleaned.get("reviewer") and not cleaned.get("reviewed_at"):
            self.add_error(
                "reviewed_at",
                "Enter the date of the medical review, or leave the reviewer empty.",
            )
        if cleaned.get("reviewed_at") and not cleaned.get("reviewer"):
            self.add_error(
                "reviewer", "Choose who did the medical review, or clear the date."
            )
        if cleaned.get("status") == Article.Status.PUBLISHED and not cleaned.get(
            "published_at"
        ):
            cleaned["published_at"] = timezone.now()
        return cleaned


class StateFilter(admin.SimpleListFilter):
    """Draft, Scheduled, Live: the states the State column shows (published_q)."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("draft", "Draft"), ("scheduled", "Scheduled"), ("live", "Live")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        published = queryset.filter(status=Article.Status.PUBLISHED)
        return {
            "draft": queryset.exclude(status=Article.Status.PUBLISHED),
            "scheduled": published.exclude(published_q()),
            "live": queryset.filter(published_q()),
        }.get(self.value(), queryset)


class ReferenceInline(admin.TabularInline):
    model = Reference
    extra = 0
    ordering = ["position", "pk"]
    fields = ["position", "title", "publisher", "year", "url", "doi", "pmid"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    verbose_name = "source"
    verbose_name_plural = "sources (numbered by position, shown under the article)"


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleAdminForm
    inlines = [ReferenceInline]
    list_display = [
        "title",
        "state",
        "publish_time",
        "topic",
        "author",
        "featured",
        "site_link",
    ]
    list_filter = [StateFilter, "topic", "author", "featured"]
    search_fields = ["title", "summary", "body"]
    date_hierarchy = "published_at"
    list_select_related = ["topic", "author"]
    prepopulated_fields = {"slug": ["title"]}
    actions = ["publish_selected", "unpublish_selected"]
    save_on_top = True
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary", "body"]}),
        ("Cover image", {"fields": ["cover_image", "cover_image_alt"]}),
        ("Author and topic", {"fields": ["author", "topic"]}),
        ("Medical review", {"fields": ["reviewer", "reviewed_at"]}),
        ("Publishing", {"fields": ["status", "published_at", "featured"]}),
        (
            "Search engines",
            {"fields": ["seo_title", "seo_description"], "classes": ["collapse"]},
        ),
    ]

    class Media:
        js = ["admin/js/length-hints.js"]
        css = {"all": ["admin/css/articles.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Sorting by State goes Draft, Scheduled, Live (then by publish time).
        return (
            super()
            .get_queryset(request)
            .annotate(
                state_rank=Case(
                    When(published_q(), then=Value(2)),
                    When(status=Article.Status.PUBLISHED, then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            )
        )

    @admin.display(description="State", ordering="state_rank")
    def state(self, article: Article) -> str:
        return article.state_label

    @admin.display(description="Publish time", ordering="published_at")
    def publish_time(self, article: Article) -> str:
        if article.published_at is None:
            return "-"
        moment = timezone.localtime(article.published_at)
        return format_html(
            '<time datetime="{}">{} <span class="time-of-day">{}</span></time>',
            moment.isoformat(),
            moment.strftime("%d %b %Y"),
            moment.strftime("%H:%M"),
        )

    @admin.display(description="On site")
    def site_link(self, article: Article) -> str:
        label = "View" if article.is_live else "Preview"
        return format_html('<a href="{}">{}</a>', self.view_on_site(article), label)

    def view_on_site(self, article: Article) -> str:
        if article.is_live:
            return article.get_absolute_url()
        return reverse("admin:articles_article_preview", args=[article.pk])

    def save_model(self, request, obj, form, change):
        services.save_article(article=obj)

    @admin.action(description="Publish selected articles (now, or as scheduled)")
    def publish_selected(self, request: HttpRequest, queryset) -> None:
        for article in queryset:
            services.publish_article(article=article)
        self.message_user(
            request, f"Published {len(queryset)} article(s).", messages.SUCCESS
        )

    @admin.action(description="Unpublish selected articles (back to draft)")
    def unpublish_selected(self, request: HttpRequest, queryset) -> None:
        for article in queryset:
            services.unpublish_article(article=article)
        self.message_user(
            request, f"Moved {len(queryset)} article(s) to draft.", messages.SUCCESS
        )

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        return [
            path("<int:object_id>/preview/", preview, name="articles_article_preview"),
            *revision_views.urls(self),
            *workflow_views.urls(self),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = get_object_or_404(
            Article.objects.select_related("author", "topic"), pk=object_id
        )
        if not self.has_view_or_change_permission(request, article):
            raise PermissionDenied
        response = TemplateResponse(
            request,
            "articles/article_detail.html",
            {"article": article, "object": article, "preview": True},
        )
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
