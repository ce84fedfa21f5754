"""Workers announce themselves; the tasks of dead ones go back in the queue
(core/workers.py, core/management/commands/db_worker.py)."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import SystemCheckError
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands import db_worker as library_db_worker
from django_tasks_db.models import DBTaskResult

from core import checks, workers
from core.models import WorkerHeartbeat
from core.tasks import worker_heartbeat

pytestmark = pytest.mark.django_db

DEAD_AFTER = 60
LONG_AGO = timedelta(seconds=DEAD_AFTER + 5)


@pytest.fixture(autouse=True)
def worker_settings(settings, database_tasks):
    settings.WORKER_DEAD_AFTER_SECONDS = DEAD_AFTER
    settings.WORKER_HEARTBEAT_SECONDS = 10
    settings.WORKER_RECOVERY = []


def running(*worker_ids: str, started: timedelta = LONG_AGO) -> DBTaskResult:
    """A task taken by these workers in turn, the last one started `started` ago."""
    result = worker_heartbeat.enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING,
        worker_ids=list(worker_ids),
        started_at=timezone.now() - started,
    )
    return DBTaskResult.objects.get(pk=result.id)


def heard_from(worker_id: str, *, ago: timedelta = timedelta(0)) -> None:
    workers.announce(worker_id=worker_id)
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(
        beat_at=timezone.now() - ago
    )


# The library's parts this relies on -------------------------------------------------


def test_db_worker_is_cores_command_extending_the_librarys():
    assert get_commands()["db_worker"] == "core"
    command = load_command_class("core", "db_worker")
    assert isinstance(command, library_db_worker.Command)


def test_library_records_the_taking_worker_last_in_worker_ids():
    """What tells whose task it is: DBTaskResult.claim(), as the library's worker
    calls it, appends the worker's id and sets the start."""
    task = running("first")
    task.claim("second")

    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING
    assert task.worker_ids == ["first", "second"]
    assert task.started_at > timezone.now() - timedelta(seconds=5)


def test_library_worker_options_give_each_process_a_worker_id():
    parser = load_command_class("core", "db_worker").create_parser("manage.py", "x")
    options = vars(parser.parse_args([]))
    assert len(options["worker_id"]) == 32
    assert {"reload", "batch"} <= set(options)
    assert vars(parser.parse_args(["--worker-id", "w1"]))["worker_id"] == "w1"


def test_a_task_put_back_is_ready_again_for_the_librarys_worker():
    task = running("dead")

    workers.reclaim_abandoned_tasks()

    assert DBTaskResult.objects.ready().get() == task


# Putting back the tasks of dead workers ---------------------------------------------


def test_task_of_a_worker_never_heard_from_is_put_back_keeping_its_history():
    task = running("gone")

    reclaimed = workers.reclaim_abandoned_tasks()

    assert reclaimed.requeued == [f"{task.task_path} ({task.id})"]
    fresh = DBTaskResult.objects.get(pk=task.pk)
    assert fresh.status == TaskResultStatus.READY
    assert fresh.worker_ids == ["gone"]
    assert fresh.started_at == task.started_at


def test_task_of_a_worker_silent_too_long_is_put_back_and_its_row_removed():
    heard_from("silent", ago=LONG_AGO)
    heard_from("alive")
    task = running("silent")

    workers.reclaim_abandoned_tasks()

    assert DBTaskResult.objects.get(pk=task.pk).status == TaskResultStatus.READY
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == [
        "alive"
    ]


def test_long_task_of_a_live_worker_is_left_running():
    heard_from("alive", ago=timedelta(seconds=DEAD_AFTER - 5))
    task = running("alive", started=timedelta(hours=3))

    assert workers.reclaim_abandoned_tasks().requeued == []
    assert DBTaskResult.objects.get(pk=task.pk).status == TaskResultStatus.RUNNING


def test_task_started_within_the_grace_is_left_running_whoever_took_it():
    task = running("unknown", started=timedelta(seconds=DEAD_AFTER - 5))

    workers.reclaim_abandoned_tasks()

    assert DBTaskResult.objects.get(pk=task.pk).status == TaskResultStatus.RUNNING


def test_task_taken_by_a_live_worker_after_a_dead_one_is_left_running():
    heard_from("alive")
    task = running("dead", "alive")

    workers.reclaim_abandoned_tasks()

    assert DBTaskResult.objects.get(pk=task.pk).status == TaskResultStatus.RUNNING


def test_task_whose_workers_kept_dying_is_failed_not_put_back_again():
    task = running("w1", "w2", "w3")

    reclaimed = workers.reclaim_abandoned_tasks()

    assert reclaimed.failed == [f"{task.task_path} ({task.id})"]
    fresh = DBTaskResult.objects.get(pk=task.pk)
    assert fresh.status == TaskResultStatus.FAILED
    assert fresh.finished_at is not None
    assert fresh.exception_class_path == "core.workers.WorkerDied"
    assert "(w1, w2, w3) stopped without finishing it 3 times" in fresh.traceback


