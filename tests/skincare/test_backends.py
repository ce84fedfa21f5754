"""skincare/backends.py: the embedded defaults, and the at-scale backend each
variable names."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from skincare import backends


def test_without_a_url_the_database_is_sqlite_in_wal_with_immediate_writes():
    db = backends.database(
        url="", sqlite_path="/srv/site.db", conn_max_age=60, test_path="/tmp/t.db"
    )
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/srv/site.db"
    assert db["TEST"] == {"NAME": "/tmp/t.db"}
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert (db["CONN_MAX_AGE"], db["CONN_HEALTH_CHECKS"]) == (60, True)


def test_a_database_url_names_postgresql_with_persistent_checked_connections():
    db = backends.database(
        url="postgres://u@db:5432/site", sqlite_path="x", conn_max_age=0, test_path=None
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["NAME"], db["CONN_MAX_AGE"]) == ("db", "site", 0)
    assert db["CONN_HEALTH_CHECKS"] is True


def test_media_on_local_disk_by_default_and_in_a_bucket_with_s3():
    assert backends.media_storage("local", {})["BACKEND"].endswith("FileSystemStorage")
    s3 = backends.media_storage(
        "s3", {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_LOCATION": "/site/"}
    )
    assert s3["BACKEND"] == "core.s3.MediaS3Storage"
    assert s3["OPTIONS"]["bucket_name"] == "media"
    assert s3["OPTIONS"]["location"] == "site"
    assert s3["OPTIONS"]["querystring_auth"] is False


@pytest.mark.parametrize(
    ("kind", "environ", "message"),
    [
        ("ftp", {}, "MEDIA_STORAGE must be 'local' or 's3', not 'ftp'."),
        ("s3", {}, "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME."),
    ],
)
def test_a_media_storage_that_cannot_work_stops_the_site_with_its_reason(
    kind, environ, message
):
    with pytest.raises(ImproperlyConfigured, match=message):
        backends.media_storage(kind, environ)


def test_redis_shares_both_caches_under_the_site_prefix():
    caches = backends.caches(redis_url="redis://cache:6379/0", key_prefix="site")
    assert {c["LOCATION"] for c in caches.values()} == {"redis://cache:6379/0"}
    assert caches["default"]["KEY_PREFIX"] == "site"
    assert caches["pages"]["KEY_PREFIX"] == "sitepages"


def test_without_redis_each_process_keeps_its_own_caches():
    caches = backends.caches(redis_url="", key_prefix="")
    assert {c["BACKEND"] for c in caches.values()} == {
        "django.core.cache.backends.locmem.LocMemCache"
    }


def test_behind_pgbouncer_server_side_cursors_and_prepared_statements_are_off():
    db = backends.database(
        url="postgres://u@pooler:6432/site",
        sqlite_path="x",
        conn_max_age=60,
        test_path=None,
        pooler="pgbouncer",
    )
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert db["OPTIONS"]["prepare_threshold"] is None
    direct = backends.database(
        url="postgres://u@db:5432/site",
        sqlite_path="x",
        conn_max_age=60,
        test_path=None,
    )
    assert direct["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_a_pooler_needs_postgresql_and_a_known_name():
    with pytest.raises(ImproperlyConfigured):
        backends.database(
            url="", sqlite_path="x", conn_max_age=60, test_path=None, pooler="pgbouncer"
        )
    with pytest.raises(ImproperlyConfigured):
        backends.database(
            url="postgres://u@db/site",
            sqlite_path="x",
            conn_max_age=60,
            test_path=None,
            pooler="pgpool",
        )
