"""The editorial workflow's services (articles/editorial/workflow.py): states, approvals
going stale, the live version kept while a draft is edited."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from articles.editorial import content_checks, permissions, revisions, workflow
from articles.models import Article, ArticleRevision, Correction, Stage, Transition
from tests.factories import (
    make_article,
    make_draft,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = pytest.mark.django_db

LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def draft_data(article: Article, **changes) -> dict:
    data = revisions.snapshot(article)
    data.update(changes)
    return data


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Accounts log in with force_login: hashing strength is beside the point."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roles(db):
    return {
        "writer": make_role_user("Writer"),
        "reviewer": make_reviewer(),
        "editor": make_role_user("Editor"),
    }


def test_writer_submits_reviewer_approves_editor_publishes_with_reviewed_by(roles):
    writer, reviewer, editor = roles["writer"], roles["reviewer"], roles["editor"]
    topic = make_topic(medical=True)
    article = make_draft(topic=topic, summary=LONG_SUMMARY, created_by=writer)
    workflow.save_draft(
        article=article,
        data=draft_data(
            article,
            body="<p>Text [1].</p>",
            sources=[{"title": "A trial", "url": "https://example.org/t"}],
        ),
        user=writer,
    )
    workflow.submit_for_review(article=article, user=writer)
    with pytest.raises(workflow.WorkflowError, match="approval"):
        workflow.publish(article=article, user=editor)
    workflow.approve(article=article, user=reviewer, note="Accurate.")
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED
    workflow.publish(article=article, user=editor)
    article.refresh_from_db()
    assert article.is_live and article.stage == Stage.LIVE
    assert article.reviewer.user == reviewer
    assert article.reviewed_at == timezone.localdate()
    assert article.live_revision == article.latest_revision
    assert list(article.references.values_list("title", flat=True)) == ["A trial"]
    assert [t.to_stage for t in Transition.objects.filter(article=article)][:3] == [
        Stage.LIVE,
        Stage.APPROVED,
        Stage.IN_REVIEW,
    ]


def test_editing_a_live_article_leaves_the_public_row_until_published(roles):
    editor = roles["editor"]
    article = make_article(summary=LONG_SUMMARY, title="Old title")
    workflow.save_draft(
        article=article, data=draft_data(article, title="New title"), user=editor
    )
    article.refresh_from_db()
    assert article.title == "Old title"
    assert article.stage == Stage.DRAFT and article.is_live
    assert article.has_unpublished_changes
    workflow.publish(article=article, user=editor, correction="Fixed the title.")
    article.refresh_from_db()
    assert article.title == "New title"
    assert Correction.objects.get(article=article).text == "Fixed the title."


def test_an_approval_goes_stale_when_the_body_changes(roles):
    writer, reviewer, editor = roles["writer"], roles["reviewer"], roles["editor"]
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    workflow.save_draft(
        article=article,
        data=draft_data(article, sources=[{"title": "Source"}]),
        user=writer,
    )
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    workflow.save_draft(
        article=Article.objects.get(pk=article.pk),
        data=draft_data(article, body="<p>Changed.</p>", sources=[{"title": "Source"}]),
        user=editor,
    )
    article.refresh_from_db()
    assert article.stage == Stage.DRAFT
    with pytest.raises(workflow.WorkflowError, match="revision 2"):
        workflow.publish(article=article, user=editor)


def test_a_writer_cannot_publish_nor_approve(roles):
    writer = roles["writer"]
    article = make_draft(summary=LONG_SUMMARY, created_by=writer)
    with pytest.raises(workflow.WorkflowError, match="editor"):
        workflow.publish(article=article, user=writer)
    workflow.submit_for_review(article=article, user=writer)
    with pytest.raises(workflow.WorkflowError):
        workflow.approve(article=article, user=writer)
    article.refresh_from_db()
    assert article.stage == Stage.IN_REVIEW and not article.is_live


# Through the admin: the workflow views and the change page's panel -----------------


GOOD_CONTENT = {
    "summary": LONG_SUMMARY,
    "body": "<h2>What helps</h2><p>Retinoids help [1].</p>",
    "sources": [{"title": "A trial", "url": "https://example.org/trial"}],
}
# Content that fails exactly one check, by the check's code.
FAILING_CONTENT = {
    "image_alt": {
        "body": '<p>Retinoids help [1].</p><p><img src="/media/covers/a.png"></p>'
    },
    "headings": {"body": "<h2>One</h2><h4>Skipped a level</h4><p>Help [1].</p>"},
    "links": {
        "body": '<p>Retinoids help [1]: <a href="https://example.org/a">click here'
        "</a>.</p>"
    },
    "sources": {"body": "<p>Retinoids help.</p>", "sources": []},
    "citations": {"body": "<p>Retinoids help [1] and [3].</p>"},
    "summary": {"summary": "Too short."},
    "seo": {
        "seo_title": "A search engine title that runs on far longer than the seventy "
        "characters allowed"
    },
}


def workflow_url(action: str, article: Article) -> str:
    return reverse(f"admin:articles_article_workflow_{action}", args=[article.pk])


def change_url(article: Article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


def approved_medical_article(roles, **content) -> Article:
    """A medical article the reviewer approved, with `content` in its latest
    revision."""
    writer = roles["writer"]
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    data = draft_data(article, **{**GOOD_CONTENT, **content})
    if "seo_title" in content:
        # Longer than the field allows: a save refuses it, so the revision is
        # written directly, as an import from elsewhere might.
        revisions.create_revision(article=article, data=data, user=writer)
    else:
        workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=roles["reviewer"])
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED
    return article


def only_message(response) -> tuple[int, str]:
    [message] = list(get_messages(response.wsgi_request))
    return message.level, str(message)


@pytest.mark.parametrize("code", list(FAILING_CONTENT))
def test_each_content_check_blocks_publishing_through_the_view(client, roles, code):
    article = approved_medical_article(roles, **FAILING_CONTENT[code])
    [check] = content_checks.failing(article.latest_revision.data, medical=True)
    assert check.code == code
    steps = Transition.objects.filter(article=article).count()
    client.force_login(roles["editor"])

    response = client.post(workflow_url("publish", article))

    level, message = only_message(response)
    assert level == messages.ERROR
    assert check.reason in message and "give a reason" in message
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED and not article.is_live
    assert Transition.objects.filter(article=article).count() == steps
    page = client.get(change_url(article)).text
    assert f'data-check="{code}"' in page and check.reason in page
    assert 'name="override_reason"' in page


# A too-long SEO title never gets this far: the model's limits refuse it on save.
@pytest.mark.parametrize("code", [c for c in FAILING_CONTENT if c != "seo"])
def test_an_editor_override_publishes_and_records_the_reason(client, roles, code):
    article = approved_medical_article(roles, **FAILING_CONTENT[code])
    client.force_login(roles["editor"])

    response = client.post(
        workflow_url("publish", article),
        {"override_reason": "Reviewed by hand: fine for readers."},
    )

    level, message = only_message(response)
    assert level == messages.SUCCESS, message
    article.refresh_from_db()
    assert article.is_live and article.stage == Stage.LIVE
    step = Transition.objects.filter(article=article).first()
    assert step.actor == roles["editor"] and step.to_stage == Stage.LIVE
    assert "Reason: Reviewed by hand: fine for readers." in step.note
    [check] = content_checks.failing(article.latest_revision.data, medical=True)
    assert check.label in step.note
    assert "Reviewed by hand" in client.get(change_url(article)).text


def test_the_override_field_is_only_for_failing_checks_and_editors(client, roles):
    failing = approved_medical_article(roles, **FAILING_CONTENT["summary"])
    passing = approved_medical_article(roles)
    client.force_login(roles["editor"])
    page = client.get(change_url(failing)).text
    # Required: a publish refused for want of a reason would drop the correction
    # typed beside it.
    assert re.search(r'<textarea id="workflow-override" [^>]* required', page)
    assert 'name="override_reason"' not in client.get(change_url(passing)).text
    client.force_login(roles["reviewer"])
    assert 'name="override_reason"' not in client.get(change_url(failing)).text


def test_a_correction_entered_when_publishing_a_change_is_stored_and_listed(
    client, roles
):
    editor = roles["editor"]
    article = make_article(summary=LONG_SUMMARY, title="Sunscreen basics")
    workflow.save_draft(
        article=article,
        data=draft_data(article, body="<p>Reapply every two hours.</p>"),
        user=editor,
    )
    client.force_login(editor)
    page = client.get(change_url(article)).text
    assert 'name="correction"' in page and 'name="at"' not in page

    response = client.post(
        workflow_url("publish", article),
        {"correction": "We said every four hours; it is every two."},
    )

    assert only_message(response)[0] == messages.SUCCESS
    correction = Correction.objects.get(article=article)
    article.refresh_from_db()
    assert correction.text == "We said every four hours; it is every two."
    assert correction.created_by == editor
    assert correction.revision == article.live_revision == article.latest_revision
    step = Transition.objects.filter(article=article).first()
    assert "Correction: We said every four hours" in step.note
    history = client.get(change_url(article)).text
    assert "We said every four hours; it is every two." in history
    assert f"(revision {correction.revision.number})" in history


def test_a_correction_for_an_article_never_published_is_refused(client, roles):
    article = make_draft(summary=LONG_SUMMARY, created_by=roles["writer"])
    client.force_login(roles["editor"])
    page = client.get(change_url(article)).text
    assert 'name="correction"' not in page and 'name="at"' in page
    response = client.post(workflow_url("publish", article), {"correction": "Fixed."})
    level, message = only_message(response)
    assert level == messages.ERROR and "has not been published before" in message
    assert not Correction.objects.exists()
    assert not Article.objects.get(pk=article.pk).is_live


def test_an_editor_schedules_an_approved_article_through_the_view(client, roles):
    article = approved_medical_article(roles)
    moment = timezone.localtime() + timedelta(days=3)
    client.force_login(roles["editor"])
    response = client.post(
        workflow_url("publish", article), {"at": moment.strftime("%Y-%m-%dT%H:%M")}
    )
    level, message = only_message(response)
    assert level == messages.SUCCESS and "Scheduled" in message
    article.refresh_from_db()
    assert article.stage == Stage.SCHEDULED and article.is_scheduled
    assert article.published_at == moment.replace(second=0, microsecond=0)


def schedule(client, article: Article, days: int = 3) -> None:
    moment = timezone.localtime() + timedelta(days=days)
    client.post(
        workflow_url("publish", article),
        {"at": moment.strftime("%Y-%m-%dT%H:%M")},
        follow=True,
    )
    article.refresh_from_db()
    assert article.is_scheduled


def test_a_scheduled_article_is_published_now_when_published_without_a_time(
    client, roles
):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])
    schedule(client, article)
    assert 'data-action="publish"' in client.get(change_url(article)).text

    response = client.post(workflow_url("publish", article), {"at": ""})

    level, message = only_message(response)
    assert level == messages.SUCCESS and "readers see this version now" in message
    article.refresh_from_db()
    assert article.is_live and article.stage == Stage.LIVE
    assert article.published_at <= timezone.now()


def test_a_scheduled_article_is_rescheduled(client, roles):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])
    schedule(client, article, days=3)
    later = timezone.localtime() + timedelta(days=10)

    response = client.post(
        workflow_url("publish", article), {"at": later.strftime("%Y-%m-%dT%H:%M")}
    )

    assert only_message(response)[0] == messages.SUCCESS
    article.refresh_from_db()
    assert article.published_at == later.replace(second=0, microsecond=0)
    assert article.stage == Stage.SCHEDULED


def test_an_article_unpublished_before_its_time_is_live_when_published_again(
    client, roles
):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])
    schedule(client, article)
    client.post(workflow_url("unpublish", article), follow=True)

    response = client.post(workflow_url("publish", article), {"at": ""})

    assert only_message(response)[0] == messages.SUCCESS
    article.refresh_from_db()
    assert article.is_live and article.published_at <= timezone.now()


def test_a_correction_for_an_article_only_ever_scheduled_is_refused(client, roles):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])
    schedule(client, article)
    assert 'name="correction"' not in client.get(change_url(article)).text

    response = client.post(workflow_url("publish", article), {"correction": "Fixed."})

    level, message = only_message(response)
    assert level == messages.ERROR and "has not been published before" in message
    assert not Correction.objects.exists()


def test_a_publish_time_in_the_past_is_refused(client, roles):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])

    response = client.post(workflow_url("publish", article), {"at": "0001-01-01T00:00"})

    level, message = only_message(response)
    assert level == messages.ERROR and "has passed" in message
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED and article.published_at is None


def test_a_publish_time_a_minute_ago_publishes_now(client, roles):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])
    moment = timezone.localtime() - timedelta(minutes=1)

    client.post(
        workflow_url("publish", article), {"at": moment.strftime("%Y-%m-%dT%H:%M")}
    )

    article.refresh_from_db()
    assert article.is_live


class FormNesting(HTMLParser):
    """How deep <form> elements nest, and the ids of the outer ones."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = self.deepest = 0
        self.panel_inside_form = False

    def handle_starttag(self, tag, attrs):
        if tag == "form":
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)
        if tag == "section" and ("id", "workflow") in attrs and self.depth:
            self.panel_inside_form = True

    def handle_endtag(self, tag):
        if tag == "form":
            self.depth -= 1


