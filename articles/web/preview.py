"""Share previews: an unpublished revision, read through a signed, expiring link
by someone without an account (previews.create_preview_link makes the links)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control

from articles.editorial import medical, previews, revisions
from articles.models import Article, PreviewLink
from articles.publishing.pages import ArticlePage


def preview_article(link: PreviewLink) -> Article:
    """The article as the link's revision has it, and only that revision: its own
    sources, and the reviewed-by line only if an approval covers it."""
    revision = link.revision
    # Its sources are the revision's (revision_sources), which the shared
    # article templates show instead of the live Reference rows.
    article = revisions.as_article(revision)
    approval = medical.current_approval(revision.article, revision)
    article.reviewer = approval.reviewer if approval else None
    article.reviewed_at = timezone.localdate(approval.approved_at) if approval else None
    return article


def share_preview(request: HttpRequest, token: str) -> HttpResponse:
    link = previews.preview_link_for(token)
    if link is None:
        response = render(request, "articles/share_preview_invalid.html", status=404)
    else:
        article = preview_article(link)
        response = render(
            request,
            "articles/share_preview.html",
            {
                "article": article,
                "article_page": ArticlePage(article, preview=True),
                "preview": True,
                "link": link,
            },
        )
    # Never indexed, kept or passed on: the link is the only key to the page.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    patch_cache_control(response, no_store=True, private=True)
    return response
