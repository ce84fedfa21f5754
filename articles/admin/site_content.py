"""Admin for what surrounds articles: topics, authors, the home page, the
editorial policy, search synonyms."""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from articles import services
from articles.admin import author_profile
from articles.editorial import medical
from articles.errors import WorkflowError
from articles.models import Author, EditorialPolicy, HomePage, SearchSynonym, Topic
from core.admin import SingleRowAdmin
from core.people import display_name

# How many changes of a topic's medical flag or a profile's name the page lists.
HISTORY_LENGTH = 50
REASON_MAX = 2000


class TopicAdminForm(forms.ModelForm):
    class Meta:
        model = Topic
        fields = ["name", "slug", "description", "medical", "review_interval_months"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "medical" in self.fields and self.instance.pk and self.instance.medical:
            # Unticking takes away the medical review of every article in it: a
            # medical reviewer does that with a reason (mark_topic_not_medical).
            self.fields["medical"].disabled = True
            self.fields["medical"].help_text = (
                "Only a medical reviewer can mark this topic not medical, with a "
                "reason: “Mark not medical” below the form."
            )


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicAdminForm
    list_display = ["name", "slug", "medical", "review_interval_months"]
    list_filter = ["medical"]
    search_fields = ["name"]
    fields = ["name", "slug", "description", "medical", "review_interval_months"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change):
        services.save_topic(topic=obj, user=request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        topic = self.get_object(request, unquote(object_id))
        if topic is not None:
            extra_context = {
                **(extra_context or {}),
                "medical_changes": topic.medical_changes.select_related("actor")[
                    :HISTORY_LENGTH
                ],
                "may_mark_not_medical": topic.medical
                and medical.is_medical_reviewer(request.user),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/not-medical/",
                self.admin_site.admin_view(require_POST(self.not_medical_view)),
                name="articles_topic_not_medical",
            ),
            *super().get_urls(),
        ]

    def not_medical_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """POST: a medical reviewer marks the topic not medical, with a reason
        (services.mark_topic_not_medical checks who, whatever the page showed)."""
        topic = get_object_or_404(Topic, pk=object_id)
        try:
            services.mark_topic_not_medical(
                topic=topic,
                user=request.user,
                reason=request.POST.get("reason", "")[:REASON_MAX],
            )
        except WorkflowError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"“{topic.name}” is no longer medical; the reason is in its history "
                "and in each of its articles'.",
            )
        return redirect("admin:articles_topic_change", topic.pk)


def _account_label(user) -> str:
    name = display_name(user)
    return name if name == user.get_username() else f"{name} ({user.get_username()})"


class AuthorAdminForm(forms.ModelForm):
    # The signed-in user, set per request by AuthorAdmin.get_form.
    user_saving = None

    class Meta:
        model = Author
        fields = ["name", "kind", "slug", "credentials", "bio", "photo", "user"]

    def clean(self):
        cleaned = super().clean()
        # The profile as it would be saved (the instance takes the typed values
        # only after clean), checked as services.save_author checks it.
        candidate = copy.copy(self.instance)
        for name in medical.GUARDED_AUTHOR_FIELDS:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        before = (
            Author.objects.filter(pk=self.instance.pk).first()
            if self.instance.pk
            else None
        )
        refusal = services.author_change_refusal(
            user=self.user_saving, author=candidate, before=before
        )
        if refusal:
            raise ValidationError(refusal, code="refused")
        return cleaned


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    form = AuthorAdminForm
    list_display = ["name", "kind", "credentials", "user"]
    list_filter = ["kind"]
    search_fields = ["name", "credentials"]
    fields = ["name", "kind", "slug", "credentials", "bio", "photo", "user"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["user"]

    def get_urls(self):
        return [
            path(
                "mine/",
                author_profile.view(self.admin_site),
                name="articles_author_mine",
            ),
            *super().get_urls(),
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            # A byline belongs to a staff account (a reviewer's approvals show it).
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user":
            # The one name shown for a person everywhere, with the sign-in name.
            field.label_from_instance = _account_label
        return field

    # Everyone keeps their own profile; editors change the others, except what a
    # reviewer's profile tells readers of their reviews (services.save_author).
    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        own = obj is not None and obj.user_id == request.user.pk
        return own or super().has_change_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None or request.user.is_superuser:
            return ()
        if not medical.is_reviewer_profile(obj):
            return ()
        if medical.may_change_reviewer_profile(request.user, obj):
            return ("user",)
        return medical.GUARDED_AUTHOR_FIELDS

    def get_prepopulated_fields(self, request: HttpRequest, obj=None):
        if "name" in self.get_readonly_fields(request, obj):
            return {}
        return super().get_prepopulated_fields(request, obj)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.user_saving = request.user
        return form

    def change_view(self, request, object_id, form_url="", extra_context=None):
        author = self.get_object(request, unquote(object_id))
        if author is not None:
            extra_context = {
                **(extra_context or {}),
                "author_changes": author.changes.select_related("changed_by")[
                    :HISTORY_LENGTH
                ],
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        services.save_author(author=obj, user=request.user)


@admin.register(HomePage)
class HomePageAdmin(SingleRowAdmin):
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


@admin.register(EditorialPolicy)
class EditorialPolicyAdmin(SingleRowAdmin):
    """The one editorial policy page: changed, never added (unless it is missing)
    nor deleted."""

    fields = ["title", "body"]

    def save_model(self, request, obj, form, change):
        services.save_editorial_policy(policy=obj)


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    list_display = ["term", "synonyms"]
    search_fields = ["term", "synonyms"]
