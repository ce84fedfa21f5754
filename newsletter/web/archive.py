"""The public archive of sent issues."""

from django.views.generic import DetailView, ListView

from articles.public import Article, Correction, published_q
from newsletter.models import Issue

ARCHIVE_PAGE_SIZE = 12


class ArchiveListView(ListView):
    template_name = "newsletter/archive_list.html"
    paginate_by = ARCHIVE_PAGE_SIZE
    context_object_name = "issues"

    def get_queryset(self):
        return (
            Issue.objects.archived()
            .only("subject", "slug", "preheader", "sent_at")
            .order_by("-sent_at", "-pk")
        )


class ArchiveDetailView(DetailView):
    template_name = "newsletter/archive_detail.html"
    context_object_name = "issue"

    def get_queryset(self):
        return Issue.objects.archived()

    def get_context_data(self, **kwargs):
        # Articles since unpublished are left out rather than linked to a 404.
        featured = (
            Article.objects.published()
            .for_listing()
            .filter(issuearticle__issue=self.object)
            .order_by("issuearticle__position", "issuearticle__pk")
        )
        # A digest's "What changed", whole, as it was approved (one query, and
        # none for the other kinds, which have no such section).
        changed = (
            Correction.objects.filter(published_q("article__"))
            .filter(pk__in=self.object.corrections.values("pk"))
            .select_related("article")
            .order_by("published_at", "pk")
            if self.object.kind == Issue.Kind.DIGEST
            else []
        )
        return super().get_context_data(
            featured=list(featured), changed=list(changed), **kwargs
        )
