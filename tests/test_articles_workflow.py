"""The editorial workflow's services (articles/workflow.py): states, approvals
going stale, the live version kept while a draft is edited."""

import pytest
from django.utils import timezone

from articles import revisions, workflow
from articles.models import Article, Correction, Stage, Transition
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
