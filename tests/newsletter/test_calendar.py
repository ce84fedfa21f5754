"""Newsletter sends on the editorial calendar: scheduled, under way and done, on
the local day of their time, narrowed by topic; in the feeds of those who may
view issues."""

from datetime import timedelta

import pytest
from django.utils import timezone

from newsletter.calendar import IssueSource
from newsletter.models import Issue
from tests.factories import make_issue, make_role_user, make_staff, make_topic

pytestmark = pytest.mark.django_db


def test_sends_scheduled_under_way_and_done_are_entries():
    now = timezone.now()
    today = timezone.localdate()
    scheduled = make_issue(
        subject="Ahead",
        status=Issue.Status.SCHEDULED,
        scheduled_at=now + timedelta(hours=1),
    )
    make_issue(subject="Going", status=Issue.Status.SENDING, send_started_at=now)
    make_issue(subject="Done", status=Issue.Status.SENT, sent_at=now)
    make_issue(subject="Just a draft")
    make_issue(
        subject="Far",
        status=Issue.Status.SCHEDULED,
        scheduled_at=now + timedelta(days=90),
    )
    entries = IssueSource().entries(
        user=make_staff(),
        start=today - timedelta(days=1),
        end=today + timedelta(days=1),
    )
    found = {e.title: e for e in entries}
    assert set(found) == {"Ahead", "Going", "Done"}
    assert found["Ahead"].kind_label == "Send scheduled"
    assert found["Ahead"].at == scheduled.scheduled_at
    assert found["Ahead"].uid == f"issue-{scheduled.pk}-send"
    assert found["Going"].kind_label == "Sending"
    assert found["Done"].kind_label == "Sent"
    assert found["Ahead"].url.endswith(f"/newsletter/issue/{scheduled.pk}/change/")
    assert not found["Ahead"].move_url


def test_sends_are_narrowed_to_a_topics_issues_and_to_no_person():
    now = timezone.now() + timedelta(hours=1)
    acne = make_topic(name="Acne")
    topical = make_issue(
        subject="Acne issue",
        status=Issue.Status.SCHEDULED,
        scheduled_at=now,
        audience=Issue.Audience.TOPICS,
    )
    topical.topics.add(acne, make_topic())
    make_issue(subject="Everyone", status=Issue.Status.SCHEDULED, scheduled_at=now)
    source, user, day = IssueSource(), make_staff(), timezone.localdate(now)

    def titles(**filters) -> list[str]:
        found = source.entries(user=user, start=day, end=day, **filters)
        return sorted(e.title for e in found)

    assert titles() == ["Acne issue", "Everyone"]
    assert titles(topic=str(acne.pk)) == ["Acne issue"]
    assert titles(person=str(user.pk)) == []


def test_feed_has_the_sends_only_for_who_may_view_issues():
    now = timezone.now() + timedelta(hours=1)
    make_issue(subject="Soon", status=Issue.Status.SCHEDULED, scheduled_at=now)
    day = timezone.localdate(now)
    newsletter_editor = make_role_user("Newsletter editor")
    no_issues = make_role_user("Writer", username="no-issues")
    no_issues.groups.clear()
    source = IssueSource()
    assert [
        e.title for e in source.feed_entries(user=newsletter_editor, start=day, end=day)
    ] == ["Soon"]
    assert source.feed_entries(user=no_issues, start=day, end=day) == []
