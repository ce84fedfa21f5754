"""The article's editing form in the admin and its sources inline: what staff type,
checked before it becomes a revision (articles/admin/articles.py saves it)."""

from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from articles import services
from articles.models import (
    Article,
    ArticleRevision,
    Reference,
    source_dict,
)
from core import held_uploads
from core.admin import LabelledTabularInline

# Wide inputs for the one-line text fields, so a normal title shows in full.
WIDE_TEXT = forms.TextInput(attrs={"class": "vTextField wide-text"})
# The token of a cover image held from a save that failed, and its removal box.
HELD_COVER = "held_cover"
HELD_COVER_REMOVE = "held_cover_remove"


class CoverImageWidget(AdminFileWidget):
    """The admin's file input, and under it the image chosen before a save that
    failed: shown, kept by its token, and removable."""

    held: held_uploads.Held | None = None
    held_url = ""

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        if self.held is None:
            return html
        return html + render_to_string(
            "admin/articles/article/includes/held_cover.html",
            {
                "held": self.held,
                "held_url": self.held_url,
                "token_name": HELD_COVER,
                "remove_name": HELD_COVER_REMOVE,
            },
        )


class ArticleAdminForm(forms.ModelForm):
    # Why saving is refused, set per request by ArticleAdmin.get_form: a form
    # carrying a refusal is never valid, so nothing is saved.
    refusal = ""
    # Who is saving, set per request by ArticleAdmin.get_form: a held cover image
    # is given back only to the user it was held for.
    user = None
    # The cover image held from a failed save, used by this one (ArticleAdmin
    # releases it once saved).
    held_cover: held_uploads.Held | None = None
    # The latest revision when the page was shown (the change form's template
    # writes it): a save over a later one would silently undo it.
    base_revision = forms.IntegerField(required=False, widget=forms.HiddenInput)

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
            "medical",
            "evidence",
            "featured",
            "planned_for",
            "seo_title",
            "seo_description",
        ]
        widgets = {
            "title": WIDE_TEXT,
            "slug": WIDE_TEXT,
            "summary": forms.Textarea(attrs={"rows": 3, "class": "wide-text"}),
            "cover_image": CoverImageWidget,
            "cover_image_alt": WIDE_TEXT,
            "seo_title": WIDE_TEXT,
            "seo_description": WIDE_TEXT,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled in from the title when left empty (also without JavaScript).
        if "slug" in self.fields:  # a view-only page has no fields
            self.fields["slug"].required = False
        if "medical" in self.fields and self.instance.pk and self.instance.medical:
            # Unticking takes away the medical review: a medical reviewer does it
            # with a reason (the workflow panel), and save_draft refuses it here.
            self.fields["medical"].disabled = True
            self.fields["medical"].help_text = (
                "Only a medical reviewer can mark the article not medical, with a "
                "reason: “Mark not medical” in the workflow panel."
            )

    def clean(self):
        cleaned = super().clean()
        if self.refusal:
            raise ValidationError(self.refusal, code="refused")
        self.check_base_revision(cleaned.get("base_revision"))
        if not cleaned.get("slug") and cleaned.get("title"):
            cleaned["slug"] = services.unique_article_slug(
                title=cleaned["title"], exclude_pk=self.instance.pk
            )
        self.take_held_cover(cleaned)
        if cleaned.get("cover_image") and not cleaned.get("cover_image_alt"):
            self.add_error(
                "cover_image_alt",
                "Describe the cover image for readers who cannot see it.",
            )
        return cleaned

    def take_held_cover(self, cleaned: dict[str, Any]) -> None:
        """Without a new file (nor "Clear"), the image held from the failed save
        before is the cover chosen, unless its removal is ticked. A token that is
        not this user's, altered or expired gives nothing, and says so."""
        token = self.data.get(HELD_COVER, "")
        if (
            "cover_image" not in cleaned
            or not token
            or self.data.get(HELD_COVER_REMOVE)
        ):
            return
        chosen = cleaned["cover_image"]
        if isinstance(chosen, UploadedFile) or chosen is False:
            return
        held = held_uploads.held(token=token, user=self.user)
        if held is None:
            self.add_error(
                "cover_image",
                "The image chosen before could not be kept (it expired): choose "
                "it again.",
            )
            return
        self.held_cover = held
        cleaned["cover_image"] = held_uploads.open_held(held)

    def hold_cover(self, *, url_for) -> None:
        """Shown again with an error: keep the cover image just chosen (or the
        one already held), so the next save has it without a new upload.
        `url_for(token)` is the address of its thumbnail."""
        if not self.is_bound or "cover_image" not in self.fields:
            return
        chosen = getattr(self, "cleaned_data", {}).get("cover_image")
        if isinstance(chosen, UploadedFile):
            self.held_cover = held_uploads.hold(upload=chosen, user=self.user)
        if self.held_cover is not None:
            widget = self.fields["cover_image"].widget
            widget.held = self.held_cover
            widget.held_url = url_for(self.held_cover.token)

    def check_base_revision(self, base: int | None) -> None:
        """Refuse a save made from a page shown before the latest revision was
        saved (another tab, another person). The page shown with this error
        carries the new latest revision: saving again keeps this version."""
        latest = self.instance.latest_revision_id
        if base is None or latest is None or base == latest:
            return
        revision = ArticleRevision.objects.select_related("created_by").get(pk=latest)
        who = revision.created_by
        raise ValidationError(
            format_html(
                "Revision {} was saved by {} at {} after you opened this page: "
                'saving now would undo its changes. <a href="{}" target="_blank">'
                "Compare it</a> (in a new tab) with the version you started from, "
                "then save again to keep yours.",
                revision.number,
                (who.get_full_name() or who.get_username()) if who else "someone",
                f"{timezone.localtime(revision.created_at):%H:%M}",
                reverse("admin:articles_article_compare", args=[self.instance.pk])
                + f"?old={base_revision_number(base)}&new={revision.number}",
            ),
            code="stale",
        )


def base_revision_number(pk: int) -> int | str:
    return (
        ArticleRevision.objects.filter(pk=pk).values_list("number", flat=True).first()
        or ""
    )


def source_formfield(db_field, **kwargs):
    # An address typed without a scheme is taken as https://.
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class SourceForm(forms.ModelForm):
    class Meta:
        model = Reference
        fields = ["position", "title", "publisher", "year", "url", "doi", "pmid"]
        formfield_callback = source_formfield

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A new row without a number goes after the numbered ones.
        self.fields["position"].required = False
        self.fields["position"].initial = None

    def has_changed(self) -> bool:
        # A row holding nothing but a number is as empty as a blank row: skipped.
        return any(name != "position" for name in self.changed_data)


class SourceFormSet(BaseInlineFormSet):
    """The draft's sources. Every row is a new form (the Reference rows are the
    live sources, written only by the workflow), so what is submitted is the
    whole list: a row removed, emptied or marked for deletion is gone."""

    def sources(self) -> list[dict[str, Any]]:
        """The submitted sources by position; rows without one last, in order."""
        rows = []
        for index, form in enumerate(self.forms):
            if not form.has_changed() or form.cleaned_data.get(DELETION_FIELD_NAME):
                continue
            position = form.cleaned_data.get("position")
            key = (position is None, position or 0, index)
            rows.append((key, source_dict(form.cleaned_data)))
        return [source for _, source in sorted(rows, key=lambda row: row[0])]


def submitted_sources(formsets) -> list[dict[str, Any]]:
    return [s for f in formsets if isinstance(f, SourceFormSet) for s in f.sources()]


class SourceInline(LabelledTabularInline):
    model = Reference
    form = SourceForm
    formset = SourceFormSet
    fields = ["position", "title", "publisher", "year", "url", "doi", "pmid"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    verbose_name = "source"
    verbose_name_plural = "sources (numbered by position, shown under the article)"

    class Media:
        js = ["admin/js/source-positions.js"]

    def get_extra(self, request: HttpRequest, obj=None, **kwargs) -> int:
        return len(getattr(obj, "revision_sources", []))

    # The sources belong to the draft: whoever may edit the article edits them.
    def may_edit_article(self, request: HttpRequest, obj) -> bool:
        article_admin = self.admin_site.get_model_admin(Article)
        if obj is None or obj.pk is None:
            return article_admin.has_add_permission(request)
        return article_admin.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj) -> bool:
        return self.may_edit_article(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_edit_article(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_edit_article(request, obj)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.may_edit_article(request, obj)
