"""The subscriber admin's indexes, for a million subscribers
(newsletter/admin/subscribers.py and subscriber_search.py).

Both databases: the list's default order (newest first, then the id the admin
adds), the dates it sorts by, and the welcome deliveries' lists' order.

PostgreSQL only (SQLite, at a tenth of the size, reads the table to search):
- pg_trgm (a trusted extension since PostgreSQL 13: the database's owner may
  create it) and a GIN index on lower(email) for part of an address ("@yahoo"),
  the only kind of LIKE '%...%' an index can serve;
- lower(email) and lower(first_name) with text_pattern_ops, for an address's or a
  first name's start: the unique lower(email) index serves LIKE 'ada@%' only
  under the C collation, these under any.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

POSTGRESQL_INDEXES = {
    "subscriber_email_trgm_idx": "USING GIN (lower(email) gin_trgm_ops)",
    "subscriber_email_prefix_idx": "(lower(email) text_pattern_ops)",
    "subscriber_first_name_prefix_idx": "(lower(first_name) text_pattern_ops)",
}


def add_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in POSTGRESQL_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON newsletter_subscriber {definition}"
        )


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in POSTGRESQL_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0015_source_health"),
        ("newsletter", "0013_delivery_leaner_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="subscriber",
            index=models.Index(
                fields=["created_at", "id"], name="subscriber_created_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="subscriber",
            index=models.Index(fields=["consent_at", "id"], name="subscriber_consent_at_idx"),
        ),
        migrations.AddIndex(
            model_name="subscriber",
            index=models.Index(
                fields=["confirmed_at", "id"], name="subscriber_confirmed_at_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="welcomedelivery",
            index=models.Index(fields=["claimed_at", "id"], name="welcome_claimed_idx"),
        ),
        migrations.AddIndex(
            model_name="welcomestepdelivery",
            index=models.Index(
                fields=["claimed_at", "id"], name="welcome_step_claimed_idx"
            ),
        ),
        # Does nothing on SQLite (CreateExtension checks the vendor itself).
        TrigramExtension(),
        migrations.RunPython(add_search_indexes, drop_search_indexes, elidable=False),
    ]