def test_the_panel_sits_outside_the_change_form(client, roles):
    article = approved_medical_article(roles)
    client.force_login(roles["editor"])
    page = client.get(change_url(article)).text
    nesting = FormNesting()
    nesting.feed(page)
    assert 'id="workflow"' in page and 'data-action="publish"' in page
    assert nesting.deepest == 1 and not nesting.panel_inside_form
    assert page.index('id="workflow"') < page.index('id="article_form"')


def test_the_panel_tells_the_approval_state(client, roles):
    writer, editor = roles["writer"], roles["editor"]
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    client.force_login(editor)
    assert "Not yet reviewed" in client.get(change_url(article)).text
    article = approved_medical_article(roles)
    number = article.latest_revision.number
    page = client.get(change_url(article)).text
    assert f"Approved by Dr Reviewer, MD, FAAD for revision {number}" in page
    workflow.save_draft(
        article=article,
        data=draft_data(article, **{**GOOD_CONTENT, "body": "<p>New [1].</p>"}),
        user=editor,
    )
    page = client.get(change_url(article)).text
    assert f"Approval stale: it covers revision {number}" in page
    assert "needs a medical reviewer" in page


def test_the_panel_says_what_readers_see_and_whether_changes_wait(client, roles):
    editor = roles["editor"]
    article = make_article(summary=LONG_SUMMARY)
    client.force_login(editor)
    page = client.get(change_url(article)).text
    assert "A published version" in page and "Unpublished changes</dt>" in page
    assert ArticleRevision.objects.filter(article=article).count() == 0
    workflow.save_draft(
        article=article, data=draft_data(article, title="Better title"), user=editor
    )
    page = client.get(change_url(article)).text
    assert "Yes: revision 2 is a draft; readers see revision 1" in page
    workflow.assign_reviewer(article=article, user=editor, reviewer=roles["reviewer"])
    page = client.get(change_url(article)).text
    assert '<option value="{}" selected>'.format(roles["reviewer"].pk) in page


