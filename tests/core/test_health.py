"""The health endpoint /health/ (core/health.py): database, cache, storage and a
background worker, for load balancers and monitoring."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import OperationalError, connections
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.tasks import worker_heartbeat
from newsletter.tasks import send_confirmation_email
from tests.newsletter.test_worker import start_worker, worker_env

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = (
    "Database(alias='default'): OK\n"
    "Cache(alias='default'): OK\n"
    "Storage(alias='default'): OK\n"
    "Worker(): OK\n"
)

pytestmark = pytest.mark.django_db


def failing_lines(response) -> list[str]:
    return [line for line in response.content.decode().splitlines() if "OK" not in line]


def test_all_checks_pass_with_200_never_cached(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.content.decode() == HEALTHY
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]


def test_json_names_each_check(client):
    response = client.get("/health/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == {
        "Database(alias='default')": "OK",
        "Cache(alias='default')": "OK",
        "Storage(alias='default')": "OK",
        "Worker()": "OK",
    }


def test_storage_check_leaves_no_file_behind(client, media_root):
    client.get("/health/")

    assert not [p for p in Path(media_root).rglob("*") if p.is_file()]


def test_many_probes_in_a_row_are_never_rate_limited(client):
    statuses = {
        client.get("/health/", REMOTE_ADDR="10.0.0.2").status_code for _ in range(20)
    }

    assert statuses == {200}


def test_database_down_fails_naming_it_without_connection_details(client):
    refused = OperationalError(
        'connection to server at "10.1.2.3", port 5432 failed: FATAL:  password '
        'authentication failed for user "skincare"'
    )
    # A fresh connection cannot be made (the check opens one of its own).
    with mock.patch.object(
        type(connections["default"]), "get_new_connection", side_effect=refused
    ):
        response = client.get("/health/")

    assert response.status_code == 500
    assert failing_lines(response) == [
        "Database(alias='default'): Unavailable: the database does not answer"
    ]
    body = response.content.decode()
    assert "10.1.2.3" not in body and "skincare" not in body
    assert "no-store" in response["Cache-Control"]


def test_cache_failing_fails_naming_it(client):
    with mock.patch.object(
        LocMemCache, "set", side_effect=ConnectionError("redis at 10.0.0.9 refused")
    ):
        response = client.get("/health/", HTTP_ACCEPT="application/json")

    assert response.status_code == 500
    failing = {k: v for k, v in response.json().items() if v != "OK"}
    assert failing == {"Cache(alias='default')": "Unexpected Result: Connection Error"}


def test_storage_failing_fails_naming_it(client, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocker / "media"

    response = client.get("/health/")

    assert response.status_code == 500
    assert failing_lines(response) == [
        "Storage(alias='default'): Unavailable: cannot save, read and delete a file"
    ]
    assert str(tmp_path) not in response.content.decode()


def test_health_is_not_redirected_to_https_for_plain_http_probes(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SECRET_KEY="health-test-secret-key",
        DJANGO_DEFAULT_FROM_EMAIL="news@example.com",
        DJANGO_ALLOWED_HOSTS="skincare.example",
        DJANGO_HTTPS="1",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
    )
    code = (
        "from django.test import Client; c = Client(HTTP_HOST='skincare.example'); "
        "print(c.get('/health/').status_code, c.get('/').status_code)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    health, home = result.stdout.split()
    assert health != "301"
    assert home == "301"


# The worker: a heartbeat task the check queues, and tasks waiting too long.


def queued(task, *, waited: timedelta, **fields) -> DBTaskResult:
    result = task.enqueue() if task is worker_heartbeat else task.enqueue(1)
    DBTaskResult.objects.filter(pk=result.id).update(
        enqueued_at=timezone.now() - waited, **fields
    )
    return DBTaskResult.objects.get(pk=result.id)


def heartbeats() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=worker_heartbeat.module_path))


def test_without_a_heartbeat_the_check_queues_one_at_top_priority(
    client, database_tasks
):
    response = client.get("/health/")

    assert response.status_code == 200
    [heartbeat] = heartbeats()
    assert heartbeat.status == TaskResultStatus.READY
    assert heartbeat.priority == 100

    client.get("/health/")  # One waiting already: no second.
    assert len(heartbeats()) == 1


def test_a_recent_heartbeat_is_enough_and_costs_two_queries(
    client, database_tasks, django_assert_num_queries
):
    queued(
        worker_heartbeat,
        waited=timedelta(seconds=40),
        status=TaskResultStatus.SUCCESSFUL,
        finished_at=timezone.now() - timedelta(seconds=30),
    )

    with django_assert_num_queries(2):
        response = client.get("/health/")

    assert response.status_code == 200
    assert len(heartbeats()) == 1


def test_an_old_heartbeat_gets_a_new_one_queued(client, database_tasks):
    queued(
        worker_heartbeat,
        waited=timedelta(minutes=3),
        status=TaskResultStatus.SUCCESSFUL,
        finished_at=timezone.now() - timedelta(minutes=2),
    )

    response = client.get("/health/")

    assert response.status_code == 200
    assert sorted(h.status for h in heartbeats()) == [
        TaskResultStatus.READY,
        TaskResultStatus.SUCCESSFUL,
    ]


def test_a_stopped_worker_fails_the_check_once_a_task_waits_too_long(
    client, database_tasks
):
    queued(worker_heartbeat, waited=timedelta(minutes=11))

    response = client.get("/health/")

    assert response.status_code == 500
    assert failing_lines(response) == [
        "Worker(): Unavailable: 1 task(s) waiting for more than 10 minutes: is "
        "manage.py db_worker running?"
    ]


def test_real_work_waiting_too_long_fails_the_check(client, database_tasks):
    queued(send_confirmation_email, waited=timedelta(minutes=11))
    queued(send_confirmation_email, waited=timedelta(minutes=12))

    response = client.get("/health/", HTTP_ACCEPT="application/json")

    assert response.status_code == 500
    assert response.json()["Worker()"].startswith("Unavailable: 2 task(s) waiting")


def test_tasks_waiting_less_than_the_limit_or_not_yet_due_pass(
    client, database_tasks, settings
):
    settings.WORKER_MAX_WAIT = timedelta(minutes=30)
    queued(send_confirmation_email, waited=timedelta(minutes=29))
    # Queued long ago for a time still to come (the weekly reminders).
    queued(
        send_confirmation_email,
        waited=timedelta(days=6),
        run_after=timezone.now() + timedelta(days=1),
    )
    # Due 31 minutes ago: that one is late.
    late = queued(
        send_confirmation_email,
        waited=timedelta(days=6),
        run_after=timezone.now() - timedelta(minutes=31),
    )

    assert client.get("/health/").status_code == 500
    late.delete()
    assert client.get("/health/").status_code == 200


def test_a_heartbeat_left_running_by_a_dead_worker_fails_the_check(
    client, database_tasks
):
    queued(
        worker_heartbeat,
        waited=timedelta(minutes=12),
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=11),
    )

    response = client.get("/health/")

    assert response.status_code == 500
    assert failing_lines(response) == [
        "Worker(): Unavailable: the worker running the last heartbeat stopped "
        "before finishing it"
    ]


def get_health(client):
    """GET /health/ from a thread of its own: the health view is async, and after
    the browser tests Playwright's event loop is running in the main thread,
    where Django cannot run an async view from a sync request."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(client.get, "/health/").result()


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_heartbeat_and_keeps_only_the_newest(client, database_tasks):
    queued(
        worker_heartbeat,
        waited=timedelta(minutes=5),
        status=TaskResultStatus.SUCCESSFUL,
        finished_at=timezone.now() - timedelta(minutes=4),
    )
    get_health(client)  # Queues a new heartbeat.

    worker = start_worker(worker_env(port=25))
    assert worker.wait(timeout=60) == 0, worker.stderr.read().decode()

    [heartbeat] = heartbeats()
    assert heartbeat.status == TaskResultStatus.SUCCESSFUL
    assert heartbeat.finished_at > timezone.now() - timedelta(minutes=1)
    assert get_health(client).status_code == 200
    assert len(heartbeats()) == 1  # Just run: no new one yet.


def test_with_tasks_run_in_the_web_process_there_is_no_worker_to_watch(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert not DBTaskResult.objects.exists()


def test_the_web_servers_check_leaves_out_the_worker(client, database_tasks):
    queued(worker_heartbeat, waited=timedelta(minutes=11))

    assert client.get("/health/").status_code == 500
    response = client.get("/health/web/")

    assert response.status_code == 200
    assert response.content.decode() == HEALTHY.replace("Worker(): OK\n", "")
