"""The newsletter's staff side in the admin: subscribers, issues, sending."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from articles.models import Article
from newsletter import emails, issue_services
from newsletter.admin.issues import IssueArticleInline
from newsletter.delivery import issues
from newsletter.models import Delivery, Issue, IssueArticle, Subscriber
from tests.factories import (
    approve_issue,
    make_approved_issue,
    make_article,
    make_draft,
    make_issue,
    make_listed_subscriber,
    make_scheduled,
    make_staff,
    make_user,
)

pytestmark = pytest.mark.django_db

S = Subscriber.Status


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def one_of_each_status() -> dict[str, Subscriber]:
    return {
        status: make_listed_subscriber(status, email=f"{status}@example.com")
        for status in S.values
    }


def make_sending_issue() -> Issue:
    """An issue half-way through its send, with one of each delivery outcome."""
    issue = make_issue(status=Issue.Status.SENDING, recipient_count=6)
    for n, status in enumerate(Delivery.Status.values):
        Delivery.objects.create(
            issue=issue,
            subscriber=make_listed_subscriber(email=f"r{n}@example.com"),
            status=status,
            smtp_code=550 if status == Delivery.Status.FAILED else None,
            error={
                Delivery.Status.FAILED: "550 5.1.1 No such mailbox",
                Delivery.Status.UNCERTAIN: "The worker stopped while sending.",
            }.get(status, ""),
        )
    return issue


# Who can reach what -------------------------------------------------------------------


def staff_urls(issue: Issue, subscriber: Subscriber) -> list[str]:
    pk = issue.pk
    return [
        reverse("admin:newsletter_subscriber_changelist"),
        reverse("admin:newsletter_subscriber_change", args=[subscriber.pk]),
        reverse("admin:newsletter_subscriber_import"),
        reverse("admin:newsletter_subscriber_export"),
        reverse("admin:newsletter_issue_changelist"),
        reverse("admin:newsletter_issue_add"),
        reverse("admin:newsletter_issue_change", args=[pk]),
        reverse("admin:newsletter_issue_preview", args=[pk]),
        reverse("admin:newsletter_issue_preview_html", args=[pk]),
        reverse("admin:newsletter_issue_send", args=[pk]),
        reverse("admin:newsletter_issue_schedule", args=[pk]),
        reverse("admin:newsletter_issue_progress", args=[pk]),
        reverse("admin:newsletter_issue_resend_uncertain", args=[pk]),
    ]


POST_ONLY = ["send_test", "cancel_schedule", "resume"]


def test_admin_pages_load_for_staff(staff_client):
    issue = make_issue()
    subscriber = make_listed_subscriber()
    for url in staff_urls(issue, subscriber):
        response = staff_client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize("status", Issue.Status.values)
def test_issue_change_page_loads_in_every_status(staff_client, status):
    issue = make_issue(status=status)
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    assert staff_client.get(url).status_code == 200


def test_visitors_and_non_staff_reach_none_of_the_newsletter_admin(client):
    issue = make_sending_issue()
    subscriber = Subscriber.objects.first()
    urls = staff_urls(issue, subscriber)
    post_urls = [
        reverse(f"admin:newsletter_issue_{name}", args=[issue.pk]) for name in POST_ONLY
    ] + [
        reverse("admin:newsletter_issue_send", args=[issue.pk]),
        reverse("admin:newsletter_issue_resend_uncertain", args=[issue.pk]),
        reverse("admin:newsletter_subscriber_import"),
    ]
    for user in [None, make_user()]:
        if user:
            client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, url
            assert reverse("admin:login") in response["Location"]
        for url in post_urls:
            response = client.post(url)
            assert response.status_code == 302, url
            assert reverse("admin:login") in response["Location"]
    assert DBTaskResult.objects.count() == 0
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING


def test_the_action_urls_refuse_get(staff_client):
    issue = make_issue(status=Issue.Status.SCHEDULED)
    for name in POST_ONLY:
        url = reverse(f"admin:newsletter_issue_{name}", args=[issue.pk])
        assert staff_client.get(url).status_code == 405


# Subscribers --------------------------------------------------------------------------


def test_subscriber_list_shows_counts_per_status(staff_client):
    one_of_each_status()
    make_listed_subscriber(S.CONFIRMED)
    make_listed_subscriber(S.PENDING)
    response = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    counts = response.context["status_counts"]
    assert counts["total"] == 7
    by_status = {row["value"]: row["count"] for row in counts["statuses"]}
    assert by_status == {
        "pending": 2,
        "confirmed": 2,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
    }
    text = response.text
    assert 'class="status-counts"' in text
    assert "?status__exact=complained" in text
    assert "Import CSV" in text and "Export this list (CSV)" in text


def test_status_counts_take_one_query(staff_client):
    from newsletter.admin.subscribers import SubscriberAdmin
    from newsletter.models import Subscriber as Model

    one_of_each_status()
    model_admin = SubscriberAdmin(Model, None)
    with CaptureQueriesContext(connection) as queries:
        model_admin.status_counts()
    assert len(queries) == 1


def test_subscriber_list_columns_filters_and_search(staff_client):
    make_listed_subscriber(S.CONFIRMED, email="ada@example.com", first_name="Ada")
    make_listed_subscriber(S.PENDING, email="bob@example.com", first_name="Bob")
    url = reverse("admin:newsletter_subscriber_changelist")
    response = staff_client.get(url, {"q": "ada"})
    assert [s.email for s in response.context["cl"].result_list] == ["ada@example.com"]
    response = staff_client.get(url, {"status__exact": "pending"})
    assert [s.email for s in response.context["cl"].result_list] == ["bob@example.com"]
    text = response.text
    headings = ["Email", "First name", "Status", "Source", "Consented", "Confirmed"]
    for heading in headings:
        assert heading in text
    filters = [spec.title for spec in response.context["cl"].filter_specs]
    assert filters == ["status", "frequency", "consent source", "left how"]


def test_subscriber_detail_shows_proof_of_consent_and_history(staff_client):
    subscriber = make_listed_subscriber(
        S.UNSUBSCRIBED,
        email="ada@example.com",
        consent_text="Yes, email me the newsletter, twice a month.",
        consent_version="2026-11-v1",
        consent_ip="198.51.100.7",
        confirmed_ip="198.51.100.8",
        left_how=Subscriber.LeftHow.ONE_CLICK,
    )
    subscriber.events.create(kind="signed_up", ip="198.51.100.7", detail="footer")
    subscriber.events.create(kind="confirmed", ip="198.51.100.8")
    subscriber.events.create(kind="unsubscribed")
    response = staff_client.get(
        reverse("admin:newsletter_subscriber_change", args=[subscriber.pk])
    )
    text = response.text
    for value in [
        "Proof of consent",
        "Yes, email me the newsletter, twice a month.",
        "2026-11-v1",
        "198.51.100.7",
        "198.51.100.8",
        "Footer form",
        "One-click (mail client)",
        "Signed up",
        "Confirmed",
        "Unsubscribed",
        "History",
    ]:
        assert value in text, value
    form = response.context["adminform"].form
    assert list(form.fields) == ["first_name"]
    # History is read-only: no inputs for events.
    assert 'name="events-0-kind"' not in text


def test_staff_can_edit_the_first_name_only(staff_client):
    subscriber = make_listed_subscriber(S.PENDING, email="ada@example.com")
    url = reverse("admin:newsletter_subscriber_change", args=[subscriber.pk])
    response = staff_client.post(
        url,
        {
            "first_name": "Ada",
            "status": "confirmed",
            "email": "eve@example.com",
            "consent_text": "forged",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.first_name == "Ada"
    assert subscriber.status == S.PENDING
    assert subscriber.email == "ada@example.com"
    assert subscriber.consent_text != "forged"


def test_subscribers_cannot_be_added_by_hand(staff_client):
    response = staff_client.get(reverse("admin:newsletter_subscriber_add"))
    assert response.status_code == 403
    response = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    assert "Add subscriber" not in response.text


@pytest.mark.parametrize(
    ("action", "status", "how"),
    [
        ("unsubscribe_staff", S.UNSUBSCRIBED, Subscriber.LeftHow.STAFF),
        ("mark_complained", S.COMPLAINED, Subscriber.LeftHow.COMPLAINT),
    ],
)
def test_status_changes_through_actions(staff_client, action, status, how):
    chosen = [make_listed_subscriber(S.CONFIRMED), make_listed_subscriber(S.PENDING)]
    other = make_listed_subscriber(S.CONFIRMED)
    response = staff_client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {"action": action, "_selected_action": [s.pk for s in chosen]},
    )
    assert response.status_code == 302
    for subscriber in chosen:
        subscriber.refresh_from_db()
        assert subscriber.status == status
        assert subscriber.left_how == how
        assert subscriber.left_at is not None
        assert subscriber.events.filter(kind=status).exists()
    other.refresh_from_db()
    assert other.status == S.CONFIRMED
    assert "2 subscriber(s)" in messages_of(response)[-1]


def test_staff_unsubscribe_keeps_the_stronger_reason(staff_client):
    bounced = make_listed_subscriber(S.BOUNCED)
    response = staff_client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {"action": "unsubscribe_staff", "_selected_action": [bounced.pk]},
    )
    bounced.refresh_from_db()
    assert bounced.status == S.BOUNCED
    assert "Unsubscribed 0 subscriber(s)" in messages_of(response)[-1]
    assert "1 already had that status" in messages_of(response)[-1]


def test_subscriber_changelist_queries_stay_constant(
    staff_client, django_assert_max_num_queries
):
    url = reverse("admin:newsletter_subscriber_changelist")
    for status in S.values:
        make_listed_subscriber(status)
    staff_client.get(url)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for n in range(60):
        make_listed_subscriber(S.values[n % 5])
    with django_assert_max_num_queries(len(few)):
        response = staff_client.get(url)
    assert len(response.context["cl"].result_list) == 65


# Issues: editing ----------------------------------------------------------------------


def issue_form(**overrides) -> dict:
    data = {
        "subject": "Winter skin",
        "slug": "",
        "preheader": "Dry air, happy skin",
        "body": "<p>Hello</p>",
        "issuearticle_set-TOTAL_FORMS": "0",
        "issuearticle_set-INITIAL_FORMS": "0",
        "issuearticle_set-MIN_NUM_FORMS": "0",
        "issuearticle_set-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_issue_body_is_sanitised_and_slug_filled_on_save(staff_client):
    response = staff_client.post(
        reverse("admin:newsletter_issue_add"),
        issue_form(body='<p onclick="x()">Hi</p><script>alert(1)</script>'),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    issue = Issue.objects.get()
    assert issue.body == "<p>Hi</p>"
    assert issue.slug == "winter-skin"
    assert issue.status == Issue.Status.DRAFT


def test_issue_form_has_ckeditor_prepopulated_slug_and_article_autocomplete(
    staff_client,
):
    text = staff_client.get(reverse("admin:newsletter_issue_add")).text
    assert "ckeditor/ckeditor.js" in text
    assert "prepopulated_fields" in text or "data-prepopulated-fields" in text
    assert "admin-autocomplete" in text
    assert "issuearticle_set-TOTAL_FORMS" in text


def test_featured_articles_are_saved_in_order(staff_client):
    first, second = make_article(), make_article()
    response = staff_client.post(
        reverse("admin:newsletter_issue_add"),
        issue_form(
            **{
                "issuearticle_set-TOTAL_FORMS": "2",
                "issuearticle_set-0-article": second.pk,
                "issuearticle_set-0-position": "5",
                "issuearticle_set-1-article": first.pk,
                "issuearticle_set-1-position": "1",
            }
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    items = IssueArticle.objects.order_by("position")
    assert [(i.article, i.position) for i in items] == [(first, 1), (second, 2)]


def test_issue_list_shows_status_times_recipients_and_sent_count(staff_client):
    make_issue(subject="Draft one")
    sending = make_sending_issue()
    response = staff_client.get(reverse("admin:newsletter_issue_changelist"))
    text = response.text
    for heading in ["Subject", "Status", "Scheduled at", "Sent at", "Recipients"]:
        assert heading in text
    row = next(i for i in response.context["cl"].result_list if i.pk == sending.pk)
    assert row.sent_total == 1
    assert "Draft one" in text


def test_issue_changelist_queries_stay_constant(
    staff_client, django_assert_max_num_queries
):
    url = reverse("admin:newsletter_issue_changelist")
    make_sending_issue()
    make_issue()
    staff_client.get(url)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for status in Issue.Status.values * 8:
        issue = make_issue(status=status)
        Delivery.objects.create(
            issue=issue, subscriber=make_listed_subscriber(), status="sent"
        )
    with django_assert_max_num_queries(len(few)):
        response = staff_client.get(url)
    assert len(response.context["cl"].result_list) == 34


@pytest.mark.parametrize(
    "status", [Issue.Status.SCHEDULED, Issue.Status.SENDING, Issue.Status.SENT]
)
def test_an_issue_that_is_not_a_draft_is_read_only(staff_client, status):
    issue = make_issue(status=status, subject="Locked")
    article = make_article()
    IssueArticle.objects.create(issue=issue, article=article, position=1)
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    response = staff_client.get(url)
    text = response.text
    assert 'name="subject"' not in text
    assert 'name="body"' not in text
    assert 'name="_save"' not in text
    assert 'name="issuearticle_set-0-article"' not in text
    assert article.title in text
    assert "can no longer change" in text
    response = staff_client.post(url, issue_form(subject="Changed"))
    assert response.status_code == 403
    issue.refresh_from_db()
    assert issue.subject == "Locked"


def test_a_locked_issue_shows_its_body_rendered_and_links_the_archive_once_sent(
    staff_client,
):
    sending = make_issue(status=Issue.Status.SENDING, body="<p>Hello <em>you</em></p>")
    url = reverse("admin:newsletter_issue_change", args=[sending.pk])
    text = staff_client.get(url).text
    assert "<p>Hello <em>you</em></p>" in text
    assert "&lt;p&gt;" not in text
    assert "View on site" not in text
    sent = make_issue(status=Issue.Status.SENT)
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[sent.pk])
    ).text
    assert "View on site" in text


def test_a_draft_scheduled_while_its_form_was_open_is_not_changed(staff_client):
    issue = make_issue(subject="Before")
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    staff_client.get(url)
    # Someone else schedules it; the editor's form (loaded as draft) posts now.
    form = issue_form(subject="After", slug=issue.slug)
    from newsletter.admin.forms import IssueAdminForm

    bound = IssueAdminForm(data=form, instance=issue)
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SCHEDULED, scheduled_at=timezone.now()
    )
    assert not bound.is_valid()
    assert "can no longer change" in str(bound.non_field_errors())


def test_scheduled_and_sending_issues_cannot_be_deleted(staff_client):
    for status in [Issue.Status.SCHEDULED, Issue.Status.SENDING]:
        issue = make_issue(status=status)
        url = reverse("admin:newsletter_issue_delete", args=[issue.pk])
        assert staff_client.get(url).status_code == 403
    draft = make_issue()
    url = reverse("admin:newsletter_issue_delete", args=[draft.pk])
    assert staff_client.get(url).status_code == 200


# Issues: preview and test -------------------------------------------------------------


def test_preview_shows_the_email_html_sandboxed_and_the_text(staff_client):
    issue = make_issue(subject="Winter <skin>", body="<p>Moisturise &amp; rest.</p>")
    IssueArticle.objects.create(issue=issue, article=make_article(title="Dry air"))
    url = reverse("admin:newsletter_issue_preview", args=[issue.pk])
    response = staff_client.get(url)
    expected = emails.test_issue_message(issue=issue, to="editor@example.com")
    assert response.context["html"] == expected.alternatives[0][0]
    assert response.context["text"] == expected.body
    text = response.text
    assert re.search(r'<iframe[^>]+sandbox=""[^>]+srcdoc="', text)
    assert "<pre" in text and "Moisturise &amp; rest." in text
    assert "Dry air" in text
    # Personal links are inert: they lead to the sign-up page.
    assert "/newsletter/unsubscribe/" not in response.context["html"]
    assert "Winter &lt;skin&gt;" in text


def test_preview_html_page_is_exactly_the_email_and_cannot_run_scripts(staff_client):
    issue = make_issue(body="<p>Hi</p>")
    response = staff_client.get(
        reverse("admin:newsletter_issue_preview_html", args=[issue.pk])
    )
    expected = emails.test_issue_message(issue=issue, to="editor@example.com")
    assert response.content.decode() == expected.alternatives[0][0]
    assert response["Content-Type"].startswith("text/html")
    policy = response["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "script-src" not in policy


def test_send_a_test_to_my_own_address(
    staff_client, staff, mailoutbox, django_capture_on_commit_callbacks
):
    issue = make_issue(subject="Winter skin", body="<p>Hello</p>")
    make_listed_subscriber(S.CONFIRMED)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:newsletter_issue_send_test", args=[issue.pk])
        )
    assert response.status_code == 302
    assert messages_of(response) == [f"Test sent to {staff.email}."]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [staff.email]
    assert message.subject == "[Test] Winter skin"
    assert "Hello" in message.body
    assert message.alternatives[0][1] == "text/html"
    assert "<p" in message.alternatives[0][0]
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists()


def test_send_a_test_without_an_email_address_says_so(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = make_staff(username="noemail")
    user.email = ""
    user.save()
    client.force_login(user)
    issue = make_issue()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:newsletter_issue_send_test", args=[issue.pk])
        )
    assert "has no email address" in messages_of(response)[-1]
    assert mailoutbox == []


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


# In Chromium (screenshots in test-artifacts/ for a person to look at) -----------------


def browser_staff_page(page, live_server):
    from tests.articles.test_browser import PageWatcher, log_in

    watcher = PageWatcher(page)
    log_in(page, live_server, make_staff())
    return watcher


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_subscriber_list_with_counts(page, live_server, artifacts_dir):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    names = ["Ada", "Grace", "", "Katherine", "Mary", "", "Hedy", "Radia"]
    statuses = [S.CONFIRMED, S.CONFIRMED, S.PENDING, S.CONFIRMED, S.UNSUBSCRIBED,
                S.BOUNCED, S.COMPLAINED, S.PENDING]  # fmt: skip
    for n, (name, status) in enumerate(zip(names, statuses, strict=True)):
        make_listed_subscriber(
            status, email=f"{(name or 'reader').lower()}{n}@example.com",
            first_name=name,
        )  # fmt: skip
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/subscriber/")
    counts = page.locator(".status-counts")
    expect(counts.locator("a", has_text="All")).to_contain_text("8")
    expect(counts.locator('[data-status="confirmed"]')).to_contain_text("3")
    expect(counts.locator('[data-status="complained"]')).to_contain_text("1")
    expect(page.get_by_role("link", name="Import CSV")).to_be_visible()
    expect(page.get_by_role("link", name="Export this list (CSV)")).to_be_visible()
    screenshot(page, artifacts_dir / "newsletter-subscribers.png", DESKTOP)
    counts.locator('[data-status="pending"]').click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export this list (CSV)").click()
    lines = download.value.path().read_text().splitlines()
    assert lines[0].startswith("email,first_name,status")
    assert len(lines) == 3 and all(",pending," in line for line in lines[1:])
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_import_report(page, live_server, artifacts_dir, tmp_path):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    make_listed_subscriber(S.CONFIRMED, email="known@example.com")
    path = tmp_path / "old-list.csv"
    path.write_text(
        "email,first_name\nada@example.com,Ada\nnot-an-email,Bob\n"
        "grace@example.com,Grace\nADA@example.com,Ada again\nknown@example.com,\n"
        "eve@example.com,Eve\u202egnp.exe\n"
    )
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/subscriber/")
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(path)
    page.get_by_label("Ask each address to confirm").check()
    page.get_by_role("button", name="Upload and check the file").click()
    report = page.locator("#import-progress")
    # Tasks run at once in tests: the check is over when the page loads.
    expect(report).to_contain_text("Checked: ready to import")
    expect(report).to_contain_text("3 row(s) have errors")
    expect(report).to_contain_text("'not-an-email' is not a valid email address.")
    expect(report).to_contain_text(
        "This address is in the file twice (first on line 2)."
    )
    expect(report).to_contain_text("change the direction of text (found U+202E)")
    # The rows without an error can go in; nothing has changed yet.
    expect(page.get_by_role("button", name="Import 2 addresses")).to_have_count(1)
    screenshot(page, artifacts_dir / "newsletter-import-report.png", DESKTOP)
    assert Subscriber.objects.count() == 1
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_import_progress_then_import(page, live_server, artifacts_dir):
    from playwright.sync_api import expect

    from newsletter import imports
    from newsletter.models import SubscriberImport
    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    watcher = browser_staff_page(page, live_server)
    subscriber_import = SubscriberImport.objects.create(
        file_name="fair-2026.csv",
        data="email,first_name\nada@example.com,Ada\ngrace@example.com,Grace\n",
        basis="confirm",
        created_by=get_user_model().objects.get(username="editor"),
        total_rows=2,
    )
    page.goto(
        f"{live_server.url}/admin/newsletter/subscriber/import/{subscriber_import.pk}/"
    )
    panel = page.locator("#import-progress")
    expect(panel).to_contain_text("0 of 2 rows checked")
    SubscriberImport.objects.filter(pk=subscriber_import.pk).update(rows_done=1)
    expect(panel).to_contain_text("1 of 2 rows checked")  # Polled, not reloaded.
    imports.check_import(import_id=subscriber_import.pk)
    button = page.get_by_role("button", name="Import 2 addresses")
    expect(button).to_be_visible()  # The page reloaded itself with the report.
    screenshot(page, artifacts_dir / "newsletter-import-checked.png", DESKTOP)
    button.click()
    expect(panel).to_contain_text("Imported 2 address(es)")
    assert Subscriber.objects.count() == 2
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_progress_updates_without_reloading(page, live_server, artifacts_dir):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    issue = make_sending_issue()
    issue.subject = "Winter skin: the dry-air edition"
    issue.save()
    for n in range(40):
        Delivery.objects.create(
            issue=issue,
            subscriber=make_listed_subscriber(email=f"q{n}@example.com"),
            status=Delivery.Status.SENT if n < 25 else Delivery.Status.QUEUED,
        )
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/issue/{issue.pk}/change/")
    panel = page.locator("#issue-progress")
    expect(panel.locator('[data-count="sent"]')).to_have_text("26")
    expect(panel).to_contain_text("550 5.1.1 No such mailbox")
    expect(page.get_by_role("button", name="Resume sending")).to_be_visible()
    reloads = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url))
    screenshot(page, artifacts_dir / "newsletter-issue-progress.png", DESKTOP)

    # The worker sends the rest; the page follows without being reloaded.
    Delivery.objects.filter(issue=issue, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.SENT
    )
    expect(panel.locator('[data-count="sent"]')).to_have_text("42")
    expect(panel.locator('[data-count="queued"]')).to_have_text("0")
    Delivery.objects.filter(issue=issue, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT
    )
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SENT, sent_at=timezone.now()
    )
    expect(panel.locator('[data-field="status_label"]')).to_have_text("Sent")
    expect(page.locator(".field-send_status .readonly")).to_have_text("Sent")
    expect(panel).to_contain_text("(Finished.)")
    expect(page.get_by_role("button", name="Resume sending")).to_be_hidden()
    expect(page.locator('.issue-locked [data-show-while="sent"]')).to_be_visible()
    expect(page.locator('.issue-locked [data-show-while="sending"]')).to_be_hidden()
    screenshot(page, artifacts_dir / "newsletter-issue-progress-finished.png", DESKTOP)
    # Polling stopped: no more requests for the progress JSON.
    progress_url = reverse("admin:newsletter_issue_progress", args=[issue.pk])
    seen = watcher.urls.count(f"{live_server.url}{progress_url}")
    page.wait_for_timeout(4500)
    assert watcher.urls.count(f"{live_server.url}{progress_url}") == seen
    assert reloads == []
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_send_confirmation_and_send(
    page, live_server, artifacts_dir, mailoutbox
):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    for n in range(3):
        make_listed_subscriber(S.CONFIRMED, email=f"reader{n}@example.com")
    make_listed_subscriber(S.PENDING, email="pending@example.com")
    make_listed_subscriber(S.UNSUBSCRIBED, email="gone@example.com")
    issue = make_issue(
        subject="Winter skin: the dry-air edition",
        preheader="Three small habits for cold months",
        body="<h2>Humidity matters</h2><p>Indoor heating dries the air.</p>",
    )
    IssueArticle.objects.create(
        issue=issue, article=make_article(title="Barrier repair"), position=1
    )
    approve_issue(issue)
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/issue/{issue.pk}/change/")
    page.get_by_role("link", name="Preview").click()
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.locator("h1")).to_have_text("Winter skin: the dry-air edition")
    expect(page.locator("pre.email-text")).to_contain_text("HUMIDITY MATTERS")
    screenshot(page, artifacts_dir / "newsletter-issue-preview.png", DESKTOP)
    page.get_by_role("link", name="Back to the issue").click()
    page.get_by_role("link", name="Send now…").click()
    expect(page.locator("[data-confirmed-count]")).to_have_text("3")
    screenshot(page, artifacts_dir / "newsletter-send-confirm.png", DESKTOP)
    page.get_by_role("button", name="Yes, send it to 3 subscribers now").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "Sending to 3 confirmed subscriber(s) has started."
    )
    expect(page.locator('#issue-progress [data-count="sent"]')).to_have_text("3")
    assert sorted(m.to[0] for m in mailoutbox) == [
        f"reader{n}@example.com" for n in range(3)
    ]
    expect(page.get_by_role("link", name="Send now…")).to_have_count(0)
    assert watcher.errors == [] and watcher.violations == []


# Issues: deleting ---------------------------------------------------------------------


def test_a_sent_issue_cannot_be_deleted_nor_offered_a_delete_button(staff_client):
    issue = make_issue(status=Issue.Status.SENT)
    url = reverse("admin:newsletter_issue_delete", args=[issue.pk])
    assert staff_client.get(url).status_code == 403
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    change = staff_client.get(reverse("admin:newsletter_issue_change", args=[issue.pk]))
    assert url not in change.text
    assert Issue.objects.filter(pk=issue.pk).exists()


@pytest.mark.parametrize(
    "status", [Issue.Status.SCHEDULED, Issue.Status.SENDING, Issue.Status.SENT]
)
def test_bulk_delete_of_a_locked_issue_deletes_nothing_and_says_why(
    staff_client, status
):
    locked = make_issue(status=status, subject="Winter record")
    draft = make_issue()
    response = staff_client.post(
        reverse("admin:newsletter_issue_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [locked.pk, draft.pk],
            "post": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert Issue.objects.filter(pk__in=[locked.pk, draft.pk]).count() == 2
    (message,) = messages_of(response)
    assert message.startswith("Nothing was deleted: only draft issues")
    assert "“Winter record”" in message


def test_bulk_delete_still_deletes_drafts(staff_client):
    drafts = [make_issue(), make_issue()]
    response = staff_client.post(
        reverse("admin:newsletter_issue_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [d.pk for d in drafts],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not Issue.objects.exists()


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


# Issues: featured articles ------------------------------------------------------------


def test_the_article_picker_offers_only_live_articles(staff_client):
    make_article(title="Live dry skin")
    make_draft(title="Draft dry skin")
    make_scheduled(title="Later dry skin")
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "dry skin",
            "app_label": "newsletter",
            "model_name": "issuearticle",
            "field_name": "article",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Live dry skin"]
    inline = IssueArticleInline(Issue, site)
    request = RequestFactory().get("/")
    request.user = make_staff(username="picker")
    field = inline.formfield_for_foreignkey(
        IssueArticle._meta.get_field("article"), request
    )
    # A model form narrows the field's choices with its limit_choices_to.
    choices = field.queryset.complex_filter(field.get_limit_choices_to())
    assert [a.title for a in choices] == ["Live dry skin"]


def test_a_draft_cannot_be_featured_through_the_form(staff_client):
    draft = make_draft(title="Unfinished")
    issue = make_issue()
    response = staff_client.post(
        reverse("admin:newsletter_issue_change", args=[issue.pk]),
        issue_form(
            slug=issue.slug,
            greeting="Hi {first_name},",
            **{
                "issuearticle_set-TOTAL_FORMS": "1",
                "issuearticle_set-0-position": "1",
                "issuearticle_set-0-article": str(draft.pk),
                "issuearticle_set-0-issue": str(issue.pk),
            },
        ),
    )
    assert response.status_code == 200
    assert "Only live articles can be featured" in response.text
    assert not IssueArticle.objects.exists()


@pytest.mark.parametrize("action", ["send", "schedule"])
def test_send_now_and_schedule_refuse_an_issue_featuring_a_draft(
    staff_client, action, django_capture_on_commit_callbacks
):
    make_listed_subscriber()
    issue = make_issue()
    IssueArticle.objects.create(issue=issue, article=make_article(title="Fine"))
    IssueArticle.objects.create(issue=issue, article=make_draft(title="Unfinished"))
    data = {}
    if action == "schedule":
        later = timezone.localtime() + timedelta(days=1)
        data = {"send_at": later.strftime("%Y-%m-%dT%H:%M")}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse(f"admin:newsletter_issue_{action}", args=[issue.pk]), data
        )
    assert response.status_code == 302
    message = messages_of(response)[-1]
    assert "“Unfinished” is not live" in message and "Fine" not in message
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists()


def test_a_scheduled_issue_whose_article_was_unpublished_goes_back_to_draft(
    staff_client, staff, mailoutbox, database_tasks
):
    make_listed_subscriber()
    article = make_article(title="Winter care")
    issue = make_issue()
    IssueArticle.objects.create(issue=issue, article=article)
    approve_issue(issue)
    issue_services.schedule_send(
        issue=issue, user=staff, at=timezone.now() + timedelta(hours=1)
    )
    article.status = Article.Status.DRAFT
    article.save()
    Issue.objects.filter(pk=issue.pk).update(scheduled_at=timezone.now())
    assert issues.start_send(issue_id=issue.pk) is False
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert issue.scheduled_at is None
    assert "“Winter care” is not live" in issue.not_sent_reason
    assert not Delivery.objects.exists() and not mailoutbox
    text = staff_client.get(
        reverse("admin:newsletter_issue_change", args=[issue.pk])
    ).text
    assert "Not sent at the scheduled time" in text
    # Scheduling again (once fixed) clears the reason.
    article.status = Article.Status.PUBLISHED
    article.save()
    issue_services.schedule_send(
        issue=issue, user=staff, at=timezone.now() + timedelta(hours=1)
    )
    issue.refresh_from_db()
    assert issue.not_sent_reason == ""