def test_the_writer_reads_the_requested_changes_in_the_panel(client, roles):
    writer, reviewer = roles["writer"], roles["reviewer"]
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    workflow.submit_for_review(article=article, user=writer)
    workflow.request_changes(
        article=article, user=reviewer, note="Cite the size.\nAnd the dose."
    )
    client.force_login(writer)

    panel = client.get(change_url(article)).text.split('id="workflow-heading"')[1]
    panel = panel.split('id="workflow-history"')[0].split("</dl>")[0]

    assert "Changes asked for" in panel
    assert "Cite the size.<br>And the dose." in panel
    workflow.submit_for_review(article=article, user=writer)
    assert "Changes asked for" not in client.get(change_url(article)).text


def test_history_lists_every_step_newest_first(client, roles):
    writer, reviewer = roles["writer"], roles["reviewer"]
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    workflow.save_draft(
        article=article, data=draft_data(article, **GOOD_CONTENT), user=writer
    )
    workflow.submit_for_review(article=article, user=writer)
    workflow.request_changes(article=article, user=reviewer, note="Cite the size.")
    workflow.submit_for_review(article=article, user=writer, note="Added it.")
    workflow.approve(article=article, user=reviewer)
    client.force_login(roles["editor"])
    client.post(workflow_url("publish", article))

    history = client.get(change_url(article)).text.split('id="workflow-history"')[1]

    stage = r"<td>(Draft|In review|Changes requested|Approved|Live)</td>"
    # (from, to) pairs, newest first.
    assert re.findall(stage, history) == [
        *("Approved", "Live"),
        *("In review", "Approved"),
        *("Changes requested", "In review"),
        *("In review", "Changes requested"),
        *("Draft", "In review"),
    ]
    people = re.findall(r"<td>(writer|reviewer|editor)</td>", history)
    assert people == ["editor", "reviewer", "writer", "reviewer", "writer"]
    assert history.index("Added it.") < history.index("Cite the size.")


