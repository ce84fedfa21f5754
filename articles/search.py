"""Full-text search of live articles: one interface, one backend per database.

PostgreSQL: the table articles_search_index holds each article's plain text and a
stored, weighted tsvector (title A, summary B, body C; 'english' config, so words
are stemmed) with a GIN index. SQLite: the FTS5 table articles_search_fts (porter
tokenizer, so stemmed too), ranked by bm25 with column weights 10/4/1. Both tables
are made by migration 0003 on their own database only.

Every article is indexed whatever its status; which articles are live is decided
at query time (the ArticleQuerySet.published() rule), so a scheduled article is
found once its time comes without touching the index.

Queries are built from plain word tokens only: quotes, operators (AND, OR, NEAR,
*, ^, -, parentheses) and the like never reach the database as syntax.
"""

import html
import re
import unicodedata
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article, SearchSynonym

PAGE_SIZE = 10
MAX_QUERY_LENGTH = 200
MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 60
CONFIG = "english"
PG_TABLE = "articles_search_index"
FTS_TABLE = "articles_search_fts"
# Highlight markers: control characters, removed from all indexed text, so only
# the database's highlighting can produce them; turned into <mark> after escaping.
START, STOP = "\x01", "\x02"
_MARKERS = str.maketrans({START: " ", STOP: " ", "\x00": " "})
_TOKEN = re.compile(r"[^\W_]+")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# Left out of queries (when other words remain), as PostgreSQL's 'english' config
# does, so both databases treat "how to treat acne" alike.
STOPWORDS = frozenset(
    str.split(
        "a an and are as at be but by for from how i if in into is it not of on or so "
        "than that the then there these this to was what when where which who why will "
        "with you your"
    )
)

Phrase = tuple[str, ...]
Clause = tuple[Phrase, ...]  # alternatives: any one phrase satisfies the clause


# Text ---------------------------------------------------------------------------


def clean_text(text: str) -> str:
    return _SPACE.sub(" ", (text or "").translate(_MARKERS)).strip()


def body_text(body_html: str) -> str:
    """The article body as plain text: tags become spaces, entities characters."""
    return clean_text(html.unescape(_TAG.sub(" ", body_html or "")))


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", (text or "")[:MAX_QUERY_LENGTH]).lower()
    tokens = [t[:MAX_TOKEN_LENGTH] for t in _TOKEN.findall(text)]
    meaningful = [t for t in tokens if t not in STOPWORDS]
    return meaningful or tokens


def synonym_groups() -> list[tuple[Phrase, ...]]:
    """Each SearchSynonym as its term and synonyms, tokenized like queries."""
    groups = []
    for term, synonyms in SearchSynonym.objects.values_list("term", "synonyms"):
        phrases: list[Phrase] = []
        for words in [term, *synonyms.split(",")]:
            phrase = tuple(tokenize(words))
            if phrase and phrase not in phrases:
                phrases.append(phrase)
        if len(phrases) > 1:
            groups.append(tuple(phrases))
    return groups


def build_clauses(query: str, groups: list[tuple[Phrase, ...]]) -> list[Clause]:
    """The query as clauses to AND together; a term with synonyms becomes one
    clause matching the term or any of its synonyms."""
    tokens = tokenize(query)[:MAX_TOKENS]
    candidates = sorted(
        ((phrase, group) for group in groups for phrase in group),
        key=lambda item: -len(item[0]),
    )
    clauses: list[Clause] = []
    i = 0
    while i < len(tokens):
        for phrase, group in candidates:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                clause, i = group, i + len(phrase)
                break
        else:
            clause, i = ((tokens[i],),), i + 1
        if clause not in clauses:
            clauses.append(clause)
    return clauses


def _marked(text: str) -> SafeString:
    # Safe: everything is escaped first; only our own markers become <mark>.
    return mark_safe(
        escape(text or "").replace(START, "<mark>").replace(STOP, "</mark>")
    )


def _live() -> tuple[str, list]:
    """The publish rule (articles.models.published_q) as SQL on the articles table,
    compiled by the ORM, so the raw queries here never restate it."""
    query = Article.objects.published().query
    sql, params = query.where.as_sql(
        query.get_compiler(connection=connection), connection
    )
    return sql, list(params)


