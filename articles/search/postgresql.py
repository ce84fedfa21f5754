"""PostgreSQL's search backend: the table articles_search_index, a weighted
tsvector ('english' config) with GIN indexes, and the title-and-summary `head`."""

from django.db import connection

from articles.search import common
from articles.search.common import (
    ARTICLES,
    CONFIG,
    PG_TABLE,
    START,
    STOP,
    Candidates,
    Clause,
    Window,
    live_condition,
)


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

    def matching_ids(self, clauses: list[Clause], limit: int) -> tuple[str, list]:
        """SQL for the ids of the newest `limit` articles of any status matching
        every clause: a rare word from the GIN index, a word in most articles by
        walking the ids backwards until enough match (as newest() does)."""
        query, params = self.tsquery(clauses)
        return (
            f"SELECT article_id FROM {PG_TABLE} WHERE document @@ {query} "
            "ORDER BY article_id DESC LIMIT %s",
            [*params, limit],
        )

    def candidates(
        self, clauses: list[Clause], *, any_clause: bool = False
    ) -> Candidates:
        live, live_params = live_condition()
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
                    common.MAX_RESULTS + 1,
                    *params,
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
