import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            *args,
            *(["--no-imports"] if args[0] == "shell" else []),
        ],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_posture_refuses_to_start_without_a_secret_key():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_check_deploy_with_production_values_gives_no_warning():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="k" * 20 + "a-long-random-production-secret-9x8y7z6w5v",
        DJANGO_ALLOWED_HOSTS="skincare.example",
        DJANGO_HTTPS="1",
        DJANGO_DEFAULT_FROM_EMAIL="Skincare <news@skincare-mail.com>",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_debug_is_on_only_when_asked_for():
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)"
    )
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)",
        DJANGO_DEBUG="1",
    )
    assert result.stdout.strip() == "True ['localhost', '127.0.0.1', '[::1]']"


def test_production_static_files_are_compressed_and_hashed_by_whitenoise():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.STORAGES['staticfiles']['BACKEND'])",
        DJANGO_SECRET_KEY="x",
    )
    assert result.stdout.strip() == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite settings",
)
def test_sqlite_uses_wal_a_busy_timeout_and_immediate_transactions():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert "PRAGMA journal_mode=WAL" in options["init_command"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 5


def test_database_url_selects_postgresql():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
    )
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_postgresql_connections_persist_with_health_checks_as_long_as_asked():
    show = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    postgres = {"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u@db:5432/site"}
    assert run_manage("shell", "-c", show, **postgres).stdout.strip() == "60 True"
    result = run_manage("shell", "-c", show, DJANGO_CONN_MAX_AGE="0", **postgres)
    assert result.stdout.strip() == "0 True"


def test_redis_cache_keys_carry_the_site_prefix():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; c = settings.CACHES['default']; "
        "print(c['BACKEND'], c['LOCATION'], c['KEY_PREFIX'])",
        DJANGO_DEBUG="1",
        REDIS_URL="redis://cache:6379/0",
        DJANGO_CACHE_KEY_PREFIX="staging",
    )
    assert result.stdout.strip() == (
        "django.core.cache.backends.redis.RedisCache redis://cache:6379/0 staging"
    )
