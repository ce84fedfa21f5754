"""Full-text search of live articles: one interface, one backend per database.

PostgreSQL: the table articles_search_index holds each article's plain text and a
stored, weighted tsvector (title A, summary B, body C; 'english' config, so words
are stemmed) with a GIN index. SQLite: the FTS5 table articles_search_fts (porter
tokenizer, so stemmed too), ranked by bm25 with column weights 10/4/1. Both tables
are made by migration 0003 on their own database only; 0006 adds PostgreSQL's
title-and-summary vector (`head`, GIN-indexed too).

Ranking every match made a word found in most articles slower than a plain scan,
so a query ranks candidates only (Candidates): the newest HEAD_CANDIDATES live
articles with every word in their title or summary, listed first, then the rest
of the newest MAX_RESULTS live matches; each group by relevance. Both sets come
straight off the indexes in id order, newest first, stopping at the cap. Up to
MAX_RESULTS matches this ranks them all (the title-or-summary group first); past
it the count reads "1,000+" and the first MAX_RESULTS are listed.

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
# Most matches a query counts, ranks and lists (the newest); past it "1,000+".
MAX_RESULTS = 1000
# Most matches with every word in the title or summary listed ahead of the rest.
HEAD_CANDIDATES = 200
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


@dataclass(frozen=True)
class Candidates:
    """The live matches a query ranks: the newest MAX_RESULTS (`lowest` is the
    smallest of their article ids) and the newest HEAD_CANDIDATES with every
    word in their title or summary (`head_lowest`). Ids (creation order) stand
    in for age: both indexes read them newest first and stop at the cap."""

    count: int  # live matches, counted up to MAX_RESULTS + 1
    lowest: int | None
    head_count: int
    head_lowest: int | None


@dataclass(frozen=True)
class Window:
    """Which groups (title-or-summary, rest) one page needs, and its offset in
    them: a page inside one group ranks that group only."""

    head: bool
    rest: bool
    offset: int

    @classmethod
    def of(
        cls, found: Candidates, limit: int, offset: int, *, any_clause: bool
    ) -> "Window":
        # Shared clauses order the closest matches before the groups do: both.
        if any_clause:
            return cls(head=found.head_count > 0, rest=True, offset=offset)
        if offset + limit <= found.head_count:
            return cls(head=True, rest=False, offset=offset)
        if offset >= found.head_count:
            return cls(head=False, rest=True, offset=offset - found.head_count)
        return cls(head=True, rest=True, offset=offset)


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

    @staticmethod
    def head_match(match: str) -> str:
        return "{title summary} : (" + match + ")"

    @staticmethod
    def newest(live: str) -> str:
        """Live rows matching, newest first: FTS5 reads its index in rowid
        order and stops at the limit (CROSS JOIN keeps it the outer loop)."""
        t, a = FTS_TABLE, ARTICLES
        return (
            f"SELECT {t}.rowid AS id FROM {t} CROSS JOIN {a} ON {a}.id = {t}.rowid "
            f"WHERE {t} MATCH %s AND {live} ORDER BY {t}.rowid DESC LIMIT %s"
        )

    @staticmethod
    def matching() -> str:
        """Rowids matching from a rowid on: one pass of the index. The unary +
        where it is used keeps SQLite from handing FTS5 the IN list as rowid
        lookups, which would run the full-text query once per rowid."""
        t = FTS_TABLE
        return f"(SELECT rowid FROM {t} WHERE {t} MATCH %s AND rowid >= %s)"

    def candidates(
        self, clauses: list[Clause], *, any_clause: bool = False
    ) -> Candidates:
        live, live_params = _live()
        match = self.match(clauses, any_clause=any_clause)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH w AS ({self.newest(live)}), h AS ({self.newest(live)}) "
                "SELECT (SELECT count(*) FROM w), "
                "(SELECT min(id) FROM (SELECT id FROM w ORDER BY id DESC LIMIT %s)), "
                "(SELECT count(*) FROM h), (SELECT min(id) FROM h)",
                [
                    match,
                    *live_params,
                    MAX_RESULTS + 1,
                    self.head_match(match),
                    *live_params,
                    HEAD_CANDIDATES,
                    MAX_RESULTS,
                ],
            )
            return Candidates(*cursor.fetchone())

    def page(
        self,
        clauses: list[Clause],
        found: Candidates,
        limit: int,
        offset: int,
        *,
        any_clause: bool = False,
    ) -> list[tuple]:
        live, live_params = _live()
        t, a = FTS_TABLE, ARTICLES
        match = self.match(clauses, any_clause=any_clause)
        head = self.head_match(match)
        window = Window.of(found, limit, offset, any_clause=any_clause)
        # With any clause allowed, articles sharing more of the query's clauses
        # come first: counted over the candidates' rowid range only.
        matched, matched_params = "0", []
        if any_clause:
            since = min(x for x in (found.lowest, found.head_lowest) if x is not None)
            matched = " + ".join(f"(+{t}.rowid IN {self.matching()})" for _ in clauses)
            for clause in clauses:
                matched_params += [self.clause_match(clause), since]
        arms, params = [], []

        def arm(tier: int, since: int, condition: str, condition_params: list) -> None:
            arms.append(
                f"SELECT {t}.rowid AS id, {tier} AS tier, {matched} AS matched, "
                f"bm25({t}, 10.0, 4.0, 1.0) AS score, {a}.published_at AS published "
                f"FROM {t} CROSS JOIN {a} ON {a}.id = {t}.rowid "
                f"WHERE {t} MATCH %s AND {t}.rowid >= %s AND {live}{condition}"
            )
            params.extend(
                [*matched_params, match, since, *live_params, *condition_params]
            )

        in_head = f"+{t}.rowid IN {self.matching()}"
        if window.head:
            arm(0, found.head_lowest, f" AND {in_head}", [head, found.head_lowest])
        if window.rest:
            if found.head_count:
                arm(1, found.lowest, f" AND NOT {in_head}", [head, found.head_lowest])
            else:
                arm(1, found.lowest, "", [])
        order = "matched DESC, tier, score, published DESC, id DESC"
        with connection.cursor() as cursor:
            # Ranks the candidates, then highlights only the page's rows.
            cursor.execute(
                f"SELECT {t}.rowid, highlight({t}, 0, %s, %s), "
                f"highlight({t}, 1, %s, %s), snippet({t}, 2, %s, %s, '', 30) "
                f"FROM ({' UNION ALL '.join(arms)} ORDER BY {order} "
                "LIMIT %s OFFSET %s) top "
                f"CROSS JOIN {t} ON {t}.rowid = top.id WHERE {t} MATCH %s "
                f"ORDER BY top.{order.replace(', ', ', top.')}",
                [START, STOP] * 3 + params + [limit, window.offset, match],
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

    @staticmethod
    def newest(column: str, query: str, live: str) -> str:
        """Live rows matching, newest first; for a word in most articles the
        planner walks the primary key backwards and stops at the limit."""
        return (
            f"SELECT s.article_id AS id FROM {PG_TABLE} s "
            f"JOIN {ARTICLES} ON {ARTICLES}.id = s.article_id "
            f"WHERE s.{column} @@ {query} AND {live} "
            "ORDER BY s.article_id DESC LIMIT %s"
        )

    def candidates(
        self, clauses: list[Clause], *, any_clause: bool = False
    ) -> Candidates:
        live, live_params = _live()
        query, params = self.tsquery(clauses, any_clause=any_clause)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH w AS ({self.newest('document', query, live)}), "
                f"h AS ({self.newest('head', query, live)}) "
                "SELECT (SELECT count(*) FROM w), "
                "(SELECT min(id) FROM (SELECT id FROM w ORDER BY id DESC LIMIT %s) n), "
                "(SELECT count(*) FROM h), (SELECT min(id) FROM h)",
                [
                    *params,
                    *live_params,
                    MAX_RESULTS + 1,
                    *params,
                    *live_params,
                    HEAD_CANDIDATES,
                    MAX_RESULTS,
                ],
            )
            return Candidates(*cursor.fetchone())

    def page(
        self,
        clauses: list[Clause],
        found: Candidates,
        limit: int,
        offset: int,
        *,
        any_clause: bool = False,
    ) -> list[tuple]:
        live, live_params = _live()
        a = ARTICLES
        query, query_params = self.tsquery(clauses, any_clause=any_clause)
        window = Window.of(found, limit, offset, any_clause=any_clause)
        # With any clause allowed, articles sharing more of the query's clauses
        # come first; relevance orders those sharing as many.
        matched, matched_params = (
            self.matched_clauses(clauses) if any_clause else ("0", [])
        )
        arms, params = [], []

        def arm(tier: int, condition: str, condition_params: list) -> None:
            arms.append(
                f"SELECT s.article_id AS id, {tier} AS tier, {matched} AS matched, "
                f"ts_rank(s.document, {query}) AS score, {a}.published_at AS published "
                f"FROM {PG_TABLE} s JOIN {a} ON {a}.id = s.article_id "
                f"WHERE {condition} AND {live}"
            )
            params.extend(
                [*matched_params, *query_params, *condition_params, *live_params]
            )

        in_head = f"s.head @@ {query} AND s.article_id >= %s"
        if window.head:
            arm(0, in_head, [*query_params, found.head_lowest])
        if window.rest:
            rest = f"s.document @@ {query} AND s.article_id >= %s"
            rest_params = [*query_params, found.lowest]
            if found.head_count:
                rest += f" AND NOT ({in_head})"
                rest_params += [*query_params, found.head_lowest]
            arm(1, rest, rest_params)
        whole = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
        fragments = (
            f"StartSel={START}, StopSel={STOP}, MaxFragments=2, MaxWords=30, "
            'MinWords=12, FragmentDelimiter=" … "'
        )
        order = "matched DESC, tier, score DESC, published DESC, id DESC"
        # Ranks the candidates but writes headlines (the costly part) for one page.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.article_id, "
                f"ts_headline('{CONFIG}', s.title, {query}, %s), "
                f"ts_headline('{CONFIG}', s.summary, {query}, %s), "
                f"ts_headline('{CONFIG}', s.body, {query}, %s) "
                f"FROM ({' UNION ALL '.join(arms)} ORDER BY {order} "
                "LIMIT %s OFFSET %s) top "
                f"JOIN {PG_TABLE} s ON s.article_id = top.id "
                f"ORDER BY top.{order.replace(', ', ', top.')}",
                [
                    *query_params,
                    whole,
                    *query_params,
                    whole,
                    *query_params,
                    fragments,
                    *params,
                    limit,
                    window.offset,
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

    Only candidates are ranked and listed (module docstring); the closest
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
        return min(self.found.count, MAX_RESULTS)

    @property
    def more(self) -> bool:
        self.count()
        return self.found.count > MAX_RESULTS

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
