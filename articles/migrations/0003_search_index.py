"""Full-text search index, different on each database (see articles/search.py).

PostgreSQL: a table of plain text with a stored, weighted tsvector and a GIN index.
SQLite: an FTS5 virtual table with the porter (stemming) tokenizer. Neither is a
Django model; there is no foreign key, so deleting or flushing articles never trips
over it (a deleted article's row is removed by articles.search, and search joins
articles anyway). Then a data migration for the first search synonym.
"""

from django.db import migrations

POSTGRESQL_CREATE = """
CREATE TABLE articles_search_index (
    article_id integer PRIMARY KEY,
    title text NOT NULL,
    summary text NOT NULL,
    body text NOT NULL,
    document tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', summary), 'B')
        || setweight(to_tsvector('english', body), 'C')
    ) STORED
)
"""
POSTGRESQL_INDEX = (
    "CREATE INDEX articles_search_index_document ON articles_search_index "
    "USING GIN (document)"
)
SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE articles_search_fts USING fts5("
    "title, summary, body, tokenize = 'porter unicode61 remove_diacritics 2')"
)


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_CREATE)
        schema_editor.execute(POSTGRESQL_INDEX)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TABLE IF EXISTS articles_search_index")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS articles_search_fts")


def add_synonyms(apps, schema_editor):
    SearchSynonym = apps.get_model("articles", "SearchSynonym")
    SearchSynonym.objects.get_or_create(
        term="keratosis pilaris", defaults={"synonyms": "chicken skin, KP"}
    )


def remove_synonyms(apps, schema_editor):
    SearchSynonym = apps.get_model("articles", "SearchSynonym")
    SearchSynonym.objects.filter(
        term="keratosis pilaris", synonyms="chicken skin, KP"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("articles", "0002_trust_search_renditions")]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
        migrations.RunPython(add_synonyms, remove_synonyms),
    ]
