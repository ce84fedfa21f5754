"""PostgreSQL: the title and summary of each article as their own weighted tsvector
(title A, summary B) with a GIN index, beside the whole document's.

Search lists the newest articles with every word in their title or summary
first (articles/search.py): this index finds them, or, for a word in most
articles, this small vector is checked row by row, newest first, until enough
match. SQLite needs nothing: FTS5 column filters ({title summary}: ...) do the
same on its existing table.

PostgreSQL also keeps each row's vectors in the row itself (toast_tuple_target):
finding the newest matches checks row after row, and a document moved out to the
TOAST table (they do not compress, so the default 2 kB target moved most) costs a
second lookup each. Set before the column is added, whose table rewrite brings
existing rows in.
"""

from django.db import migrations

POSTGRESQL_ADD = """
ALTER TABLE articles_search_index ADD COLUMN head tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', summary), 'B')
) STORED
"""
POSTGRESQL_INDEX = (
    "CREATE INDEX articles_search_index_head ON articles_search_index "
    "USING GIN (head)"
)


def add_head(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE articles_search_index SET (toast_tuple_target = 8160)"
        )
        schema_editor.execute(POSTGRESQL_ADD)
        schema_editor.execute(POSTGRESQL_INDEX)


def drop_head(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS articles_search_index_head")
        schema_editor.execute(
            "ALTER TABLE articles_search_index DROP COLUMN IF EXISTS head"
        )
        schema_editor.execute(
            "ALTER TABLE articles_search_index RESET (toast_tuple_target)"
        )


class Migration(migrations.Migration):
    dependencies = [("articles", "0006_prepared_pages_related")]

    operations = [migrations.RunPython(add_head, drop_head, elidable=False)]
