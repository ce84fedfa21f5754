"""On SQLite, a request that meets a write lock held too long gets a clear "busy,
try again in a moment" (503 with Retry-After), never a 500 (core/busy.py)."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.test import RequestFactory
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from core.busy import DatabaseBusyMiddleware
from newsletter.models import Issue
from tests.factories import make_issue

# Written like a worker stopped in the middle of a write: the write lock is taken
# and never let go until the test closes its input.
HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
"""


@contextmanager
def write_lock_held_by_another_process() -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, connection.settings_dict["NAME"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        # Waits half a second for the lock instead of the site's 20 seconds.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 500")
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 20000")


sqlite_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite's one write lock (PostgreSQL locks rows)",
)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_staff_action_meeting_a_held_write_lock_is_told_to_try_again_not_a_500(
    staff_client, database_tasks
):
    issue = make_issue(status=Issue.Status.SENDING)
    resume = reverse("admin:newsletter_issue_resume", args=[issue.pk])

    with write_lock_held_by_another_process():
        response = staff_client.post(resume)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Busy, try again in a moment" in response.text
    assert "Go back (your browser keeps what you typed)" in response.text
    assert not DBTaskResult.objects.exists()
    # Sent again once the lock is gone, it does what it was asked.
    response = staff_client.post(resume)
    assert response.status_code == 302
    assert DBTaskResult.objects.get().args_kwargs["args"] == [issue.pk]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_admin_form_meeting_a_held_write_lock_saves_nothing_and_says_busy(
    staff_client,
):
    with write_lock_held_by_another_process():
        response = staff_client.post(
            reverse("admin:auth_user_add"),
            {
                "username": "new-editor",
                "usable_password": "true",
                "password1": "a-long-test-pass-42",
                "password2": "a-long-test-pass-42",
            },
        )

    assert response.status_code == 503
    assert "Busy, try again in a moment" in response.text
    assert not get_user_model().objects.filter(username="new-editor").exists()


def test_other_database_errors_are_not_called_busy():
    middleware = DatabaseBusyMiddleware(lambda request: None)
    request = RequestFactory().post("/admin/")

    assert (
        middleware.process_exception(request, OperationalError("no such table: x"))
        is None
    )
    assert middleware.process_exception(request, ValueError("is locked")) is None
