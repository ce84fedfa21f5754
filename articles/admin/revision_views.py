"""Revisions, their comparison and restoring, autosave and share previews: the
admin views ArticleAdmin.get_urls() mounts under each article.

Every change goes through articles/editorial/ (workflow, autosave, previews), which
checks the permission on the server; these views only read the request and show the
outcome (comparing revisions: articles/editorial/diff.py).
"""

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from articles.admin.workflow_views import post_or_back
from articles.editorial import autosave, permissions, previews, workflow
from articles.editorial.autosave import autosave_data, offered_autosave
from articles.editorial.diff import comparison
from articles.editorial.permissions import Action
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRevision,
    MedicalApproval,
    PreviewLink,
)

# How often the editing page sends what changed. Tests shorten it.
AUTOSAVE_SECONDS = 30
REVISIONS_PER_PAGE = 50
# The session key holding a new share link until its page shows it, once.
NEW_PREVIEW_URL_KEY = "articles_new_preview_url"


def urls(model_admin) -> list[URLPattern]:
    """The URL patterns of these views, wrapped by the admin site's login check."""
    views = RevisionViews(model_admin)
    wrap = model_admin.admin_site.admin_view

    def post(view):
        return wrap(require_POST(view))

    def get_or_post(view):
        return wrap(require_http_methods(["GET", "POST"])(view))

    return [
        path(
            "<int:object_id>/revisions/",
            wrap(views.revision_list),
            name="articles_article_revisions",
        ),
        path(
            "<int:object_id>/revisions/compare/",
            wrap(views.compare),
            name="articles_article_compare",
        ),
        path(
            "<int:object_id>/revisions/<int:number>/restore/",
            wrap(post_or_back(views.restore, "articles_article_revisions")),
            name="articles_article_restore",
        ),
        path("autosave/", post(views.autosave), name="articles_article_autosave_new"),
        path(
            "<int:object_id>/autosave/",
            post(views.autosave),
            name="articles_article_autosave",
        ),
        path(
            "autosave/discard/",
            get_or_post(views.discard_autosave),
            name="articles_article_autosave_discard_new",
        ),
        path(
            "<int:object_id>/autosave/discard/",
            get_or_post(views.discard_autosave),
            name="articles_article_autosave_discard",
        ),
        path(
            "<int:object_id>/preview-links/",
            get_or_post(views.preview_links),
            name="articles_article_preview_links",
        ),
        path(
            "<int:object_id>/preview-links/<int:link_id>/revoke/",
            wrap(
                post_or_back(
                    views.revoke_preview_link, "articles_article_preview_links"
                )
            ),
            name="articles_article_revoke_preview_link",
        ),
    ]


def autosave_context(request: HttpRequest, article: Article | None) -> dict[str, Any]:
    """What includes/autosave.html shows on the change or add page (`article` is
    None on the add page): whether autosave runs, its URLs, the autosave to offer
    back, and links to the revisions and share previews."""
    if article is not None and article.pk is None:
        article = None
    can_edit = not permissions.refusal(request.user, Action.EDIT, article)
    if article is None:
        context = {
            "url": reverse("admin:articles_article_autosave_new"),
            "discard_url": reverse("admin:articles_article_autosave_discard_new"),
        }
    else:
        context = {
            "url": reverse("admin:articles_article_autosave", args=[article.pk]),
            "discard_url": reverse(
                "admin:articles_article_autosave_discard", args=[article.pk]
            ),
            "revisions_url": reverse(
                "admin:articles_article_revisions", args=[article.pk]
            ),
            "compare_url": reverse("admin:articles_article_compare", args=[article.pk]),
            # Only to those who may make share links (editors).
            "preview_links_url": ""
            if permissions.refusal(request.user, Action.SHARE_PREVIEW, article)
            else reverse("admin:articles_article_preview_links", args=[article.pk]),
            "has_unpublished_changes": article.has_unpublished_changes,
        }
    return {
        **context,
        "enabled": can_edit,
        "interval_ms": AUTOSAVE_SECONDS * 1000,
        "offer": offered_autosave(article=article, user=request.user)
        if can_edit
        else None,
    }


# The views ----------------------------------------------------------------------


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


