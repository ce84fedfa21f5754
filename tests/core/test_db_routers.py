"""Read replicas (core/db_routers.py): an anonymous GET of a public page reads a
replica that has reached the page version; the admin, POSTs, workers, the page
version itself and anything after a write read the primary.

The replica here is a second connection to the test database (a mirror, as
DATABASE_REPLICA_URL's aliases are under test), so each test commits its data
(transaction=True) for that connection to see it."""

import copy

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import OperationalError, load_backend
from django.test import Client
from django.test.utils import CaptureQueriesContext

from articles.models import Article
from core import db_routers, pagecache
from core.db_routers import ReplicaRouter
from skincare import backends
from tests.factories import make_article, make_role_user

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def replica(transactional_db, settings):
    """A "replica" connection to the test database (made here rather than in
    settings.DATABASES, which the test's database set-up allows no other alias
    of), and the router and middleware on."""
    mirror = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    mirror["TEST"] = {**mirror.get("TEST", {}), "MIRROR": DEFAULT_DB_ALIAS}
    connections[REPLICA] = load_backend(mirror["ENGINE"]).DatabaseWrapper(
        mirror, REPLICA
    )
    settings.DATABASE_REPLICAS = [REPLICA]
    settings.DATABASE_ROUTERS = ["core.db_routers.ReplicaRouter"]
    yield REPLICA
    connections[REPLICA].close()
    del connections[REPLICA]


def run_on_each(callable_) -> tuple[object, list[str], list[str]]:
    """What callable_ returns, and the SQL it ran on the primary and the replica."""
    with (
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as replica,
    ):
        result = callable_()
    return (
        result,
        [q["sql"] for q in primary.captured_queries],
        [q["sql"] for q in replica.captured_queries],
    )


def reads_article(sql: list[str]) -> bool:
    return any(Article._meta.db_table in query for query in sql)


def test_an_anonymous_article_page_reads_the_replica_and_the_version_the_primary(
    replica,
):
    article = make_article(title="Replica-read sunscreen")
    response, primary, on_replica = run_on_each(
        lambda: Client().get(article.get_absolute_url())
    )
    assert response.status_code == 200
    assert b"Replica-read sunscreen" in response.content
    assert reads_article(on_replica)
    assert not reads_article(primary)
    # The page version, which says whether a cached page is current: primary only.
    assert pagecache.VERSION_SQL in primary


def test_a_replica_behind_the_page_version_is_passed_over(replica, monkeypatch):
    article = make_article(title="Just published")
    behind = pagecache.current().version - 1
    monkeypatch.setattr(db_routers, "_replica_version", lambda alias: behind)
    response, primary, on_replica = run_on_each(
        lambda: Client().get(article.get_absolute_url())
    )
    assert response.status_code == 200
    assert b"Just published" in response.content
    assert reads_article(primary)
    assert not reads_article(on_replica)


def test_staff_in_the_admin_read_the_primary(replica):
    make_article()
    editor = make_role_user("Editor", username="replica-editor")
    client = Client()
    client.force_login(editor)
    response, primary, on_replica = run_on_each(
        lambda: client.get("/admin/articles/article/")
    )
    assert response.status_code in (200, 302)
    assert primary
    assert on_replica == []


def test_a_signed_in_visitor_on_a_public_page_reads_the_primary(replica):
    article = make_article()
    client = Client()
    client.force_login(make_role_user("Editor", username="replica-reader"))
    response, primary, on_replica = run_on_each(
        lambda: client.get(article.get_absolute_url())
    )
    assert response.status_code == 200
    assert reads_article(primary)
    assert on_replica == []


def test_a_post_reads_and_writes_the_primary(replica):
    response, primary, on_replica = run_on_each(
        lambda: Client().post(
            "/newsletter/", {"email": "new@example.com", "consent": "on"}
        )
    )
    assert response.status_code < 500
    assert primary
    assert on_replica == []


def test_workers_tasks_and_commands_outside_a_request_use_the_primary(replica):
    assert ReplicaRouter().db_for_read(Article) == DEFAULT_DB_ALIAS
    assert ReplicaRouter().db_for_write(Article) == DEFAULT_DB_ALIAS


def test_after_a_write_or_inside_a_transaction_reads_go_to_the_primary(replica):
    article = make_article()
    request = Client().get(article.get_absolute_url()).wsgi_request
    request.page_stamp = pagecache.current()
    router = ReplicaRouter()

    token = db_routers._reads.set(db_routers.ReplicaReads(request))
    try:
        with transaction.atomic():
            assert router.db_for_read(Article) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Article) == REPLICA
        router.db_for_write(Article)
        assert router.db_for_read(Article) == DEFAULT_DB_ALIAS
    finally:
        db_routers._reads.reset(token)


def test_a_replica_that_cannot_be_reached_is_passed_over(replica, monkeypatch):
    article = make_article()
    request = Client().get(article.get_absolute_url()).wsgi_request
    request.page_stamp = pagecache.current()

    def unreachable(alias):
        raise OperationalError("connection refused")

    monkeypatch.setattr(db_routers, "_replica_version", unreachable)
    token = db_routers._reads.set(db_routers.ReplicaReads(request))
    try:
        assert ReplicaRouter().db_for_read(Article) == DEFAULT_DB_ALIAS
    finally:
        db_routers._reads.reset(token)


def test_replicas_are_never_migrated(replica):
    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA, "articles") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "articles") is None


def test_replica_urls_become_aliases_mirroring_the_test_database():
    found = backends.replicas(
        urls=["postgres://u@r1:5432/site", "postgres://u@r2:5432/site"],
        conn_max_age=60,
    )
    assert list(found) == ["replica", "replica_2"]
    assert found["replica_2"]["HOST"] == "r2"
    assert found["replica"]["TEST"] == {"MIRROR": "default"}
    assert found["replica"]["CONN_HEALTH_CHECKS"] is True
