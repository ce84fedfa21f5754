"""SQLite's search backend: the FTS5 table articles_search_fts (porter tokenizer),
ranked by bm25 with column weights 10/4/1."""

from django.db import connection

from articles.search import common
from articles.search.common import (
    ARTICLES,
    FTS_TABLE,
    START,
    STOP,
    Candidates,
    Clause,
    Phrase,
    Window,
    live_condition,
)


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

    def matching_ids(self, clauses: list[Clause], limit: int) -> tuple[str, list]:
        """SQL for the ids of the newest `limit` articles of any status matching
        every clause, read from the FTS5 index in rowid order."""
        t = FTS_TABLE
        return (
            f"SELECT rowid FROM {t} WHERE {t} MATCH %s ORDER BY rowid DESC LIMIT %s",
            [self.match(clauses), limit],
        )

    def candidates(
        self, clauses: list[Clause], *, any_clause: bool = False
    ) -> Candidates:
        live, live_params = live_condition()
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
                    common.MAX_RESULTS + 1,
                    self.head_match(match),
                    *live_params,
                    common.HEAD_CANDIDATES,
                    common.MAX_RESULTS,
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
        live, live_params = live_condition()
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
