"""Pages about the people behind the articles: authors and medical reviewers."""

from django.shortcuts import get_object_or_404
from django.views.generic import ListView

from articles.models import Article, Author
from articles.web.views import PAGE_SIZE


class AuthorDetailView(ListView):
    """An author: who they are, their live articles (paginated), and the live
    articles they medically reviewed. Four queries whatever the numbers."""

    template_name = "articles/author_detail.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        self.author = get_object_or_404(Author, slug=self.kwargs["slug"])
        return Article.objects.published().for_listing().filter(author=self.author)

    def get_context_data(self, **kwargs):
        reviewed = list(
            Article.objects.published().for_listing().filter(reviewer=self.author)
        )
        return super().get_context_data(author=self.author, reviewed=reviewed, **kwargs)
