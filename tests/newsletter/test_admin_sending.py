"""The issue admin's sending side: send now, schedule, cancel, progress, resume,
sending uncertain deliveries again, and a send no worker has started yet."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from newsletter.models import Delivery, Issue, counters
from tests.factories import (
    make_approved_issue,
    make_issue,
    make_listed_subscriber,
    make_user,
)
from tests.newsletter.test_admin import (
    S,
    make_sending_issue,
    messages_of,
    one_of_each_status,
)

pytestmark = pytest.mark.django_db


# Issues: sending ----------------------------------------------------------------------


def test_send_now_confirmation_shows_the_confirmed_count(staff_client):
    one_of_each_status()
    make_listed_subscriber(S.CONFIRMED)
    issue = make_approved_issue(subject="Winter skin")
    response = staff_client.get(reverse("admin:newsletter_issue_send", args=[issue.pk]))
    assert response.context["confirmed_count"] == 2
    text = response.text
    assert "Winter skin" in text
    assert 'data-confirmed-count="2"' in text
    assert "Yes, send it to 2 subscribers now" in text


def test_change_page_offers_send_buttons_only_for_drafts(staff_client):
    draft = make_issue()
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[draft.pk])
    ).text
    assert reverse("admin:newsletter_issue_send", args=[draft.pk]) in text
    assert reverse("admin:newsletter_issue_schedule", args=[draft.pk]) in text
    for status in [Issue.Status.SCHEDULED, Issue.Status.SENDING, Issue.Status.SENT]:
        issue = make_issue(status=status)
        text = staff_client.get(
            reverse("admin:newsletter_issue_change", args=[issue.pk])
        ).text
        assert reverse("admin:newsletter_issue_send", args=[issue.pk]) not in text
        assert reverse("admin:newsletter_issue_schedule", args=[issue.pk]) not in text
        cancel = reverse("admin:newsletter_issue_cancel_schedule", args=[issue.pk])
        assert (cancel in text) == (status == Issue.Status.SCHEDULED)


def test_send_now_sends_once_to_each_confirmed_subscriber_only(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    people = one_of_each_status()
    second = make_listed_subscriber(S.CONFIRMED, email="second@example.com")
    issue = make_approved_issue(subject="Winter skin")
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_send", args=[issue.pk])
        )
    assert response.status_code == 302
    assert "Sending to 2 confirmed subscriber(s) has started." in messages_of(response)
    confirmed = {people[S.CONFIRMED].pk, second.pk}
    deliveries = Delivery.objects.filter(issue=issue)
    assert set(deliveries.values_list("subscriber_id", flat=True)) == confirmed
    assert set(deliveries.values_list("status", flat=True)) == {"sent"}
    assert sorted(m.to[0] for m in mailoutbox) == [
        "confirmed@example.com",
        "second@example.com",
    ]
    assert all(m.subject == "Winter skin" for m in mailoutbox)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.recipient_count == 2


def test_a_second_send_is_refused_and_creates_nothing(
    staff_client, mailoutbox, django_capture_on_commit_callbacks
):
    make_listed_subscriber(S.CONFIRMED)
    issue = make_approved_issue()
    url = reverse("admin:newsletter_issue_send", args=[issue.pk])
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url)
    assert len(mailoutbox) == 1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(url)
    assert callbacks == []
    assert response.status_code == 302
    assert "cannot be sent again" in messages_of(response)[-1]
    assert len(mailoutbox) == 1
    assert Delivery.objects.count() == 1
    # The confirmation page is not offered again either.
    response = staff_client.get(url)
    assert response.status_code == 302


def test_a_race_lost_to_another_sender_is_refused(
    staff_client, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    """Both staff loaded the draft; the service's conditional update decides."""
    from newsletter.admin import issues as newsletter_admin

    make_listed_subscriber(S.CONFIRMED)
    issue = make_approved_issue()
    real = newsletter_admin.issue_services.schedule_send

    def other_staff_first(*, issue, user, at=None):
        Issue.objects.filter(pk=issue.pk).update(
            status=Issue.Status.SCHEDULED, scheduled_at=timezone.now()
        )
        return real(issue=issue, user=user, at=at)

    monkeypatch.setattr(
        newsletter_admin.issue_services, "schedule_send", other_staff_first
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_send", args=[issue.pk])
        )
    assert "already been scheduled or sent" in messages_of(response)[-1]
    assert mailoutbox == []
    assert not Delivery.objects.exists()


