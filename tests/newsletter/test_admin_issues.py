"""The issue admin: editing, previewing and test sends, deleting, featured articles."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from newsletter import emails
from newsletter.admin.issues import IssueArticleInline
from newsletter.delivery import issues
from newsletter.issues import services as issue_services
from newsletter.models import Delivery, Issue, IssueArticle
from tests.factories import (
    approve_issue,
    make_article,
    make_draft,
    make_issue,
    make_listed_subscriber,
    make_scheduled,
    make_staff,
)
from tests.newsletter.test_admin import (
    S,
    make_sending_issue,
    messages_of,
)

pytestmark = pytest.mark.django_db


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
