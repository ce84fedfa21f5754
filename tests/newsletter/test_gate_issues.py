"""The gate on issues: no send without an approval of exactly this text, whoever
asks; editing a scheduled issue; the reviewer's panel."""

import html
from datetime import timedelta

import pytest
from django.contrib.messages import ERROR, SUCCESS, WARNING
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from articles.models import Article
from newsletter import tasks
from newsletter.admin.issues import UNSCHEDULED_MESSAGE
from newsletter.issues import review
from newsletter.issues import services as issue_services
from newsletter.models import (
    Delivery,
    Issue,
    IssueApproval,
    IssueArticle,
    Verdict,
)
from tests.factories import (
    approve_issue,
    make_approved_issue,
    make_article,
    make_issue,
    make_listed_subscriber,
    make_role_user,
)
from tests.newsletter.test_admin_issues import issue_form

# Fixtures come from test_gate.py: a test taking one as an argument redefines
# its name.
# ruff: noqa: F811
from tests.newsletter.test_gate import (  # noqa: F401
    SENDERS,
    admin_url,
    in_future,
    messages_of,
    people,
    quick_password_hashing,
    sending_issue,
    state_of,
)
from tests.skincare.test_page_quality_browser import AXE_TAGS, axe_source  # noqa: F401

pytestmark = pytest.mark.django_db


# The approval, whoever asks --------------------------------------------------------


def unapproved(how: str) -> Issue:
    """A draft never reviewed, or one changed since its approval."""
    issue = make_issue(subject="Winter skin")
    if how == "stale":
        approve_issue(issue)
        Issue.objects.filter(pk=issue.pk).update(body="<p>Retinol cures acne.</p>")
        issue.refresh_from_db()
    return issue


REFUSED_BECAUSE = {
    "never": "No medical reviewer has approved this issue's text yet",
    "stale": "The issue's text changed after Dr Newsletter-Reviewer, MD, FAAD "
    "approved it on",
}


@pytest.mark.parametrize("how", ["never", "stale"])
@pytest.mark.parametrize("action", ["send", "schedule"])
@pytest.mark.parametrize("role", sorted(SENDERS))
def test_no_send_nor_schedule_without_an_approval_of_this_text_superusers_included(
    client,
    people,
    mailoutbox,
    django_capture_on_commit_callbacks,
    role,
    action,
    how,
):
    make_listed_subscriber()
    issue = unapproved(how)
    before = state_of(issue)
    client.force_login(people[role])
    url = admin_url(action, issue)

    page = html.unescape(client.get(url).text)
    assert REFUSED_BECAUSE[how] in page
    assert "Yes, s" not in page  # no "Yes, send it…" nor "Yes, schedule it"
    data = {"send_at": in_future()} if action == "schedule" else {}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302
    [(level, message)] = messages_of(response)
    assert level == ERROR
    assert REFUSED_BECAUSE[how] in message and message.endswith("Nothing was sent.")
    assert state_of(issue) == before
    assert not Delivery.objects.exists()
    assert mailoutbox == []


def test_the_service_refuses_a_superuser_without_an_approval_and_creates_nothing(
    people,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    make_listed_subscriber()
    issue = make_issue()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(issue_services.SendRefused, match="No medical reviewer"),
    ):
        issue_services.schedule_send(issue=issue, user=people["superuser"])

    assert callbacks == []
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists() and mailoutbox == []


