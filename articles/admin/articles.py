"""Editing articles in the admin. The form edits the latest revision, never the
live row: every save is a new revision (workflow.save_draft), and readers keep the
published version until a revision is published through the workflow."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from articles import services
from articles.admin import (
    calendar_views,
    readership_views,
    review_views,
    revision_views,
    workflow_views,
)
from articles.admin.article_forms import (
    ArticleAdminForm,
    SourceInline,
    submitted_sources,
)
from articles.admin.article_search import ArticleSearchAdmin
from articles.editorial import permissions, planning, revisions, workflow
from articles.editorial.permissions import Action
from articles.errors import WorkflowError
from articles.models import (
    SOURCE_FIELDS,
    Article,
    Author,
    Reference,
    Stage,
    published_q,
    source_dict,
)
from articles.publishing.pages import ArticlePage
from core import held_uploads

# The request attribute holding why a POST may not save the article: set only by
# ArticleAdmin.changeform_view, to show the form again with the reason.
REFUSAL = "article_edit_refusal"
# The change form's "Save and submit for review" button: the save, then the
# submission, in one request (one click for a writer's small correction).
SAVE_AND_SUBMIT = "_submit_for_review"


def latest_version(article: Article) -> Article:
    """The article as its latest revision has it, sources in `revision_sources`,
    the address readers use now in `public_slug` (a draft may change the slug).
    An article never revised (made before revisions, or outside the admin) is its
    row; its first save makes revision 1 from it."""
    public_slug = article.slug
    if article.latest_revision_id is None:
        version = article
        version.revision_sources = [
            source_dict(source) for source in article.references.all()
        ]
    else:
        version = revisions.as_article(article.latest_revision)
    version.public_slug = public_slug
    return version


def source_line(source: dict[str, Any]) -> str:
    return ", ".join(
        str(source[name])
        for name in SOURCE_FIELDS
        if source.get(name) not in ("", None)
    )


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


class StageFilter(admin.SimpleListFilter):
    """The workflow stage as the Stage column shows it: a scheduled article whose
    time has come is live (Article.stage_label)."""

    title = "stage"
    parameter_name = "stage"

    def lookups(self, request, model_admin):
        return Stage.choices

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        scheduled = Q(stage=Stage.SCHEDULED)
        if self.value() == Stage.LIVE:
            return queryset.filter(Q(stage=Stage.LIVE) | (scheduled & published_q()))
        if self.value() == Stage.SCHEDULED:
            return queryset.filter(scheduled).exclude(published_q())
        if self.value() in Stage.values:
            return queryset.filter(stage=self.value())
        return queryset


class MedicalFilter(admin.SimpleListFilter):
    """Medical by the article's own flag or by its topic's (Article.is_medical)."""

    title = "medical"
    parameter_name = "medical"

    def lookups(self, request, model_admin):
        return [("yes", "Medical"), ("no", "Not medical")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        medical = queryset.medical()
        return {
            "yes": medical,
            "no": queryset.exclude(pk__in=medical.values("pk")),
        }.get(self.value(), queryset)


@admin.register(Article)
class ArticleAdmin(ArticleSearchAdmin):
    form = ArticleAdminForm
    inlines = [SourceInline]
    list_display = [
        "title",
        "state",
        "stage_column",
        "publish_time",
        "topic",
        "author",
        "featured",
        "site_link",
    ]
    list_filter = [
        StateFilter,
        StageFilter,
        MedicalFilter,
        "evidence",
        "topic",
        "author",
        "featured",
    ]
    date_hierarchy = "published_at"
    # The filters' counts ("Show counts") are a scan per choice of every filter,
    # 34 queries and 0.7 s at 20,000 articles: not offered.
    show_facets = admin.ShowFacets.NEVER
    list_select_related = ["topic", "author"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["source_list"]
    save_on_top = True
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary", "body"]}),
        ("Cover image", {"fields": ["cover_image", "cover_image_alt"]}),
        ("Author and topic", {"fields": ["author", "topic"]}),
        ("Evidence and medical review", {"fields": ["evidence", "medical"]}),
        ("Home page", {"fields": ["featured"]}),
        ("Editorial calendar", {"fields": ["planned_for"]}),
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

    def get_object(self, request: HttpRequest, object_id, from_field=None):
        """The latest version: staff edit and view the draft, not the live row."""
        article = super().get_object(request, object_id, from_field)
        return None if article is None else latest_version(article)

    # Permissions, object by object, as the workflow decides (permissions.refusal).

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or hasattr(request, REFUSAL):
            return True
        return not permissions.refusal(request.user, Action.EDIT, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and permissions.is_editor(
            request.user
        )

    def get_inline_instances(self, request: HttpRequest, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return []  # the read-only page lists the sources (source_list)
        return super().get_inline_instances(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if permissions.refusal(request.user, Action.FEATURE, obj):
            # Not shown, so not in the form: a posted "featured" is ignored, and
            # the workflow refuses the change from any other path (save_draft).
            fieldsets = [f for f in fieldsets if "featured" not in f[1]["fields"]]
        if obj is not None and not self.has_change_permission(request, obj):
            return [*fieldsets, ("Sources", {"fields": ["source_list"]})]
        return fieldsets

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.refusal = getattr(request, REFUSAL, "")
        form.user = request.user
        return form

    def held_cover_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """The thumbnail of a cover image held for this user, and nobody else."""
        held = held_uploads.held(token=token, user=request.user)
        if held is None:
            raise Http404("No such image.")
        response = FileResponse(default_storage.open(held.name))
        response["Cache-Control"] = "private, no-store"
        return response

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            "readership_url": readership_views.site_url(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # A writer's new article is signed by their own profile unless they pick
        # another: their first save needs no choice.
        initial = super().get_changeform_initial_data(request)
        own = Author.objects.filter(user=request.user).values_list("pk", flat=True)
        if "author" not in initial and (pk := own.first()) is not None:
            initial["author"] = pk
        return initial

    def get_formset_kwargs(self, request: HttpRequest, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        # New forms only, filled from the latest revision: never the Reference rows
        # (the live sources). A POST is the whole list as submitted.
        kwargs["queryset"] = Reference.objects.none()
        if request.method != "POST":
            kwargs["initial"] = [
                {**source, "position": position}
                for position, source in enumerate(
                    getattr(obj, "revision_sources", []), start=1
                )
            ]
        return kwargs

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url="", extra_context=None
    ) -> HttpResponse:
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        refusal = self.edit_refusal(request, object_id)
        if not refusal:
            try:
                return super().changeform_view(
                    request, object_id, form_url, extra_context
                )
            except WorkflowError as error:
                # Raised inside the admin's transaction: nothing was saved.
                refusal = str(error)
        # The form again, with what was typed and the reason as its error.
        setattr(request, REFUSAL, refusal)
        response = super().changeform_view(request, object_id, form_url, extra_context)
        response.status_code = 403
        return response

    def edit_refusal(self, request: HttpRequest, object_id) -> str:
        """Why the workflow refuses this user's POST to the article; users whose
        role cannot change articles at all get the admin's plain 403."""
        if object_id is None or not super().has_change_permission(request):
            return ""
        article = self.get_object(request, unquote(object_id))
        if article is None:
            return ""
        return permissions.refusal(request.user, Action.EDIT, article)

    def render_change_form(
        self,
        request: HttpRequest,
        context,
        add=False,
        change=False,
        form_url="",
        obj=None,
    ):
        context["offers_save_and_submit"] = self.offers_save_and_submit(request, obj)
        context["readership_url"] = readership_views.readership_url(request, obj)
        # A POST shown again has an error: the cover image chosen is held.
        context["adminform"].form.hold_cover(
            url_for=lambda token: reverse(
                "admin:articles_article_held_cover", args=[token]
            )
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def offers_save_and_submit(self, request: HttpRequest, article) -> bool:
        """Whether the form shows "Save and submit for review": the user may
        edit the article and submit it once saved (a save sends a live article
        back to Draft; one in review or approved stays there)."""
        if article is not None and article.stage in (Stage.IN_REVIEW, Stage.APPROVED):
            return False
        return not permissions.refusal(request.user, Action.EDIT, article)

    def save_model(self, request, obj, form, change):
        """Saved with its sources in save_related (the formsets are at hand
        there), as one revision."""

    def save_related(self, request, form, formsets, change):
        article = form.instance
        before = article.latest_revision_id
        services.store_cover_upload(article=article)
        held = form.held_cover
        if held is not None:
            # Stored as the cover: the held copy goes once the save is committed.
            transaction.on_commit(lambda: held_uploads.release(upload=held))
        data = revisions.snapshot(article, sources=submitted_sources(formsets))
        revision = workflow.save_draft(article=article, data=data, user=request.user)
        # The plan is no content: written to the row, outside the revisions.
        planned_for = form.cleaned_data.get("planned_for")
        stored = Article.objects.values_list("planned_for", flat=True).get(
            pk=article.pk
        )
        if "planned_for" in form.cleaned_data and planned_for != stored:
            planning.plan_article(
                article=article, user=request.user, planned_for=planned_for
            )
            self.message_user(
                request,
                f"Planned for {planned_for:%d %B %Y}." if planned_for else "No plan.",
                messages.INFO,
            )
        # Unchanged: save_draft returns the latest revision, or for a live article
        # never revised, revision 1 made from (and being) the live version.
        live = Article.objects.values_list("live_revision", flat=True).get(
            pk=article.pk
        )
        if change and revision.pk in (before, live):
            message = f"Nothing changed: revision {revision.number} stays the latest."
        elif article.status == Article.Status.PUBLISHED:
            message = (
                f"Saved as revision {revision.number}, a draft: readers see the "
                "published version until this revision is published."
            )
        else:
            message = f"Saved as revision {revision.number}."
        if SAVE_AND_SUBMIT in request.POST:
            # Refused (say, nothing changed in a live article), the admin's
            # transaction undoes the save too: the form shows the reason.
            workflow.submit_for_review(article=article, user=request.user)
            message = (
                f"Saved as revision {revision.number} and submitted for review: "
                "a reviewer sees it in their queue."
            )
        self.message_user(request, message, messages.INFO)

    def response_add(self, request: HttpRequest, obj, post_url_continue=None):
        if SAVE_AND_SUBMIT in request.POST:
            return HttpResponseRedirect(
                reverse("admin:articles_article_change", args=[obj.pk])
            )
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj):
        if SAVE_AND_SUBMIT in request.POST:
            return HttpResponseRedirect(
                reverse("admin:articles_article_change", args=[obj.pk])
            )
        return super().response_change(request, obj)

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        # obj is the latest version (get_object); deleting the row itself lets the
        # deletion signal forget the images readers were shown, not the draft's.
        Article.objects.get(pk=obj.pk).delete()

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, [], add)
        sources = submitted_sources(formsets)
        if add or sources == getattr(form.instance, "revision_sources", []):
            return message
        for entry in message:
            if "changed" in entry:
                entry["changed"]["fields"].append("Sources")
                return message
        return [*message, {"changed": {"fields": ["Sources"]}}]

    @admin.display(description="Sources")
    def source_list(self, article: Article) -> str:
        sources = getattr(article, "revision_sources", [])
        if not sources:
            return "No sources"
        return format_html(
            "<ol>{}</ol>",
            format_html_join("", "<li>{}</li>", ((source_line(s),) for s in sources)),
        )

    @admin.display(description="State", ordering="state_rank")
    def state(self, article: Article) -> str:
        return article.state_label

    @admin.display(description="Stage", ordering="stage")
    def stage_column(self, article: Article) -> str:
        return article.stage_label

    @admin.display(description="Publish time", ordering="published_at")
    def publish_time(self, article: Article) -> str:
        if article.published_at is None:
            return "-"
        moment = timezone.localtime(article.published_at)
        return format_html(
            '<time datetime="{}">{} <span class="time-of-day">{}</span></time>',
            moment.isoformat(timespec="seconds"),
            moment.strftime("%d %b %Y"),
            moment.strftime("%H:%M"),
        )

    @admin.display(description="On site")
    def site_link(self, article: Article) -> str:
        label = "View" if article.is_live else "Preview"
        return format_html('<a href="{}">{}</a>', self.view_on_site(article), label)

    def view_on_site(self, article: Article) -> str:
        if article.is_live:
            # The live page's address, not a draft's (nor a form's half-typed) slug.
            slug = getattr(article, "public_slug", article.slug)
            return reverse("articles:detail", kwargs={"slug": slug})
        return reverse("admin:articles_article_preview", args=[article.pk])

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        held_cover = self.admin_site.admin_view(self.held_cover_view)
        return [
            path("<int:object_id>/preview/", preview, name="articles_article_preview"),
            path(
                "held-cover/<str:token>/",
                held_cover,
                name="articles_article_held_cover",
            ),
            *revision_views.urls(self),
            *review_views.urls(self),
            *workflow_views.urls(self),
            *calendar_views.urls(self),
            *readership_views.urls(self),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The latest revision, as readers would see it once published."""
        article = get_object_or_404(
            Article.objects.select_related("author", "topic"), pk=object_id
        )
        if not self.has_view_or_change_permission(request, article):
            raise PermissionDenied
        revision = article.latest_revision
        article = latest_version(article)
        if revision is not None:
            # Reviewed by whoever approved this exact version, or nobody.
            approval = workflow.current_approval(article, revision)
            article.reviewer = approval.reviewer if approval else None
            article.reviewer_name = approval.reviewer_name if approval else ""
            article.reviewer_credentials = (
                approval.reviewer_credentials if approval else ""
            )
            article.reviewed_at = (
                timezone.localdate(approval.approved_at) if approval else None
            )
        response = TemplateResponse(
            request,
            "articles/article_detail.html",
            {
                "article": article,
                "object": article,
                "article_page": ArticlePage(article, preview=True),
                "preview": True,
            },
        )
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