class RevisionViews:
    """The views, bound to the ArticleAdmin that mounts them (its permissions and
    admin site)."""

    def __init__(self, model_admin):
        self.model_admin = model_admin

    def _article(self, request: HttpRequest, object_id: int) -> Article:
        """The article, if the user may at least view it."""
        article = get_object_or_404(
            Article.objects.select_related(
                "topic", "author", "latest_revision", "live_revision"
            ),
            pk=object_id,
        )
        if not self.model_admin.has_view_or_change_permission(request, article):
            raise PermissionDenied
        return article

    def _context(self, request: HttpRequest, article: Article, title: str) -> dict:
        return {
            **self.model_admin.admin_site.each_context(request),
            "opts": Article._meta,
            "article": article,
            "title": title,
            "change_url": reverse("admin:articles_article_change", args=[article.pk]),
            "revisions_url": reverse(
                "admin:articles_article_revisions", args=[article.pk]
            ),
            "restore_refusal": permissions.refusal(request.user, Action.EDIT, article),
        }

    def revision_list(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = self._article(request, object_id)
        approvals = MedicalApproval.objects.select_related("reviewer")
        queryset = article.revisions.select_related("created_by").prefetch_related(
            Prefetch("approvals", queryset=approvals)
        )
        page = Paginator(queryset, REVISIONS_PER_PAGE).get_page(request.GET.get("page"))
        context = self._context(request, article, f"Revisions of “{article.title}”")
        context |= {
            "page": page,
            "revisions": page.object_list,
            "compare_url": reverse("admin:articles_article_compare", args=[article.pk]),
            "default_new": next(iter(page.object_list), None),
            "default_old": next(
                (r for r in page.object_list if r.pk != article.latest_revision_id),
                None,
            ),
        }
        return TemplateResponse(
            request, "admin/articles/article/revision_list.html", context
        )

    def compare(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = self._article(request, object_id)
        numbers = list(article.revisions.values_list("number", flat=True))
        if not numbers:
            messages.info(
                request, "This article has no revisions yet to compare: save it first."
            )
            return HttpResponseRedirect(
                reverse("admin:articles_article_change", args=[article.pk])
            )
        new_number = _number(request.GET.get("new"), default=max(numbers))
        live = article.live_revision
        default_old = (
            live.number
            if live is not None and live.number != new_number
            else max([n for n in numbers if n < new_number], default=new_number)
        )
        old_number = _number(request.GET.get("old"), default=default_old)
        if old_number > new_number:
            old_number, new_number = new_number, old_number
        # Checked against the numbers there are before any query: a number too
        # big for the database's integers fails the query on SQLite.
        if old_number not in numbers or new_number not in numbers:
            messages.error(request, "There is no such revision of this article.")
            return HttpResponseRedirect(
                reverse("admin:articles_article_revisions", args=[article.pk])
            )
        found = {
            r.number: r
            for r in article.revisions.select_related("created_by").filter(
                number__in=[old_number, new_number]
            )
        }
        old, new = found[old_number], found[new_number]
        fields = comparison(old.data, new.data)
        context = self._context(
            request,
            article,
            f"Revision {old.number} and revision {new.number} of “{article.title}”",
        )
        context |= {
            "old": old,
            "new": new,
            "fields": fields,
            "changed_labels": [f.label for f in fields if f.changed],
            "unchanged_labels": [f.label for f in fields if not f.changed],
            "numbers": sorted(numbers, reverse=True),
        }
        return TemplateResponse(
            request, "admin/articles/article/revision_compare.html", context
        )

    @staticmethod
    def _restored_message(
        article: Article, revision: ArticleRevision, new: ArticleRevision
    ) -> str:
        if article.status == Article.Status.PUBLISHED:
            return (
                f"Revision {revision.number} restored as a new draft, revision "
                f"{new.number}. Readers still see the published version until this "
                "draft is published."
            )
        return (
            f"Revision {revision.number} restored as a new draft, revision "
            f"{new.number}."
        )

    def restore(self, request: HttpRequest, object_id: int, number: int):
        article = self._article(request, object_id)
        revision = get_object_or_404(article.revisions, number=number)
        latest_before = article.latest_revision_id
        try:
            new = workflow.restore_revision(
                article=article, revision=revision, user=request.user
            )
        except WorkflowError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(
                reverse("admin:articles_article_revisions", args=[article.pk])
            )
        except ValidationError as error:
            messages.error(
                request,
                f"Revision {revision.number} cannot be restored as it is: "
                + " ".join(error.messages),
            )
            return HttpResponseRedirect(
                reverse("admin:articles_article_revisions", args=[article.pk])
            )
        if new.pk == latest_before:
            messages.info(
                request,
                f"Revision {revision.number} is the same as the latest revision: "
                "nothing to restore.",
            )
        else:
            messages.success(request, self._restored_message(article, revision, new))
        return HttpResponseRedirect(
            reverse("admin:articles_article_change", args=[article.pk])
        )

    def autosave(self, request: HttpRequest, object_id: int | None = None):
        article = self._article(request, object_id) if object_id else None
        reason = permissions.refusal(request.user, Action.EDIT, article)
        if reason:
            return json_error(reason, 403)
        try:
            payload = json.loads(request.body)
        except RequestDataTooBig:
            return json_error(
                "The draft copy is too big to keep; save the article instead.", 413
            )
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: arrays or objects nested thousands deep.
            return json_error("The draft copy was not valid JSON.", 400)
        try:
            data = autosave_data(payload)
        except ValueError as error:
            return json_error(str(error), 400)
        try:
            saved = autosave.autosave(article=article, user=request.user, data=data)
        except WorkflowError as error:
            return json_error(str(error), 403)
        moment = timezone.localtime(saved.saved_at)
        return JsonResponse(
            {
                "saved_at": moment.isoformat(),
                "message": f"Saved a draft copy at {moment:%H:%M}.",
            }
        )

    def discard_autosave(self, request: HttpRequest, object_id: int | None = None):
        """GET asks to confirm; POST discards (the change page's script posts
        and asks for JSON)."""
        article = self._article(request, object_id) if object_id else None
        back = (
            reverse("admin:articles_article_change", args=[article.pk])
            if article is not None
            else reverse("admin:articles_article_add")
        )
        if request.method == "POST":
            autosave.discard_autosave(article=article, user=request.user)
            message = "Your unsaved changes were discarded."
            if request.accepts("application/json") and not request.accepts("text/html"):
                return JsonResponse({"message": message})
            messages.info(request, message)
            return HttpResponseRedirect(back)
        context = {
            **self.model_admin.admin_site.each_context(request),
            "opts": Article._meta,
            "article": article,
            "title": "Discard your unsaved changes?",
            "offer": autosave.pending_autosave(article=article, user=request.user),
            "back_url": back,
            "change_url": back,
        }
        return TemplateResponse(
            request, "admin/articles/article/autosave_discard.html", context
        )

    def preview_links(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = self._article(request, object_id)
        links_url = reverse("admin:articles_article_preview_links", args=[article.pk])
        if request.method == "POST":
            try:
                days = int(request.POST.get("days", ""))
            except ValueError:
                messages.error(request, "Enter how many days the link lasts, 1 to 30.")
                return HttpResponseRedirect(links_url)
            try:
                link, token = previews.create_preview_link(
                    article=article, user=request.user, days=days
                )
            except WorkflowError as error:
                messages.error(request, str(error))
                return HttpResponseRedirect(links_url)
            request.session[NEW_PREVIEW_URL_KEY] = request.build_absolute_uri(
                reverse("articles:share_preview", args=[token])
            )
            messages.success(
                request,
                f"Preview link made for revision {link.revision.number}; it works "
                f"until {timezone.localtime(link.expires_at):%d %b %Y, %H:%M}.",
            )
            return HttpResponseRedirect(links_url)
        links = list(
            PreviewLink.objects.filter(revision__article=article).select_related(
                "revision__article", "created_by"
            )
        )
        # One user object per maker: its permissions are read once, not per link.
        makers = {request.user.pk: request.user}
        for link in links:
            if link.created_by is not None:
                link.created_by = makers.setdefault(link.created_by_id, link.created_by)
            link.works = previews.preview_link_works(link)
        context = self._context(
            request, article, f"Share previews of “{article.title}”"
        )
        context |= {
            "links": links,
            "new_url": request.session.pop(NEW_PREVIEW_URL_KEY, None),
            "share_refusal": permissions.refusal(
                request.user, Action.SHARE_PREVIEW, article
            ),
            "days_default": previews.PREVIEW_DAYS_DEFAULT,
            "days_max": previews.PREVIEW_DAYS_MAX,
            "now": timezone.now(),
        }
        return TemplateResponse(
            request, "admin/articles/article/preview_links.html", context
        )

    def revoke_preview_link(
        self, request: HttpRequest, object_id: int, link_id: int
    ) -> HttpResponse:
        article = self._article(request, object_id)
        link = get_object_or_404(
            PreviewLink.objects.select_related("revision__article"),
            pk=link_id,
            revision__article=article,
        )
        try:
            previews.revoke_preview_link(link=link, user=request.user)
        except WorkflowError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, "The preview link was revoked: it no longer works."
            )
        return HttpResponseRedirect(
            reverse("admin:articles_article_preview_links", args=[article.pk])
        )


def _number(value: str | None, *, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default
