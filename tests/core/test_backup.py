"""`manage.py backup` and `manage.py restore` (core/backup/), on the database the
tests run on: SQLite through its backup API, PostgreSQL through pg_dump/pg_restore.

Transactional tests: the data must be committed for the SQLite backup connection
and for pg_dump to see it.
"""

import io
import json
import shutil
import sqlite3
import stat
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from articles import services
from articles.models import Article, ImageRendition
from core.backup.archive import (
    DATABASE_FILES,
    FORMAT_VERSION,
    BackupError,
    sha256_of,
)
from core.backup.media import list_media
from core.backup.postgres import postgres_command
from core.models import PageVersion
from newsletter.models import Subscriber
from tests.factories import (
    image_upload,
    make_article,
    make_listed_subscriber,
    make_staff,
    make_subscriber,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_tools():
    if connection.vendor == "postgresql":
        missing = [p for p in ("pg_dump", "pg_restore") if shutil.which(p) is None]
        if missing:
            pytest.skip(
                f"{' and '.join(missing)} not installed (Debian: apt-get install "
                "postgresql-client): the PostgreSQL backup cannot be tested"
            )


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }


def media_contents() -> dict[str, bytes]:
    contents = {}
    for name in list_media(default_storage):
        with default_storage.open(name, "rb") as f:
            contents[name] = f.read()
    return contents


def site_with_content() -> dict:
    """Articles (one with a cover and its renditions), subscribers, a staff user."""
    make_staff()
    article = make_article(title="Vitamin C serums", body="<p>Keep them dark.</p>")
    article.cover_image = image_upload("cover.png", size=(600, 300))
    article.cover_image_alt = "A dark bottle"
    services.save_article(article=article)
    make_article(title="Sunscreen every day")
    make_subscriber(email="pending@example.com")
    make_listed_subscriber(email="reader@example.com")
    default_storage.save("notes/readme.txt", ContentFile(b"not an image\n"))
    return {"article": Article.objects.get(pk=article.pk)}


def archive_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}


def write_archive(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_restore_brings_back_every_row_and_media_file_after_changes(tmp_path):
    content = site_with_content()
    article = content["article"]
    counts = row_counts()
    media = media_contents()
    cover = article.cover_image.name
    assert cover in media and ImageRendition.objects.filter(source=cover).exists()
    assert len(media) >= 3  # The cover, its renditions and the text file.
    archive = tmp_path / "site.tar.gz"

    output = run("backup", output=str(archive))

    assert f"to {archive}" in output
    assert f"{len(media)} media file(s)" in output
    # Change, delete and add data and media after the backup.
    Article.objects.filter(pk=article.pk).update(title="Changed title")
    Subscriber.objects.filter(email="reader@example.com").delete()
    make_article(title="Written after the backup")
    make_subscriber(email="late@example.com")
    default_storage.delete(cover)
    default_storage.delete("notes/readme.txt")
    default_storage.save("notes/readme.txt", ContentFile(b"overwritten\n"))
    default_storage.save("notes/later.txt", ContentFile(b"uploaded later\n"))

    output = run("restore", str(archive), yes=True)

    assert "Restore complete." in output
    assert "1 file(s) not in the backup left in place" in output
    assert row_counts() == counts
    restored = Article.objects.get(pk=article.pk)
    assert restored.title == "Vitamin C serums"
    assert restored.body == "<p>Keep them dark.</p>"
    assert restored.cover_image.name == cover
    assert not Article.objects.filter(title="Written after the backup").exists()
    assert set(Subscriber.objects.values_list("email", "status")) == {
        ("pending@example.com", Subscriber.Status.PENDING),
        ("reader@example.com", Subscriber.Status.CONFIRMED),
    }
    after = media_contents()
    assert {name: after[name] for name in media} == media
    assert after["notes/later.txt"] == b"uploaded later\n"


def test_after_a_restore_no_page_cached_after_the_backup_is_served(tmp_path):
    article = make_article(title="Before the backup")
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))
    visitor = Client()
    publish_later = make_article(title="After the backup")
    assert "After the backup" in visitor.get("/articles/").text  # Now cached.
    used = PageVersion.objects.get().version

    run("restore", str(archive), yes=True)

    assert PageVersion.objects.get().version > used
    text = visitor.get("/articles/").text
    assert "Before the backup" in text and "After the backup" not in text
    assert visitor.get(publish_later.get_absolute_url()).status_code == 404
    assert visitor.get(article.get_absolute_url()).status_code == 200


def test_restoring_twice_rewrites_no_identical_media(tmp_path):
    site_with_content()
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))
    default_storage.delete("notes/readme.txt")
    counts = row_counts()

    first = run("restore", str(archive), yes=True)
    second = run("restore", str(archive), yes=True)

    assert "Wrote 1 media file(s)" in first
    assert "Wrote 0 media file(s)" in second
    assert row_counts() == counts
    assert default_storage.exists("notes/readme.txt")


def test_restore_refuses_a_database_with_data_without_yes(tmp_path):
    site_with_content()
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))
    Article.objects.update(title="Changed title")
    default_storage.delete("notes/readme.txt")

    with pytest.raises(CommandError, match=r"holds data \(.*\).*--yes"):
        run("restore", str(archive))

    assert set(Article.objects.values_list("title", flat=True)) == {"Changed title"}
    assert not default_storage.exists("notes/readme.txt")


