"""Search as the site uses it: the backend for the database in use, keeping the
index in step with articles, and the searches readers run."""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article
from articles.search import common
from articles.search.common import (
    MAX_QUERY_LENGTH,
    PAGE_SIZE,
    START,
    STOP,
    Candidates,
    Clause,
    body_text,
    build_clauses,
    clean_text,
    synonym_groups,
    tokenize,
)
from articles.search.postgresql import PostgreSQLBackend
from articles.search.sqlite import SQLiteBackend


def _marked(text: str) -> SafeString:
    # Safe: everything is escaped first; only our own markers become <mark>.
    return mark_safe(
        escape(text or "").replace(START, "<mark>").replace(STOP, "</mark>")
    )


def backend() -> SQLiteBackend | PostgreSQLBackend:
    if connection.vendor == "postgresql":
        return PostgreSQLBackend()
    if connection.vendor == "sqlite":
        return SQLiteBackend()
    raise NotImplementedError(f"No search backend for {connection.vendor}")


# Keeping the index in step ------------------------------------------------------


def _row(article: Article) -> tuple:
    return (
        article.pk,
        clean_text(article.title),
        clean_text(article.summary),
        body_text(article.body),
    )


def index_articles(articles) -> int:
    """Index (or re-index) articles, any status; returns how many."""
    rows = [_row(a) for a in articles]
    if rows:
        backend().write(rows)
    return len(rows)


def index_article(article: Article) -> None:
    """Called by services.save_article, in its transaction, after the save."""
    index_articles([article])


def remove_article(article_id: int) -> None:
    backend().remove([article_id])


def rebuild(*, batch_size: int = 500) -> int:
    """Empty the index and index every article again: safe to repeat."""
    search_backend = backend()
    search_backend.clear()
    total, batch = 0, []
    for article in Article.objects.order_by("pk").iterator(chunk_size=batch_size):
        batch.append(_row(article))
        if len(batch) >= batch_size:
            search_backend.write(batch, fresh=True)
            total, batch = total + len(batch), []
    if batch:
        search_backend.write(batch, fresh=True)
        total += len(batch)
    return total


# Searching ----------------------------------------------------------------------


@dataclass
class SearchHit:
    article: Article
    title: SafeString
    summary: SafeString
    snippet: SafeString | None  # from the body, only when the body matched


class _LazyHits:
    """What Paginator needs (count, slicing), running one query for each.

    Articles must match every clause. When none does and the query has more
    than one clause, the closest matches stand in: articles matching any clause,
    those sharing the most clauses first (`closest` is then True).

    Only candidates are ranked and listed (articles/search/__init__.py); the closest
    matches are ordered by shared clauses first, then as usual (the title or
    summary group being those with any of the words there). More than
    MAX_RESULTS matches: `more`, and the count stops at MAX_RESULTS.
    """

    def __init__(self, clauses: list[Clause]) -> None:
        self.clauses = clauses
        self.backend = backend()
        self.found: Candidates | None = None
        self.closest = False

    def count(self) -> int:
        if self.found is None:
            self.found = self.backend.candidates(self.clauses)
            if self.found.count == 0 and len(self.clauses) > 1:
                self.found = self.backend.candidates(self.clauses, any_clause=True)
                self.closest = self.found.count > 0
        return min(self.found.count, common.MAX_RESULTS)

    @property
    def more(self) -> bool:
        self.count()
        return self.found.count > common.MAX_RESULTS

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[SearchHit]:
        start, stop = window.start or 0, window.stop
        if not self.count() or stop is None or stop <= start:
            return []
        rows = self.backend.page(
            self.clauses, self.found, stop - start, start, any_clause=self.closest
        )
        articles = Article.objects.for_listing().in_bulk([r[0] for r in rows])
        return [
            SearchHit(
                article=articles[pk],
                title=_marked(title),
                summary=_marked(summary),
                snippet=_marked(body) if START in (body or "") else None,
            )
            for pk, title, summary, body in rows
            if pk in articles
        ]


@dataclass
class SearchResults:
    query: str  # as searched: stripped and cut to MAX_QUERY_LENGTH
    clauses: list[Clause]
    page: Page | None  # None when the query has no words to search for
    # No live article has every word: these share the most of them.
    closest: bool = False
    # More than `total` live articles match; the best `total` are listed.
    more: bool = False

    @property
    def total(self) -> int:
        """How many are listed: every match, up to MAX_RESULTS."""
        return self.page.paginator.count if self.page else 0

    @property
    def listed(self) -> str:
        return f"{self.total:,}"

    @property
    def total_text(self) -> str:
        """'1 article', '13 articles', or '1,000+ articles' when more match."""
        plural = "" if self.total == 1 and not self.more else "s"
        return f"{self.listed}{'+' if self.more else ''} article{plural}"


def any_status_matching(query: str) -> RawSQL | None:
    """The newest MAX_RESULTS articles of any status with every word of the
    query (a word with synonyms matching any of them, as search() does), as a
    subquery of their ids to filter staff's lists by (pk__in); None when the
    query has no words to search for. Capped as search() is: listing every
    article holding a word found in most read most of the index."""
    query = (query or "")[:MAX_QUERY_LENGTH].strip()
    if not tokenize(query):
        return None
    clauses = build_clauses(query, synonym_groups())
    sql, params = backend().matching_ids(clauses, common.MAX_RESULTS)
    return RawSQL(sql, params)


def search(query: str, page: int | str | None = 1) -> SearchResults:
    """Live articles matching every word of the query (a word with synonyms
    matches any of them), best first, with highlighted title, summary and body
    snippet; when none matches every word, those sharing the most words
    (`closest`). Never raises on user input; a page number out of range gives
    the nearest page."""
    query = (query or "")[:MAX_QUERY_LENGTH].strip()
    if not tokenize(query):
        return SearchResults(query=query, clauses=[], page=None)
    clauses = build_clauses(query, synonym_groups())
    hits = _LazyHits(clauses)
    paginator = Paginator(hits, PAGE_SIZE)
    page_obj = paginator.get_page(page)  # counts first, which sets hits.closest
    return SearchResults(
        query=query,
        clauses=clauses,
        page=page_obj,
        closest=hits.closest,
        more=hits.more,
    )
