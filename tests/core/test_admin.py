"""Admin pages no one app owns: the background tasks' results."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from newsletter.tasks import send_test_issue
from tests.factories import make_issue, make_staff

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_tasks_database_dbtaskresult_changelist"


@pytest.fixture
def task_result(database_tasks) -> DBTaskResult:
    result = send_test_issue.enqueue(make_issue().pk, "someone@example.com")
    return DBTaskResult.objects.get(pk=result.id)


def staff_with_every_permission():
    user = make_staff(username="assistant")
    user.is_superuser = False
    user.save()
    user.user_permissions.set(Permission.objects.all())
    return user


def test_staff_with_every_model_permission_cannot_see_task_results(client, task_result):
    user = staff_with_every_permission()
    for codename in ["view", "change", "delete"]:
        assert user.has_perm(f"django_tasks_database.{codename}_dbtaskresult")
    client.force_login(user)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert reverse(CHANGELIST) not in index.text
    assert client.get(reverse(CHANGELIST)).status_code == 403
    change = reverse(
        "admin:django_tasks_database_dbtaskresult_change", args=[task_result.pk]
    )
    assert client.get(change).status_code == 403
    app_index = reverse("admin:app_list", args=["django_tasks_database"])
    assert client.get(app_index).status_code == 404


def test_superusers_see_and_open_task_results(staff_client, task_result):
    index = staff_client.get(reverse("admin:index"))
    assert reverse(CHANGELIST) in index.text
    listing = staff_client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    assert str(task_result.pk) in listing.text
    change = reverse(
        "admin:django_tasks_database_dbtaskresult_change", args=[task_result.pk]
    )
    assert staff_client.get(change).status_code == 200