def test_send_now_with_no_confirmed_subscribers_is_refused(staff_client):
    make_listed_subscriber(S.PENDING)
    issue = make_approved_issue()
    url = reverse("admin:newsletter_issue_send", args=[issue.pk])
    assert "no confirmed subscribers" in staff_client.get(url).text
    response = staff_client.post(url)
    assert "nothing was sent" in messages_of(response)[-1]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_scheduling_in_the_future_stores_a_task_and_sends_nothing(
    staff_client, database_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    make_listed_subscriber(S.CONFIRMED)
    issue = make_approved_issue()
    at = timezone.localtime() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_schedule", args=[issue.pk]),
            {"send_at": at.strftime("%Y-%m-%dT%H:%M")},
        )
    assert response.status_code == 302, response.context["form"].errors
    assert messages_of(response)[-1].startswith("Scheduled for ")
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert abs(issue.scheduled_at - at) < timedelta(minutes=1)
    task = DBTaskResult.objects.get()
    assert task.task_path == "newsletter.tasks.start_issue_send"
    assert abs(task.run_after - at) < timedelta(minutes=1)
    assert mailoutbox == []
    assert not Delivery.objects.exists()
    # The change page now offers to cancel, and shows when it goes.
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    ).text
    assert "Cancel schedule" in text and "Scheduled for" in text


@pytest.mark.parametrize("when", [timedelta(hours=-1), timedelta(seconds=0)])
def test_scheduling_needs_a_time_in_the_future(staff_client, when):
    issue = make_approved_issue()
    at = timezone.localtime() + when
    response = staff_client.post(
        reverse("admin:newsletter_issue_schedule", args=[issue.pk]),
        {"send_at": at.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 200
    assert "Choose a time in the future" in response.text
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_cancel_schedule_makes_it_a_draft_again(staff_client):
    issue = make_issue(
        status=Issue.Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=1)
    )
    response = staff_client.post(
        reverse("admin:newsletter_issue_cancel_schedule", args=[issue.pk])
    )
    assert "draft again" in messages_of(response)[-1]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert issue.scheduled_at is None


def test_cancel_is_refused_once_sending(staff_client):
    issue = make_issue(status=Issue.Status.SENDING)
    response = staff_client.post(
        reverse("admin:newsletter_issue_cancel_schedule", args=[issue.pk])
    )
    assert "not scheduled" in messages_of(response)[-1]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING


# Issues: progress and resume ----------------------------------------------------------


def test_progress_json_shows_counts_and_problems(staff_client):
    issue = make_sending_issue()
    response = staff_client.get(
        reverse("admin:newsletter_issue_progress", args=[issue.pk])
    )
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["status"] == "sending"
    assert data["poll"] is True
    assert data["counts"] == {status: 1 for status in Delivery.Status.values}
    assert data["total"] == 6
    assert data["done"] == 4
    problems = {p["status"]: p for p in data["problems"]}
    assert problems["failed"]["smtp_code"] == 550
    assert problems["failed"]["error"] == "550 5.1.1 No such mailbox"
    assert problems["failed"]["email"].endswith("@example.com")
    assert problems["uncertain"]["error"].startswith("The worker stopped")


def test_progress_stops_polling_once_sent(staff_client):
    issue = make_issue(status=Issue.Status.SENT)
    data = staff_client.get(
        reverse("admin:newsletter_issue_progress", args=[issue.pk])
    ).json()
    assert data["poll"] is False
    assert data["status"] == "sent"


def test_change_page_shows_progress_with_the_polling_script(staff_client):
    issue = make_sending_issue()
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    ).text
    assert 'id="issue-progress"' in text
    assert 'data-poll="1"' in text
    assert reverse("admin:newsletter_issue_progress", args=[issue.pk]) in text
    assert "admin/js/newsletter-progress.js" in text
    assert "550 5.1.1 No such mailbox" in text
    assert "Resume sending" in text
    assert 'data-count="sent"' in text


def test_resume_enqueues_a_send_worker(
    staff_client, database_tasks, django_capture_on_commit_callbacks
):
    issue = make_sending_issue()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_resume", args=[issue.pk])
        )
    assert response.status_code == 302
    assert "Sending resumed" in messages_of(response)[-1]
    task = DBTaskResult.objects.get()
    assert task.task_path == "newsletter.tasks.send_issue"
    assert task.args_kwargs["args"] == [issue.pk]


@pytest.mark.parametrize(
    "status", [Issue.Status.DRAFT, Issue.Status.SCHEDULED, Issue.Status.SENT]
)
def test_resume_is_refused_unless_sending(
    staff_client, database_tasks, django_capture_on_commit_callbacks, status
):
    issue = make_issue(status=status)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_resume", args=[issue.pk])
        )
    assert "Only an issue that is sending" in messages_of(response)[-1]
    assert not DBTaskResult.objects.exists()


# Issues: sending uncertain deliveries again -------------------------------------------


def test_progress_links_to_resending_only_when_some_are_uncertain(staff_client):
    issue = make_sending_issue()
    url = reverse("admin:newsletter_issue_resend_uncertain", args=[issue.pk])
    change = reverse("admin:newsletter_issue_change", args=[issue.pk])
    assert url in staff_client.get(change).text
    issue.deliveries.filter(status=Delivery.Status.UNCERTAIN).update(
        status=Delivery.Status.SENT
    )
    counters.reset(issue=issue)
    assert url not in staff_client.get(change).text


