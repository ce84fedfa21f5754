"""The retention framework (core/retention.py): the steps of RETENTION_STEPS run
in order, `manage.py apply_retention` and its dry run, the system check, the
daily task, and core's own step (finished task results)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as site_settings
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core import checks, retention
from core.tasks import apply_retention, worker_heartbeat

pytestmark = pytest.mark.django_db

CALLS: list[tuple[str, bool]] = []


def three_rows(*, dry_run: bool) -> int:
    CALLS.append(("three_rows", dry_run))
    return 3


def no_rows(*, dry_run: bool) -> int:
    CALLS.append(("no_rows", dry_run))
    return 0


def broken(*, dry_run: bool) -> int:
    CALLS.append(("broken", dry_run))
    raise RuntimeError("the disk is on fire")


NOT_CALLABLE = 42
HERE = "tests.core.test_retention"
# The site's steps, before a test replaces them.
SITE_STEPS = list(site_settings.RETENTION_STEPS)


@pytest.fixture(autouse=True)
def test_steps(settings):
    CALLS.clear()
    settings.RETENTION_STEPS = [f"{HERE}.three_rows", f"{HERE}.no_rows"]


def waiting_runs():
    return DBTaskResult.objects.filter(
        task_path=apply_retention.module_path, status=TaskResultStatus.READY
    )


def test_every_step_runs_in_order_with_its_count():
    results = retention.apply(dry_run=True)
    assert [(r.path, r.rows, r.error) for r in results] == [
        (f"{HERE}.three_rows", 3, ""),
        (f"{HERE}.no_rows", 0, ""),
    ]
    assert CALLS == [("three_rows", True), ("no_rows", True)]


def test_a_failing_step_does_not_stop_the_others(settings):
    settings.RETENTION_STEPS = [f"{HERE}.broken", f"{HERE}.three_rows"]
    results = retention.apply(dry_run=False)
    assert [c[0] for c in CALLS] == ["broken", "three_rows"]
    assert "the disk is on fire" in results[0].error
    assert results[1].rows == 3
    with pytest.raises(retention.RetentionFailed, match="broken"):
        retention.raise_for_failures(results)


def test_the_command_prints_one_line_per_step_and_queues_the_daily_run(
    database_tasks,
):
    out = StringIO()
    call_command("apply_retention", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"{HERE}.three_rows: removed 3 row(s)")
    assert lines[1].startswith(f"{HERE}.no_rows: removed 0 row(s)")
    assert lines[2].startswith("Queued the daily run (")
    [waiting] = waiting_runs()
    assert waiting.run_after > timezone.now() + timedelta(hours=23)


def test_the_command_run_twice_queues_one_daily_run(database_tasks):
    call_command("apply_retention", stdout=StringIO())
    out = StringIO()
    call_command("apply_retention", stdout=out)
    assert "The daily run was queued already" in out.getvalue()
    assert waiting_runs().count() == 1


def test_the_dry_run_says_what_would_go_and_queues_nothing(database_tasks):
    out = StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"{HERE}.three_rows: would remove 3 row(s)" in text
    assert "Dry run: nothing deleted or queued." in text
    assert CALLS == [("three_rows", True), ("no_rows", True)]
    assert not waiting_runs().exists()


def test_the_command_fails_naming_a_failed_step_after_running_the_rest(
    settings, database_tasks
):
    settings.RETENTION_STEPS = [f"{HERE}.broken", f"{HERE}.three_rows"]
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="broken"):
        call_command("apply_retention", stdout=out, stderr=err)
    assert "the disk is on fire" in err.getvalue()
    assert f"{HERE}.three_rows: removed 3 row(s)" in out.getvalue()


def test_the_daily_task_runs_the_steps_and_queues_itself_once(database_tasks):
    apply_retention.call()
    apply_retention.call()
    assert CALLS == [("three_rows", False), ("no_rows", False)] * 2
    [waiting] = waiting_runs()
    assert waiting.run_after > timezone.now() + timedelta(hours=23)


def test_the_daily_task_queues_the_next_run_even_when_a_step_fails(
    settings, database_tasks
):
    settings.RETENTION_STEPS = [f"{HERE}.broken"]
    with pytest.raises(retention.RetentionFailed):
        apply_retention.call()
    assert waiting_runs().count() == 1


@pytest.mark.parametrize(
    "path",
    ["core.retention.no_such_step", "no_such_module.step", f"{HERE}.NOT_CALLABLE"],
)
def test_the_system_check_refuses_a_step_that_cannot_run(settings, path):
    settings.RETENTION_STEPS = [f"{HERE}.three_rows", path]
    [error] = checks.check_retention()
    assert error.id == "core.E012"
    with pytest.raises(SystemCheckError, match=r"core\.E012"):
        call_command(
            "apply_retention", "--dry-run", stdout=StringIO(), skip_checks=False
        )


def test_the_sites_own_steps_pass_the_check_and_run(settings):
    settings.RETENTION_STEPS = SITE_STEPS
    assert "core.retention.forget_finished_tasks" in SITE_STEPS
    assert checks.check_retention() == []
    results = retention.apply(dry_run=False)
    assert [(r.path, r.rows, r.error) for r in results] == [
        (path, 0, "") for path in SITE_STEPS
    ]


# Core's step: finished task results ---------------------------------------------------


def finished(status: str, *, age: timedelta) -> DBTaskResult:
    result = worker_heartbeat.enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=status, finished_at=timezone.now() - age
    )
    return DBTaskResult.objects.get(pk=result.id)


def test_results_of_tasks_finished_long_ago_go_and_the_rest_stay(
    settings, database_tasks
):
    settings.TASK_RESULTS_KEEP_DAYS = 30
    old_success = finished(TaskResultStatus.SUCCESSFUL, age=timedelta(days=31))
    old_failure = finished(TaskResultStatus.FAILED, age=timedelta(days=31))
    recent = finished(TaskResultStatus.SUCCESSFUL, age=timedelta(days=29))
    waiting = worker_heartbeat.enqueue()
    assert retention.forget_finished_tasks(dry_run=True) == 2
    assert DBTaskResult.objects.count() == 4
    assert retention.forget_finished_tasks(dry_run=False) == 2
    assert {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)} == {
        str(recent.pk),
        str(waiting.id),
    }
    assert not DBTaskResult.objects.filter(pk__in=[old_success.pk, old_failure.pk])
    assert retention.forget_finished_tasks(dry_run=False) == 0