ARTICLES = Article._meta.db_table


# Backends -----------------------------------------------------------------------


class SQLiteBackend:
    @staticmethod
    def clause_match(clause: Clause) -> str:
        def phrase(words: Phrase) -> str:
            return '"' + " ".join(words).replace('"', '""') + '"'

        alternatives = [phrase(p) for p in clause]
        if len(alternatives) == 1:
            return alternatives[0]
        return "(" + " OR ".join(alternatives) + ")"

    def match(self, clauses: list[Clause], *, any_clause: bool = False) -> str:
        joiner = " OR " if any_clause else " AND "
        return joiner.join(self.clause_match(c) for c in clauses)

    def matched_clauses(self, clauses: list[Clause]) -> tuple[str, list]:
        """SQL counting the clauses each row matches (one MATCH per clause)."""
        t = FTS_TABLE
        sql = " + ".join(
            f"({t}.rowid IN (SELECT rowid FROM {t} WHERE {t} MATCH %s))"
            for _ in clauses
        )
        return f"({sql})", [self.clause_match(c) for c in clauses]

    def count(self, clauses: list[Clause], *, any_clause: bool = False) -> int:
        live, live_params = _live()
        match = self.match(clauses, any_clause=any_clause)
        with connection.cursor() as cursor:
            cursor.execute(
                # CROSS JOIN: SQLite keeps this order, full-text match first.
                f"SELECT count(*) FROM {FTS_TABLE} "
                f"CROSS JOIN {ARTICLES} ON {ARTICLES}.id = {FTS_TABLE}.rowid "
                f"WHERE {FTS_TABLE} MATCH %s AND {live}",
                [match, *live_params],
            )
            return cursor.fetchone()[0]

    def page(
        self,
        clauses: list[Clause],
        limit: int,
        offset: int,
        *,
        any_clause: bool = False,
    ) -> list[tuple]:
        live, live_params = _live()
        a = ARTICLES
        match = self.match(clauses, any_clause=any_clause)
        t = FTS_TABLE
        # With any clause allowed, articles sharing more of the query's clauses
        # come first; relevance orders those sharing as many.
        matched, matched_params = "", []
        if any_clause:
            matched, matched_params = self.matched_clauses(clauses)
            matched += " DESC, "
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {t}.rowid, highlight({t}, 0, %s, %s), "
                f"highlight({t}, 1, %s, %s), snippet({t}, 2, %s, %s, '', 30) "
                f"FROM {t} CROSS JOIN {a} ON {a}.id = {t}.rowid "
                f"WHERE {t} MATCH %s AND {live} "
                f"ORDER BY {matched}bm25({t}, 10.0, 4.0, 1.0), "
                f"{a}.published_at DESC, {a}.id DESC "
                "LIMIT %s OFFSET %s",
                [START, STOP] * 3
                + [match, *live_params, *matched_params, limit, offset],
            )
            return cursor.fetchall()

    def write(self, rows: list[tuple], *, fresh: bool = False) -> None:
        with connection.cursor() as cursor:
            if not fresh:
                cursor.executemany(
                    f"DELETE FROM {FTS_TABLE} WHERE rowid = %s",
                    [(r[0],) for r in rows],
                )
            cursor.executemany(
                f"INSERT INTO {FTS_TABLE} (rowid, title, summary, body) "
                "VALUES (%s, %s, %s, %s)",
                rows,
            )

    def remove(self, article_ids: list[int]) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"DELETE FROM {FTS_TABLE} WHERE rowid = %s",
                [(pk,) for pk in article_ids],
            )

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE}")

    def indexed_count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {FTS_TABLE}")
            return cursor.fetchone()[0]


