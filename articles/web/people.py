"""Pages about the people behind the articles: authors and medical reviewers."""

from django.shortcuts import get_object_or_404
from django.views.generic import ListView

from articles.models import Article, Author
from articles.web.paging import KeyedPaginator
from articles.web.views import PAGE_SIZE

# The newest articles a reviewer reviewed that their page lists: a reviewer of
# hundreds would otherwise make the page as long (and as slow) as them all.
REVIEWED_SHOWN = 12


class AuthorDetailView(ListView):
    """An author: who they are, their live articles (paginated), and the newest
    live articles they medically reviewed. Four queries whatever the numbers."""

    template_name = "articles/author_detail.html"
    paginate_by = PAGE_SIZE
    paginator_class = KeyedPaginator

    def get_queryset(self):
        self.author = get_object_or_404(Author, slug=self.kwargs["slug"])
        return Article.objects.published().for_listing().filter(author=self.author)

    def get_context_data(self, **kwargs):
        # One more than shown tells whether there are more, without a count.
        reviewed = list(
            Article.objects.published()
            .for_listing()
            .filter(reviewer=self.author)[: REVIEWED_SHOWN + 1]
        )
        return super().get_context_data(
            author=self.author,
            reviewed=reviewed[:REVIEWED_SHOWN],
            reviewed_more=len(reviewed) > REVIEWED_SHOWN,
            **kwargs,
        )
