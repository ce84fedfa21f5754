"""Admin for what surrounds articles: topics, authors, the home page, search
synonyms."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.shortcuts import redirect

from articles import services
from articles.models import Author, HomePage, SearchSynonym, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "credentials"]
    list_filter = ["kind"]
    search_fields = ["name", "credentials"]
    fields = ["name", "kind", "slug", "credentials", "bio", "photo"]
    prepopulated_fields = {"slug": ["name"]}

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


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    list_display = ["term", "synonyms"]
    search_fields = ["term", "synonyms"]
