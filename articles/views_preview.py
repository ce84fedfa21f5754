"""Share previews: an unpublished revision, read through a signed, expiring link
by someone without an account (workflow.create_preview_link makes the links)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_cache_control

from articles import revisions, workflow
from articles.models import Article, PreviewLink, Reference


def preview_article(link: PreviewLink) -> Article:
    """The article as the link's revision has it, and only that revision: its own
    sources, and the reviewed-by line only if an approval covers it."""
    revision = link.revision
    article = revisions.as_article(revision)
    sources = Reference.objects.none()
    # What prefetch_related would leave: article.references.all() in the shared
    # templates then lists the revision's sources, not the live ones.
    sources._result_cache = [
        Reference(position=position, **revisions.source_dict(source))
        for position, source in enumerate(article.revision_sources, start=1)
    ]
    sources._prefetch_done = True
    article._prefetched_objects_cache = {"references": sources}
    approval = workflow.current_approval(revision.article, revision)
    article.reviewer = approval.reviewer if approval else None
    article.reviewed_at = timezone.localdate(approval.approved_at) if approval else None
    return article


def share_preview(request: HttpRequest, token: str) -> HttpResponse:
    link = workflow.preview_link_for(token)
    if link is None:
        response = render(request, "articles/share_preview_invalid.html", status=404)
    else:
        response = render(
            request,
            "articles/share_preview.html",
            {"article": preview_article(link), "preview": True, "link": link},
        )
    # Never indexed, kept or passed on: the link is the only key to the page.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    patch_cache_control(response, no_store=True, private=True)
    return response