def test_resend_uncertain_page_explains_the_risk_and_lists_them(staff_client):
    issue = make_sending_issue()
    uncertain = issue.deliveries.get(status=Delivery.Status.UNCERTAIN)
    response = staff_client.get(
        reverse("admin:newsletter_issue_resend_uncertain", args=[issue.pk])
    )
    text = re.sub(r"\s+", " ", response.text)
    assert "These messages may already have arrived." in text
    assert "the same Message-ID as the first attempt" in text
    assert "drop it" in text
    assert uncertain.subscriber.email in text
    assert 'value="Yes, send these 1 again"' in text
    # Showing the page changes nothing.
    uncertain.refresh_from_db()
    assert uncertain.status == Delivery.Status.UNCERTAIN


def test_resend_uncertain_post_queues_them_and_starts_a_worker(
    staff_client, database_tasks, django_capture_on_commit_callbacks
):
    issue = make_sending_issue()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_resend_uncertain", args=[issue.pk])
        )
    assert response.status_code == 302
    assert "1 uncertain delivery queued again" in messages_of(response)[-1]
    counts = issue.deliveries.counts()
    assert counts[Delivery.Status.UNCERTAIN] == 0
    assert counts[Delivery.Status.QUEUED] == 2
    assert (
        "by editor"
        in issue.deliveries.filter(status=Delivery.Status.QUEUED)
        .exclude(error="")
        .get()
        .error
    )
    task = DBTaskResult.objects.get()
    assert task.task_path == "newsletter.tasks.send_issue"


def test_resend_uncertain_is_refused_to_staff_who_cannot_change_issues(
    client, database_tasks, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    issue = make_sending_issue()
    viewer = make_user(username="viewer")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_issue"),
        Permission.objects.get(codename="view_delivery"),
    )
    client.force_login(viewer)
    url = reverse("admin:newsletter_issue_resend_uncertain", args=[issue.pk])
    change = client.get(reverse("admin:newsletter_issue_change", args=[issue.pk]))
    assert change.status_code == 200
    assert url not in change.text
    assert client.get(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 403
    assert issue.deliveries.counts()[Delivery.Status.UNCERTAIN] == 1
    assert not DBTaskResult.objects.exists()


# Issues: starting a send --------------------------------------------------------------


def started_issue(seconds_ago: int) -> Issue:
    """Sent now (scheduled for `seconds_ago`), no worker has created deliveries."""
    return make_issue(
        status=Issue.Status.SCHEDULED,
        scheduled_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_right_after_send_now_the_issue_is_starting_without_cancel(staff_client):
    issue = started_issue(2)
    change = reverse("admin:newsletter_issue_change", args=[issue.pk])
    text = staff_client.get(change).text
    assert "Starting: waiting for a worker" in text
    assert 'data-status="starting"' in text
    assert re.search(r'<li data-show-while="scheduled" hidden>', text)
    assert re.search(r'<li data-show-while="not_started" hidden>', text)
    assert '<div class="readonly">Starting</div>' in text
    data = staff_client.get(
        reverse("admin:newsletter_issue_progress", args=[issue.pk])
    ).json()
    assert (data["phase"], data["status_label"], data["poll"]) == (
        "starting",
        "Starting",
        True,
    )
    listing = staff_client.get(reverse("admin:newsletter_issue_changelist")).text
    assert '<td class="field-send_status">Starting</td>' in listing


def test_a_crafted_cancel_while_starting_is_refused(staff_client):
    issue = started_issue(2)
    response = staff_client.post(
        reverse("admin:newsletter_issue_cancel_schedule", args=[issue.pk])
    )
    assert "This issue is starting" in messages_of(response)[-1]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED


def test_a_send_no_worker_took_says_so_and_can_be_cancelled(staff_client):
    issue = started_issue(61)
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    ).text
    assert "no worker has picked this send up for over 60 seconds" in text
    assert "manage.py db_worker" in text
    assert re.search(r'<li data-show-while="not_started">', text)
    assert "Cancel send" in text
    data = staff_client.get(
        reverse("admin:newsletter_issue_progress", args=[issue.pk])
    ).json()
    assert (data["phase"], data["status_label"]) == ("not_started", "Not started")
    response = staff_client.post(
        reverse("admin:newsletter_issue_cancel_schedule", args=[issue.pk])
    )
    assert "draft again" in messages_of(response)[-1]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


def test_a_future_schedule_still_shows_scheduled_with_cancel(staff_client):
    issue = make_issue(
        status=Issue.Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(hours=2)
    )
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    ).text
    assert re.search(r'<li data-show-while="scheduled">', text)
    data = staff_client.get(
        reverse("admin:newsletter_issue_progress", args=[issue.pk])
    ).json()
    assert (data["phase"], data["status_label"], data["poll"]) == (
        "scheduled",
        "Scheduled",
        False,
    )
