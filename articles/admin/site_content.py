"""Admin for what surrounds articles: topics, authors, the home page, the
editorial policy, search synonyms."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.shortcuts import redirect

from articles import services
from articles.models import Author, EditorialPolicy, HomePage, SearchSynonym, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "medical", "review_interval_months"]
    list_filter = ["medical"]
    search_fields = ["name"]
    fields = ["name", "slug", "description", "medical", "review_interval_months"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change):
        services.save_topic(topic=obj)


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "credentials", "user"]
    list_filter = ["kind"]
    search_fields = ["name", "credentials"]
    fields = ["name", "kind", "slug", "credentials", "bio", "photo", "user"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["user"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # A byline belongs to a staff account (a reviewer's approvals show it).
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        services.save_author(author=obj)


@admin.register(HomePage)
class HomePageAdmin(admin.ModelAdmin):
    """The one row of words at the top of the home page: changed, never added
    (unless it is missing) nor deleted."""

    fields = ["headline", "introduction"]
    formfield_overrides = {
        models.CharField: {
            "widget": forms.TextInput(attrs={"class": "vTextField vLargeTextField"})
        },
        models.TextField: {
            "widget": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"})
        },
    }

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not HomePage.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        page = HomePage.objects.first()
        if page is None:
            return redirect("admin:articles_homepage_add")
        return redirect("admin:articles_homepage_change", page.pk)


@admin.register(EditorialPolicy)
class EditorialPolicyAdmin(admin.ModelAdmin):
    """The one editorial policy page: changed, never added (unless it is missing)
    nor deleted."""

    fields = ["title", "body"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not EditorialPolicy.objects.exists() and super().has_add_permission(
            request
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        policy = EditorialPolicy.objects.first()
        if policy is None:
            return redirect("admin:articles_editorialpolicy_add")
        return redirect("admin:articles_editorialpolicy_change", policy.pk)

    def save_model(self, request, obj, form, change):
        services.save_editorial_policy(policy=obj)


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    list_display = ["term", "synonyms"]
    search_fields = ["term", "synonyms"]
