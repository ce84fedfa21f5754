"""What both search backends share: query words and clauses (stopwords, synonyms),
the indexed text, the publish rule as SQL, and which candidates a page ranks."""

import html
import re
import unicodedata
from dataclasses import dataclass

from django.db import connection

from articles.models import Article, SearchSynonym

PAGE_SIZE = 10
# Most matches a query counts, ranks and lists (the newest); past it "1,000+".
# The backends read the caps as common.MAX_RESULTS and common.HEAD_CANDIDATES, so
# one value (or a test's smaller one) reaches every module.
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


def live_condition() -> tuple[str, list]:
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
