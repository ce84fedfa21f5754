"""Marking a correction as changing the advice, and how newsletter readers hear of
it: only those who may publish (editors) set it, on every path; the database
refuses "tell them now" for a correction that does not change the advice."""

import pytest
from django.contrib import messages
from django.db import IntegrityError, transaction

from articles.editorial import workflow
from articles.errors import WorkflowError
from articles.models import Article, Correction, Transition
from newsletter.models import Issue
from tests.articles.test_workflow import (
    LONG_SUMMARY,
    change_url,
    draft_data,
    only_message,
    workflow_url,
)
from tests.factories import make_article, make_reviewer, make_role_user

pytestmark = pytest.mark.django_db

TELL_NOW = {
    "correction": "We said SPF 15 was enough; we now advise SPF 30 or more.",
    "changes_advice": "on",
    "tell_readers": "now",
}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def roles(db) -> dict:
    return {
        "writer": make_role_user("Writer"),
        "reviewer": make_reviewer(),
        "editor": make_role_user("Editor"),
        "newsletter_editor": make_role_user("Newsletter editor"),
    }


def changed_live_article(editor) -> Article:
    """A live article with an unpublished change to its advice."""
    article = make_article(summary=LONG_SUMMARY, title="Sunscreen basics")
    workflow.save_draft(
        article=article,
        data=draft_data(article, body="<p>Use SPF 30 or more.</p>"),
        user=editor,
    )
    return article


def test_an_editor_marks_a_correction_as_changing_the_advice_and_tells_readers_now(
    client, roles
):
    editor = roles["editor"]
    article = changed_live_article(editor)
    client.force_login(editor)
    page = client.get(change_url(article)).text
    assert 'name="changes_advice"' in page and 'name="tell_readers"' in page
    assert 'value="next_digest" checked' in page

    response = client.post(workflow_url("publish", article), TELL_NOW)

    assert only_message(response)[0] == messages.SUCCESS
    correction = Correction.objects.get(article=article)
    assert correction.changes_advice is True
    assert correction.tell_readers == Correction.TellReaders.NOW
    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)
    assert notice.correction == correction and notice.status == Issue.Status.DRAFT
    step = Transition.objects.filter(article=article).first()
    assert "changes the advice" in step.note
    assert "newsletter readers told now, in a notice" in (
        client.get(change_url(article)).text
    )


def test_by_default_a_correction_changes_no_advice_and_waits_for_the_digest(
    client, roles
):
    editor = roles["editor"]
    article = changed_live_article(editor)
    client.force_login(editor)
    client.post(workflow_url("publish", article), {"correction": "A typo fixed."})
    correction = Correction.objects.get(article=article)
    assert correction.changes_advice is False
    assert correction.tell_readers == Correction.TellReaders.NEXT_DIGEST
    assert not Issue.objects.exists()


@pytest.mark.parametrize("role", ["writer", "reviewer", "newsletter_editor"])
def test_only_those_who_may_publish_can_tell_readers_of_a_correction(
    client, roles, role
):
    article = changed_live_article(roles["editor"])
    client.force_login(roles[role])
    page = client.get(change_url(article))
    assert 'name="tell_readers"' not in page.text

    response = client.post(workflow_url("publish", article), TELL_NOW)

    assert response.status_code in {302, 403}
    assert not Correction.objects.exists()
    assert not Issue.objects.exists()
    article.refresh_from_db()
    assert article.has_unpublished_changes
    with pytest.raises(WorkflowError):
        workflow.publish(
            article=article,
            user=roles[role],
            correction=TELL_NOW["correction"],
            changes_advice=True,
            tell_readers=Correction.TellReaders.NOW,
        )
    assert not Correction.objects.exists() and not Issue.objects.exists()


@pytest.mark.parametrize(
    ("form", "says"),
    [
        (
            {"correction": "Typo.", "tell_readers": "now"},
            "Readers are told at once only of a change to the advice",
        ),
        ({"changes_advice": "on"}, "Write the correction for readers"),
        ({"tell_readers": "now"}, "Write the correction for readers"),
        ({"correction": "Typo.", "tell_readers": "by pigeon"}, "Unknown way"),
    ],
)
def test_a_telling_that_cannot_hold_is_refused_and_nothing_is_published(
    client, roles, form, says
):
    editor = roles["editor"]
    article = changed_live_article(editor)
    client.force_login(editor)

    response = client.post(workflow_url("publish", article), form)

    level, message = only_message(response)
    assert level == messages.ERROR and says in message
    article.refresh_from_db()
    assert article.has_unpublished_changes
    assert not Correction.objects.exists() and not Issue.objects.exists()


def test_the_database_refuses_telling_now_a_correction_that_changes_no_advice():
    article = make_article()
    with pytest.raises(IntegrityError), transaction.atomic():
        Correction.objects.create(
            article=article,
            text="Typo.",
            changes_advice=False,
            tell_readers=Correction.TellReaders.NOW,
        )
    Correction.objects.create(
        article=article,
        text="Advice changed.",
        changes_advice=True,
        tell_readers=Correction.TellReaders.NOW,
    )
