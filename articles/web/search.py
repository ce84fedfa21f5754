from django.shortcuts import render

from articles.search.engine import MAX_QUERY_LENGTH, search
from articles.search.insight import count_search, pinned


def search_view(request):
    """/search/?q=: live articles matching the words, best first; on the first
    page, the live articles editors pinned to the query above them.

    A search is counted once (articles/search/insight.py), when a reader asks for
    it: not the pages after the first, which carry `page`, nor HEAD requests. This
    view is never served from the page cache, so it sees every search."""
    results = search(request.GET.get("q", ""), request.GET.get("page", 1))
    first_page = results.page is not None and results.page.number == 1
    pins = pinned(results.query) if first_page else []
    if results.clauses and request.method == "GET" and "page" not in request.GET:
        count_search(query=results.query, found_nothing=not (results.total or pins))
    return render(
        request,
        "articles/search_results.html",
        {
            "results": results,
            "pinned": pins,
            "pinned_ids": {article.pk for article in pins},
            "max_query_length": MAX_QUERY_LENGTH,
            # The page has its own search form: the header leaves its box out.
            "search_page": True,
        },
    )