def test_no_medical_content_recorded_by_a_reviewer_lets_the_issue_go_out(
    people,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    make_listed_subscriber()
    issue = make_issue(subject="We moved office")
    approve_issue(issue, verdict=Verdict.NO_MEDICAL_CONTENT)

    with django_capture_on_commit_callbacks(execute=True):
        issue_services.schedule_send(issue=issue, user=people["newsletter_editor"])

    assert [m.subject for m in mailoutbox] == ["We moved office"]


def test_a_scheduled_issue_whose_featured_article_changed_is_not_sent_at_its_time(
    people,
    mailoutbox,
    database_tasks,
):
    """Nothing changed the issue itself: an article it features was edited and
    published again while it waited. The start of the send checks again."""
    make_listed_subscriber()
    issue = make_issue()
    article = make_article(title="Retinol basics")
    IssueArticle.objects.create(issue=issue, article=article)
    approve_issue(issue)
    issue_services.schedule_send(
        issue=issue,
        user=people["newsletter_editor"],
        at=timezone.now() + timedelta(hours=1),
    )
    Article.objects.filter(pk=article.pk).update(summary="Retinol cures acne.")
    Issue.objects.filter(pk=issue.pk).update(scheduled_at=timezone.now())

    assert tasks.start_issue_send.call(issue.pk) is False

    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT and issue.scheduled_at is None
    assert issue.not_sent_reason.startswith("Not sent at the scheduled time: ")
    assert "(changed: featured articles)" in issue.not_sent_reason
    assert not Delivery.objects.exists() and mailoutbox == []


@pytest.mark.parametrize("action", ["resume", "resend_uncertain"])
def test_a_send_whose_text_changed_since_its_approval_is_not_resumed(
    client,
    people,
    mailoutbox,
    django_capture_on_commit_callbacks,
    action,
):
    issue = sending_issue()
    IssueArticle.objects.create(issue=issue, article=make_article())
    before = state_of(issue)
    client.force_login(people["superuser"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url(action, issue))

    [(level, message)] = messages_of(response)
    assert level == ERROR and "changed after" in message
    assert state_of(issue) == before
    assert mailoutbox == []


# Editing a scheduled issue ---------------------------------------------------------


@pytest.fixture
def scheduled(people, database_tasks, django_capture_on_commit_callbacks) -> Issue:
    """Approved and scheduled in two days; its start task stored for then."""
    issue = make_approved_issue(subject="Winter skin", preheader="Dry air")
    with django_capture_on_commit_callbacks(execute=True):
        issue_services.schedule_send(
            issue=issue,
            user=people["newsletter_editor"],
            at=timezone.now() + timedelta(days=2),
        )
    assert DBTaskResult.objects.get().task_path == "newsletter.tasks.start_issue_send"
    return issue


def edit_form(issue: Issue, **overrides) -> dict:
    """The issue's change form as it stands, with these changes."""
    fields = ["subject", "slug", "preheader", "greeting", "body", "audience"]
    return issue_form(**{**{f: getattr(issue, f) for f in fields}, **overrides})


def test_changing_the_text_of_a_scheduled_issue_makes_it_a_draft_and_says_why(
    client,
    people,
    scheduled,
    mailoutbox,
):
    make_listed_subscriber()
    client.force_login(people["newsletter_editor"])
    page = client.get(admin_url("change", scheduled)).text
    assert 'name="subject"' in page
    assert "a change to its text or featured articles makes it a draft again" in page

    response = client.post(
        admin_url("change", scheduled), edit_form(scheduled, subject="Winter skin!")
    )

    assert response.status_code == 302
    assert (WARNING, UNSCHEDULED_MESSAGE) in messages_of(response)
    scheduled.refresh_from_db()
    assert scheduled.subject == "Winter skin!"
    assert scheduled.status == Issue.Status.DRAFT and scheduled.scheduled_at is None
    reason = scheduled.not_sent_reason
    assert reason.startswith("No longer scheduled: changed by newsletter-editor on ")
    assert "(changed: subject)" in reason
    page = html.unescape(client.get(admin_url("change", scheduled)).text)
    assert reason in page
    # The task stored for the old time runs and sends nothing.
    assert tasks.start_issue_send.call(scheduled.pk) is False
    assert not Delivery.objects.exists() and mailoutbox == []


def test_adding_a_featured_article_to_a_scheduled_issue_unschedules_it(
    client,
    people,
    scheduled,
):
    article = make_article(title="Barrier repair")
    client.force_login(people["editor"])

    response = client.post(
        admin_url("change", scheduled),
        edit_form(
            scheduled,
            **{
                "issuearticle_set-TOTAL_FORMS": "1",
                "issuearticle_set-0-position": "1",
                "issuearticle_set-0-article": str(article.pk),
            },
        ),
    )

    assert response.status_code == 302
    assert (WARNING, UNSCHEDULED_MESSAGE) in messages_of(response)
    scheduled.refresh_from_db()
    assert scheduled.status == Issue.Status.DRAFT
    assert "(changed: featured articles)" in scheduled.not_sent_reason


def test_changing_who_receives_a_scheduled_issue_keeps_it_scheduled(
    client,
    people,
    scheduled,
):
    topic = make_article().topic
    client.force_login(people["editor"])

    response = client.post(
        admin_url("change", scheduled),
        edit_form(scheduled, audience="topics", topics=[topic.pk]),
    )

    assert response.status_code == 302
    assert all(level != WARNING for level, _ in messages_of(response))
    scheduled.refresh_from_db()
    assert scheduled.status == Issue.Status.SCHEDULED
    assert list(scheduled.topics.all()) == [topic]


@pytest.mark.parametrize("role", ["writer", "reviewer", "plain"])
def test_only_those_who_may_send_can_change_a_scheduled_issue(
    client,
    people,
    scheduled,
    role,
):
    before = state_of(scheduled)
    client.force_login(people[role])

    response = client.post(
        admin_url("change", scheduled), edit_form(scheduled, subject="Changed")
    )

    assert response.status_code == 403
    assert state_of(scheduled) == before
    assert Issue.objects.get(pk=scheduled.pk).subject == "Winter skin"
    with pytest.raises(PermissionDenied):
        scheduled.subject = "Changed"
        issue_services.save_issue(issue=scheduled, user=people[role])
    assert Issue.objects.get(pk=scheduled.pk).subject == "Winter skin"


def test_a_writer_drafts_and_edits_an_issue_but_sees_no_send_buttons(client, people):
    client.force_login(people["writer"])

    response = client.post(reverse("admin:newsletter_issue_add"), issue_form())

    assert response.status_code == 302
    issue = Issue.objects.get()
    assert issue.status == Issue.Status.DRAFT
    response = client.post(
        admin_url("change", issue), edit_form(issue, subject="Winter skin, again")
    )
    assert response.status_code == 302
    assert Issue.objects.get().subject == "Winter skin, again"
    page = client.get(admin_url("change", issue)).text
    assert admin_url("send", issue) not in page
    assert admin_url("schedule", issue) not in page
    assert admin_url("review", issue) not in page
    assert "Send a test to me" in page
    assert client.get(admin_url("send", issue)).status_code == 403


# The reviewer's panel ------------------------------------------------------------


def test_a_reviewer_approves_exactly_the_text_they_were_shown(client, people):
    issue = make_issue(subject="Winter skin", body="<p>Moisturise daily.</p>")
    IssueArticle.objects.create(issue=issue, article=make_article(title="Dry air"))
    client.force_login(people["reviewer"])
    page = client.get(admin_url("change", issue)).text
    assert "Not medically reviewed yet." in page
    assert f'name="content_hash" value="{review.issue_hash(issue)}"' in page
    assert "Approve this text" in page and "Record: no medical content" in page
    # Read-only for a reviewer: the body as it reads, no field to change it.
    assert 'name="body"' not in page and "<p>Moisturise daily.</p>" in page

    response = client.post(
        admin_url("review", issue),
        {"verdict": Verdict.APPROVED, "content_hash": review.issue_hash(issue)},
    )

    [(level, message)] = messages_of(response)
    assert level == SUCCESS and message.startswith("Recorded “Approved”")
    approval = IssueApproval.objects.get()
    assert approval.reviewer == people["reviewer"]
    assert approval.reviewer_name == "Dr Reviewer, MD, FAAD"
    assert approval.text["subject"] == "Winter skin"
    assert [a["title"] for a in approval.text["articles"]] == ["Dry air"]
    page = client.get(admin_url("change", issue)).text
    assert "<strong>Approved</strong> by Dr Reviewer, MD, FAAD on " in page
    assert "Approve this text" not in page


def test_the_issue_page_says_what_changed_since_the_approval(staff_client):
    issue = make_approved_issue(
        subject="Winter skin", body="<p>Moisturise daily.</p><p>Drink water.</p>"
    )
    Issue.objects.filter(pk=issue.pk).update(
        subject="Winter skin!", body="<p>Moisturise twice a day.</p><p>Drink water.</p>"
    )

    page = staff_client.get(admin_url("change", issue)).text

    assert "Changed since its medical approval." in page
    assert "changed since: subject, body." in page
    assert "<td>Winter skin</td><td>Winter skin!</td>" in page
    assert "-Moisturise daily.\n+Moisturise twice a day." in page
    assert "It cannot be sent or scheduled until" in page


def test_an_approval_of_a_text_that_changed_since_the_page_opened_is_refused(
    client,
    people,
):
    issue = make_issue(subject="Winter skin")
    seen = review.issue_hash(issue)
    Issue.objects.filter(pk=issue.pk).update(subject="Winter skin!")
    client.force_login(people["reviewer"])

    response = client.post(
        admin_url("review", issue), {"verdict": Verdict.APPROVED, "content_hash": seen}
    )

    [(level, message)] = messages_of(response)
    assert level == ERROR and "changed after you opened it" in message
    assert not IssueApproval.objects.exists()


@pytest.mark.parametrize("who", ["reviewer_without_profile", "unknown_verdict"])
def test_an_approval_is_recorded_only_with_a_name_and_a_known_decision(
    client,
    people,
    who,
):
    issue = make_issue()
    user = people["reviewer"]
    verdict = Verdict.APPROVED
    if who == "reviewer_without_profile":
        user = make_role_user("Medical reviewer", username="no-profile")
    else:
        verdict = "looks fine"
    client.force_login(user)

    response = client.post(
        admin_url("review", issue),
        {"verdict": verdict, "content_hash": review.issue_hash(issue)},
    )

    [(level, message)] = messages_of(response)
    assert level == ERROR and message.endswith("Nothing was recorded.")
    assert not IssueApproval.objects.exists()
