from django.shortcuts import render

from articles.search.engine import MAX_QUERY_LENGTH, search


def search_view(request):
    """/search/?q=: live articles matching the words, best first."""
    results = search(request.GET.get("q", ""), request.GET.get("page", 1))
    return render(
        request,
        "articles/search_results.html",
        {
            "results": results,
            "max_query_length": MAX_QUERY_LENGTH,
            # The page has its own search form: the header leaves its box out.
            "search_page": True,
        },
    )