class PostgreSQLBackend:
    @staticmethod
    def clause_query(clause: Clause) -> tuple[str, list]:
        alternatives = [f"phraseto_tsquery('{CONFIG}', %s)" for _ in clause]
        return "(" + " || ".join(alternatives) + ")", [" ".join(p) for p in clause]

    def tsquery(
        self, clauses: list[Clause], *, any_clause: bool = False
    ) -> tuple[str, list]:
        sql, params = [], []
        for clause in clauses:
            clause_sql, clause_params = self.clause_query(clause)
            sql.append(clause_sql)
            params.extend(clause_params)
        joiner = " || " if any_clause else " && "
        return "(" + joiner.join(sql) + ")", params

    def matched_clauses(self, clauses: list[Clause]) -> tuple[str, list]:
        """SQL counting the clauses each row's document matches."""
        sql, params = [], []
        for clause in clauses:
            clause_sql, clause_params = self.clause_query(clause)
            sql.append(f"(s.document @@ {clause_sql})::int")
            params.extend(clause_params)
        return "(" + " + ".join(sql) + ")", params

    def count(self, clauses: list[Clause], *, any_clause: bool = False) -> int:
        live, live_params = _live()
        query, params = self.tsquery(clauses, any_clause=any_clause)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {PG_TABLE} s "
                f"JOIN {ARTICLES} ON {ARTICLES}.id = s.article_id "
                f"WHERE s.document @@ {query} AND {live}",
                [*params, *live_params],
            )
            return cursor.fetchone()[0]

    def page(
        self,
        clauses: list[Clause],
        limit: int,
        offset: int,
        *,
        any_clause: bool = False,
    ) -> list[tuple]:
        live, live_params = _live()
        a = ARTICLES
        query, params = self.tsquery(clauses, any_clause=any_clause)
        # With any clause allowed, articles sharing more of the query's clauses
        # come first; relevance orders those sharing as many.
        matched, matched_params = (
            self.matched_clauses(clauses) if any_clause else ("0", [])
        )
        whole = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
        fragments = (
            f"StartSel={START}, StopSel={STOP}, MaxFragments=2, MaxWords=30, "
            'MinWords=12, FragmentDelimiter=" … "'
        )
        # Ranks every match but writes headlines (the costly part) for one page.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.article_id, "
                f"ts_headline('{CONFIG}', s.title, {query}, %s), "
                f"ts_headline('{CONFIG}', s.summary, {query}, %s), "
                f"ts_headline('{CONFIG}', s.body, {query}, %s) "
                "FROM ("
                f"  SELECT s.article_id, {matched} AS matched, "
                f"   ts_rank(s.document, {query}) AS rank, {a}.published_at "
                f"  FROM {PG_TABLE} s JOIN {a} ON {a}.id = s.article_id "
                f"  WHERE s.document @@ {query} AND {live} "
                f"  ORDER BY matched DESC, rank DESC, {a}.published_at DESC, "
                "   s.article_id DESC "
                "  LIMIT %s OFFSET %s"
                f") top JOIN {PG_TABLE} s ON s.article_id = top.article_id "
                "ORDER BY top.matched DESC, top.rank DESC, top.published_at DESC, "
                "top.article_id DESC",
                [
                    *params,
                    whole,
                    *params,
                    whole,
                    *params,
                    fragments,
                    *matched_params,
                    *params,
                    *params,
                    *live_params,
                    limit,
                    offset,
                ],
            )
            return cursor.fetchall()

    def write(self, rows: list[tuple], *, fresh: bool = False) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {PG_TABLE} (article_id, title, summary, body) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (article_id) DO UPDATE SET "
                "title = EXCLUDED.title, summary = EXCLUDED.summary, "
                "body = EXCLUDED.body",
                rows,
            )

    def remove(self, article_ids: list[int]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {PG_TABLE} WHERE article_id = ANY(%s)",
                [list(article_ids)],
            )

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {PG_TABLE}")

    def indexed_count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {PG_TABLE}")
            return cursor.fetchone()[0]


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
    """

    def __init__(self, clauses: list[Clause]) -> None:
        self.clauses = clauses
        self.backend = backend()
        self._count: int | None = None
        self.closest = False

    def count(self) -> int:
        if self._count is None:
            self._count = self.backend.count(self.clauses)
            if self._count == 0 and len(self.clauses) > 1:
                self._count = self.backend.count(self.clauses, any_clause=True)
                self.closest = self._count > 0
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[SearchHit]:
        start, stop = window.start or 0, window.stop
        if self._count == 0 or stop is None or stop <= start:
            return []
        rows = self.backend.page(
            self.clauses, stop - start, start, any_clause=self.closest
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

    @property
    def total(self) -> int:
        return self.page.paginator.count if self.page else 0


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
        query=query, clauses=clauses, page=page_obj, closest=hits.closest
    )
