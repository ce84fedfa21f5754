"""The article list's search, through the site's own full-text index
(articles/search/): `search_fields` over the body made the admin run
UPPER(body) LIKE '%...%' over every article's text, several times a page. Words
match in any form ("retinoids" finds "retinoid") wherever they are in the title,
summary or text, with the site's synonyms; a title's part (a word not yet whole,
say) still finds it by the title."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from articles.search import engine
from articles.search.common import MAX_RESULTS


class ArticleSearchAdmin(admin.ModelAdmin):
    # Searched by get_search_results; the field here only shows the search box.
    search_fields = ["title"]
    search_help_text = (
        "Words in the title, summary or text, in any form, or part of a title. "
        f"Words in more than {MAX_RESULTS:,} articles find the newest "
        f"{MAX_RESULTS:,} of them: add a word or a filter to narrow it."
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        by_title = Q(title__icontains=term)
        matching = engine.any_status_matching(term)
        if matching is None:
            return queryset.filter(by_title), False
        return queryset.filter(Q(pk__in=matching) | by_title), False
