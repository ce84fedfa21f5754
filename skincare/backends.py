"""The database, media storage and caches the site runs on, worked out from the
environment, for settings.py: the embedded defaults (SQLite, local disk, memory)
unless a variable names the at-scale backend (PostgreSQL, an S3-compatible bucket,
Redis). docs/operations.md lists the variables."""

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

POOLERS = ("", "pgbouncer")


def database(
    *,
    url: str,
    sqlite_path: str,
    conn_max_age: int,
    test_path: str | None,
    pooler: str = "",
) -> dict:
    """DATABASE_URL's database, or the SQLite file at sqlite_path. `pooler`
    "pgbouncer": the URL is a PgBouncer in transaction mode (see _behind_pooler)."""
    if pooler not in POOLERS:
        raise ImproperlyConfigured(
            f"DATABASE_POOLER must be empty or 'pgbouncer', not {pooler!r}."
        )
    if url:
        db = dj_database_url.parse(
            url, conn_max_age=conn_max_age, conn_health_checks=True
        )
        return _behind_pooler(db) if pooler else db
    if pooler:
        raise ImproperlyConfigured("DATABASE_POOLER needs a PostgreSQL DATABASE_URL.")
    # WAL lets readers run beside the one writer, the busy timeout waits for that
    # writer instead of failing, and IMMEDIATE transactions take the write lock up
    # front so two writers never deadlock on a lock upgrade.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": sqlite_path,
        # A file, not memory, so tests can run a real worker process beside them.
        "TEST": {
            "NAME": test_path
            or str(Path(tempfile.gettempdir()) / f"skincare-test-{os.getpid()}.db")
        },
        # Kept open like PostgreSQL's: opening one (and setting WAL on it) costs
        # more than serving a cached page.
        "CONN_MAX_AGE": conn_max_age,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
            ),
        },
    }


def _behind_pooler(db: dict) -> dict:
    """What PgBouncer's transaction mode needs: each transaction (each statement,
    in autocommit) may run on another server connection, so nothing may outlive
    one. Server-side cursors (QuerySet.iterator() outside a transaction declares a
    cursor WITH HOLD, then fetches from it in later statements) are off; prepared
    statements stay off (psycopg's prepare_threshold None, Django's default, made
    explicit so OPTIONS cannot turn them on). The site takes no session advisory
    lock, sets nothing per session but the time zone (which PgBouncer keeps per
    client) and never LISTENs; its locks are row locks inside transactions."""
    return {
        **db,
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {**db.get("OPTIONS", {}), "prepare_threshold": None},
    }


def replicas(*, urls: list[str], conn_max_age: int) -> dict[str, dict]:
    """DATABASE_REPLICA_URL's read replicas by alias ("replica", "replica_2", ...).
    Under test they mirror the test database: the suite never makes one."""
    return {
        "replica" if number == 1 else f"replica_{number}": {
            **dj_database_url.parse(
                url, conn_max_age=conn_max_age, conn_health_checks=True
            ),
            "TEST": {"MIRROR": "default"},
        }
        for number, url in enumerate(urls, start=1)
    }


def media_storage(kind: str, environ: Mapping[str, str]) -> dict:
    """Uploaded media on local disk ("local") or in an S3-compatible bucket
    ("s3", configured by the AWS_* variables)."""
    if kind == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(
            f"MEDIA_STORAGE must be 'local' or 's3', not {kind!r}."
        )
    if not environ.get("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    return {
        "BACKEND": "core.s3.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": environ["AWS_STORAGE_BUCKET_NAME"],
            "endpoint_url": environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": environ.get("AWS_S3_REGION_NAME") or None,
            "custom_domain": environ.get("AWS_S3_CUSTOM_DOMAIN") or None,
            "addressing_style": environ.get("AWS_S3_ADDRESSING_STYLE") or None,
            "location": environ.get("AWS_LOCATION", "").strip("/"),
            # None: objects get the bucket's own rules (ACLs are off on new buckets).
            "default_acl": environ.get("AWS_DEFAULT_ACL") or None,
            "querystring_auth": False,
            # Never replace a file under a name pages already link to.
            "file_overwrite": False,
        },
    }


def caches(*, redis_url: str, key_prefix: str) -> dict:
    """Shared caches in Redis when redis_url is set (every process and machine
    sees the same rate limits and pages); otherwise each process keeps its own."""
    if redis_url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": key_prefix,
            },
            "pages": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": f"{key_prefix}pages",
            },
        }
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "pages": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "pages",
            "OPTIONS": {"MAX_ENTRIES": 2000},
        },
    }
