from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import DetailView, ListView, TemplateView

from articles.models import (
    Article,
    ArticleRedirect,
    Topic,
)
from articles.publishing import corrections
from articles.publishing.pages import ArticlePage
from articles.publishing.stored import stored_page
from articles.selectors import editorial_policy, home_page, topics_with_articles
from articles.web import shell
from articles.web.paging import KeyedPaginator

PAGE_SIZE = 10
LATEST_ON_HOME = 6


class HomeView(TemplateView):
    template_name = "articles/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["home"] = home_page()
        public = Article.objects.published().for_listing()
        featured = list(public.filter(featured=True)[:3])
        context["featured"] = featured
        context["latest"] = list(
            public.exclude(pk__in=[a.pk for a in featured])[:LATEST_ON_HOME]
        )
        context["topics"] = list(topics_with_articles())
        return context


class ArticleListView(ListView):
    template_name = "articles/article_list.html"
    paginate_by = PAGE_SIZE
    paginator_class = KeyedPaginator

    def get_queryset(self):
        return Article.objects.published().for_listing()


def readership_context(article_id: int) -> dict:
    """The article the page's counting script names (articles/readership/); none
    when counting is off (settings.READERSHIP_COUNTING)."""
    return {"readership_article": article_id if settings.READERSHIP_COUNTING else None}


class ArticleDetailView(DetailView):
    template_name = "articles/article_detail.html"

    def get_queryset(self):
        # Corrections and the prepared page come inside the article's own query
        # (articles/publishing/corrections.py, articles/publishing/prepared.py).
        return corrections.with_corrections(
            Article.objects.published().select_related(
                "author", "topic", "reviewer", "prepared"
            )
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["article_page"] = ArticlePage(self.object)
        context.update(readership_context(self.object.pk))
        return context

    def get(self, request, *args, **kwargs):
        # A live article's page as stored, when it still fits: two compiled
        # queries, nothing worked out (articles/publishing/prepared.py).
        stored = stored_page(kwargs["slug"])
        if stored is not None:
            # Joined into the layout rendered once per process (shell.py).
            html = shell.page_html(request, stored)
            if html is not None:
                return HttpResponse(html)
            return self.render_to_response(
                {"article_page": stored, **readership_context(stored.article_id)}
            )
        try:
            return super().get(request, *args, **kwargs)
        except Http404:
            # An old address of an article answers with a permanent redirect.
            moved = (
                ArticleRedirect.objects.filter(old_slug=kwargs["slug"])
                .select_related("article")
                .first()
            )
            if moved is None or not moved.article.is_live:
                raise
            return redirect(moved.article, permanent=True)


class TopicDetailView(ListView):
    template_name = "articles/topic_detail.html"
    paginate_by = PAGE_SIZE
    paginator_class = KeyedPaginator

    def get_queryset(self):
        self.topic = get_object_or_404(Topic, slug=self.kwargs["slug"])
        return Article.objects.published().for_listing().filter(topic=self.topic)

    def get_context_data(self, **kwargs):
        return super().get_context_data(topic=self.topic, **kwargs)


class TopicListView(ListView):
    template_name = "articles/topic_list.html"
    context_object_name = "topics"

    def get_queryset(self):
        return topics_with_articles()


class EditorialPolicyView(TemplateView):
    template_name = "articles/editorialpolicy_detail.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(policy=editorial_policy(), **kwargs)
