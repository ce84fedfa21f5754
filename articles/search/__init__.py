"""Full-text search of live articles: one interface, one backend per database.

PostgreSQL: the table articles_search_index holds each article's plain text and a
stored, weighted tsvector (title A, summary B, body C; 'english' config, so words
are stemmed) with a GIN index. SQLite: the FTS5 table articles_search_fts (porter
tokenizer, so stemmed too), ranked by bm25 with column weights 10/4/1. Both tables
are made by migration 0003 on their own database only; 0006 adds PostgreSQL's
title-and-summary vector (`head`, GIN-indexed too).

The backend is chosen per query by the database in use (engine.backend).

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
