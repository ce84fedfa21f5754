"""The review page: what changed in an article since a medical reviewer last
approved it (or since the version readers see), and the Approve button, so a
small correction is read and approved on one page.

The button posts to the workflow's approve view with the revision shown: the
service checks the permission again, and refuses if a later revision was saved
since (articles/editorial/workflow.py)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from articles.admin import workflow_views
from articles.editorial import permissions
from articles.editorial.medical import needs_medical_review
from articles.editorial.permissions import Action
from articles.editorial.review_diff import Base, changes_for_review, compare_for_review
from articles.models import Article


def urls(model_admin) -> list[URLPattern]:
    """The URL pattern of the review page, wrapped by the admin's login check."""

    def review(request: HttpRequest, object_id: int) -> HttpResponse:
        return review_view(request, object_id, model_admin=model_admin)

    return [
        path(
            "<int:object_id>/review/",
            model_admin.admin_site.admin_view(review),
            name="articles_article_review",
        )
    ]


def review_url(article: Article) -> str:
    return reverse("admin:articles_article_review", args=[article.pk])


def review_view(request: HttpRequest, object_id: int, *, model_admin) -> HttpResponse:
    article = get_object_or_404(
        Article.objects.select_related(
            "topic", "author", "latest_revision__created_by", "live_revision"
        ),
        pk=object_id,
    )
    if not model_admin.has_view_or_change_permission(request, article):
        raise PermissionDenied
    latest = workflow_views.latest_revision(article)
    if latest.pk is None and article.status == Article.Status.PUBLISHED:
        # Never revised (the launch articles): the row is the version readers
        # see, and the one to review as it is.
        changes = compare_for_review(base=latest, base_kind=Base.LIVE, new=latest)
    else:
        changes = changes_for_review(article, latest)
    refusal = permissions.refusal(request.user, Action.APPROVE, article)
    change_url = reverse("admin:articles_article_change", args=[article.pk])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Article._meta,
        "article": article,
        "title": f"Review changes to “{article.title}”",
        "change_url": change_url,
        "revisions_url": reverse("admin:articles_article_revisions", args=[article.pk]),
        "compare_url": reverse("admin:articles_article_compare", args=[article.pk]),
        "preview_url": reverse("admin:articles_article_preview", args=[article.pk]),
        "changes": changes,
        "medical": needs_medical_review(article, latest.data),
        "approve_refusal": refusal,
        "approve_url": ""
        if refusal
        else reverse(
            f"admin:{workflow_views.url_name(Action.APPROVE)}", args=[article.pk]
        ),
    }
    return TemplateResponse(
        request, "admin/articles/article/review_changes.html", context
    )