def test_tasks_not_running_are_never_touched():
    finished = running("gone")
    DBTaskResult.objects.filter(pk=finished.pk).update(
        status=TaskResultStatus.SUCCESSFUL
    )
    waiting = worker_heartbeat.enqueue()

    assert workers.reclaim_abandoned_tasks() == workers.Reclaimed()
    assert DBTaskResult.objects.get(pk=finished.pk).status == "SUCCESSFUL"
    assert DBTaskResult.objects.get(pk=waiting.id).status == "READY"


def test_a_task_taken_again_meanwhile_is_not_put_back(monkeypatch):
    """Compare and set: between the read and the write, a live worker took the
    task that was put back (or was never gone): its new start wins."""
    task = running("gone")
    real_filter = WorkerHeartbeat.objects.filter

    def taken_meanwhile(*args, **kwargs):
        if kwargs.keys() == {"beat_at__gte"}:  # Just before the write.
            DBTaskResult.objects.get(pk=task.pk).claim("alive")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(WorkerHeartbeat.objects, "filter", taken_meanwhile)
    reclaimed = workers.reclaim_abandoned_tasks()

    assert reclaimed.requeued == []
    fresh = DBTaskResult.objects.get(pk=task.pk)
    assert fresh.status == TaskResultStatus.RUNNING
    assert fresh.worker_ids == ["gone", "alive"]


# The worker's row ---------------------------------------------------------------------


def test_a_beat_writes_the_row_again_if_it_was_removed_meanwhile():
    workers.announce(worker_id="w1")
    WorkerHeartbeat.objects.all().delete()

    workers.beat(worker_id="w1")

    assert WorkerHeartbeat.objects.get().worker_id == "w1"


def test_retiring_removes_the_row():
    workers.announce(worker_id="w1")
    workers.retire(worker_id="w1")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_heart_beats_and_recovers_from_its_own_thread(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    workers.announce(worker_id="w1")
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(seconds=30))
    task = running("gone")
    calls = []
    heart = workers.Heart(worker_id="w1", recovery=[lambda: calls.append(1) or 0])

    heart.start()
    deadline = time.monotonic() + 10
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    heart.stop()

    assert not heart.is_alive()
    assert len(calls) >= 2
    assert WorkerHeartbeat.objects.get().beat_at > timezone.now() - timedelta(seconds=5)
    assert DBTaskResult.objects.get(pk=task.pk).status == TaskResultStatus.READY


@pytest.mark.django_db(transaction=True)
def test_heart_keeps_beating_after_a_recovery_function_fails(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    calls = []

    def broken() -> int:
        calls.append(1)
        raise RuntimeError("a bug in one app's recovery")

    heart = workers.Heart(worker_id="w1", recovery=[broken])
    heart.start()
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    heart.stop()

    assert len(calls) >= 3
    assert WorkerHeartbeat.objects.filter(worker_id="w1").exists()


# The command ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_worker_puts_back_a_dead_workers_task_at_start_runs_it_and_leaves(settings):
    settings.WORKER_RECOVERY = ["tests.core.test_workers.count_recovery"]
    RECOVERIES.clear()
    task = running("dead")

    call_command(
        "db_worker", batch=True, startup_delay=False, reload=False, worker_id="w2"
    )

    fresh = DBTaskResult.objects.get(pk=task.pk)
    assert fresh.status == TaskResultStatus.SUCCESSFUL
    assert fresh.worker_ids == ["dead", "w2"]
    assert RECOVERIES == [1]
    # Stopped cleanly: its row is gone.
    assert not WorkerHeartbeat.objects.exists()


RECOVERIES: list[int] = []


def count_recovery() -> int:
    RECOVERIES.append(1)
    return 0


def test_worker_refuses_to_start_with_a_recovery_function_that_does_not_exist(
    settings,
):
    settings.WORKER_RECOVERY = ["newsletter.recovery.no_such_function"]
    with pytest.raises(SystemCheckError, match=r"core\.E011"):
        call_command(
            "db_worker",
            batch=True,
            startup_delay=False,
            reload=False,
            skip_checks=False,
        )


@pytest.mark.parametrize("beat, dead", [(0, 60), (40, 60), (-1, 60)])
def test_a_heartbeat_too_slow_to_tell_dead_from_slow_is_refused(settings, beat, dead):
    settings.WORKER_HEARTBEAT_SECONDS = beat
    settings.WORKER_DEAD_AFTER_SECONDS = dead
    [error] = checks.check_worker()
    assert error.id == "core.E010"


def test_the_default_heartbeat_settings_pass_the_check(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 10
    settings.WORKER_DEAD_AFTER_SECONDS = 60
    settings.WORKER_RECOVERY = ["newsletter.recovery.resume_sends"]
    assert checks.check_worker() == []


@pytest.mark.django_db(transaction=True)
def test_worker_stopped_inside_a_transaction_still_removes_its_row(monkeypatch):
    """SIGTERM or Ctrl-C ends the library's worker with SystemExit wherever it is:
    here just after its database began a transaction Django had not yet noted."""

    def stopped_mid_begin(worker) -> None:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
        raise SystemExit(0)

    monkeypatch.setattr(library_db_worker.Worker, "run", stopped_mid_begin)

    with pytest.raises(SystemExit):
        call_command("db_worker", startup_delay=False, reload=False, worker_id="w1")

    assert not WorkerHeartbeat.objects.exists()