def test_dry_run_says_what_it_would_do_and_changes_nothing(tmp_path):
    site_with_content()
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))
    Article.objects.update(title="Changed title")
    default_storage.delete("notes/readme.txt")

    output = run("restore", str(archive), dry_run=True)

    assert "every checksum matches" in output
    assert "Would replace the database, which holds data" in output
    assert "the real run needs --yes" in output
    assert "Would write 1 media file(s)" in output
    assert "Dry run: nothing changed." in output
    assert set(Article.objects.values_list("title", flat=True)) == {"Changed title"}
    assert not default_storage.exists("notes/readme.txt")


def test_an_empty_database_is_restored_without_yes(tmp_path):
    make_article(title="Kept")
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))
    call_command("flush", interactive=False, verbosity=0)

    output = run("restore", str(archive))

    assert "Restore complete." in output
    assert list(Article.objects.values_list("title", flat=True)) == ["Kept"]


def test_the_archive_holds_a_manifest_with_checksums_and_is_private(tmp_path):
    site_with_content()
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))

    members = archive_members(archive)
    manifest = json.loads(members["manifest.json"])

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert manifest["vendor"] == connection.vendor
    assert manifest["created_at"]
    assert "0001_initial" in manifest["migrations"]["articles"]
    assert next(iter(members)) == manifest["database"]["name"]
    assert list(members)[-1] == "manifest.json"
    listed = {item["name"]: item for item in manifest["media"]}
    assert set(listed) == set(media_contents())
    readme = listed["notes/readme.txt"]
    assert readme["size"] == len(b"not an image\n")
    assert members["media/notes/readme.txt"] == b"not an image\n"
    assert readme["sha256"] == sha256_of(io.BytesIO(b"not an image\n"))


def test_backup_refuses_to_overwrite_an_archive(tmp_path):
    archive = tmp_path / "site.tar.gz"
    archive.write_bytes(b"keep me")

    with pytest.raises(CommandError, match="exists already"):
        run("backup", output=str(archive))

    assert archive.read_bytes() == b"keep me"


def test_backup_into_a_folder_names_the_archive_by_date(tmp_path):
    output = run("backup", output=str(tmp_path))

    archives = list(tmp_path.glob("backup-*.tar.gz"))
    assert len(archives) == 1
    assert str(archives[0]) in output
    assert not list(tmp_path.glob("*.partial"))


def test_a_damaged_archive_is_refused_before_anything_changes(tmp_path):
    site_with_content()
    archive = tmp_path / "site.tar.gz"
    run("backup", output=str(archive))
    members = archive_members(archive)
    members["media/notes/readme.txt"] = b"tampered\n"
    write_archive(archive, members)
    Article.objects.update(title="Changed title")

    with pytest.raises(CommandError, match="does not match its checksum"):
        run("restore", str(archive), yes=True)

    assert set(Article.objects.values_list("title", flat=True)) == {"Changed title"}


def test_a_backup_of_another_database_vendor_is_refused(tmp_path):
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    dump = b"a database of the other kind"
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": "2026-01-01T00:00:00+00:00",
        "vendor": other,
        "django_version": "5.2",
        "database": {
            "name": DATABASE_FILES[other],
            "size": len(dump),
            "sha256": sha256_of(io.BytesIO(dump)),
        },
        "migrations": {},
        "media": [],
    }
    archive = tmp_path / "other.tar.gz"
    write_archive(
        archive,
        {
            DATABASE_FILES[other]: dump,
            "manifest.json": json.dumps(manifest).encode(),
        },
    )

    with pytest.raises(
        CommandError,
        match=f"holds a {other} database but the configured database is "
        f"{connection.vendor}",
    ):
        run("restore", str(archive), yes=True, dry_run=True)


def test_a_file_that_is_not_a_backup_is_refused(tmp_path):
    archive = tmp_path / "notes.tar.gz"
    write_archive(archive, {"notes.txt": b"hello"})

    with pytest.raises(CommandError, match=r"has no manifest\.json"):
        run("restore", str(archive))
    with pytest.raises(CommandError, match="There is no file"):
        run("restore", str(tmp_path / "missing.tar.gz"))


# PostgreSQL's tools: found on PATH, pointed at the configured database.


def test_a_missing_postgres_tool_is_named_with_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "")

    with pytest.raises(BackupError, match=r"pg_dump is not installed.*apt-get"):
        postgres_command(connection, "pg_dump")


def test_postgres_tools_get_the_connection_settings_through_the_environment():
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    settings_dict = {
        "NAME": "shop",
        "HOST": "db.internal",
        "PORT": 6543,
        "USER": "site",
        "PASSWORD": "s3cret",
        "OPTIONS": {"sslmode": "require"},
    }

    path, env = postgres_command(
        SimpleNamespace(settings_dict=settings_dict), "pg_dump"
    )

    assert Path(path).name == "pg_dump"
    assert env["PGHOST"] == "db.internal"
    assert env["PGPORT"] == "6543"
    assert env["PGUSER"] == "site"
    assert env["PGPASSWORD"] == "s3cret"
    assert env["PGSSLMODE"] == "require"


# SQLite: the online backup works beside a writer.


def test_sqlite_backup_runs_beside_an_open_write_transaction(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's online backup")
    make_article(title="Committed")
    writer = sqlite3.connect(connection.settings_dict["NAME"])
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(f"UPDATE {Article._meta.db_table} SET title = 'Not committed'")
    archive = tmp_path / "site.tar.gz"
    try:
        run("backup", output=str(archive))
    finally:
        writer.rollback()
        writer.close()
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(archive_members(archive)["database.sqlite3"])

    with sqlite3.connect(copy) as restored:
        titles = restored.execute(f"SELECT title FROM {Article._meta.db_table}")
        assert titles.fetchall() == [("Committed",)]