def test_approving_a_revision_other_than_the_one_read_is_refused(roles):
    writer, reviewer = roles["writer"], roles["reviewer"]
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    workflow.save_draft(
        article=article, data=draft_data(article, body="<p>One.</p>"), user=writer
    )
    workflow.submit_for_review(article=article, user=writer)
    read = Article.objects.get(pk=article.pk).latest_revision.number
    # An editor saves a change (outside what an approval covers: where it is
    # placed, so the article stays in review) while the reviewer still reads the
    # old page.
    workflow.save_draft(
        article=Article.objects.get(pk=article.pk),
        data=draft_data(article, body="<p>One.</p>", featured=True),
        user=roles["editor"],
    )
    assert Article.objects.get(pk=article.pk).stage == Stage.IN_REVIEW
    with pytest.raises(workflow.WorkflowError, match=f"revision {read} you"):
        workflow.approve(article=article, user=reviewer, revision_number=read)
    assert not article.approvals.exists()


def test_the_publish_button_carries_the_revision_shown(roles, client):
    editor = roles["editor"]
    article = make_article(summary=LONG_SUMMARY, title="Old title")
    shown = revisions.latest(article).number
    workflow.save_draft(
        article=article, data=draft_data(article, title="Unseen"), user=editor
    )
    client.force_login(editor)
    change = reverse("admin:articles_article_change", args=[article.pk])
    assert f'name="revision" value="{shown + 1}"' in client.get(change).text
    response = client.post(
        f"/admin/articles/article/{article.pk}/workflow/publish/",
        {"revision": shown},
        follow=True,
    )
    assert "Nothing was done" in response.text
    article.refresh_from_db()
    assert article.title == "Old title"


def test_a_reviewer_asks_for_changes_to_a_live_unreviewed_article(roles, client):
    reviewer, editor = roles["reviewer"], roles["editor"]
    article = make_article(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, title="Launch"
    )
    Article.objects.filter(pk=article.pk).update(stage=Stage.LIVE)
    article.refresh_from_db()
    assert workflow.Action.REQUEST_CHANGES in permissions.allowed(reviewer, article)
    workflow.request_changes(article=article, user=reviewer, note="Add sources.")
    article.refresh_from_db()
    assert article.stage == Stage.CHANGES_REQUESTED and article.is_live
    # Out of the reviewers' queue until resubmitted; readers still see it.
    client.force_login(reviewer)
    assert "Launch" not in client.get(reverse("admin:index")).text
    assert client.get(article.get_absolute_url()).status_code == 200
    workflow.save_draft(
        article=article,
        data=draft_data(article, sources=[{"title": "A trial"}]),
        user=editor,
    )
    workflow.submit_for_review(article=article, user=editor)
    workflow.approve(article=article, user=reviewer)
    workflow.publish(article=article, user=editor)
    article.refresh_from_db()
    assert article.stage == Stage.LIVE and article.reviewer.user == reviewer
