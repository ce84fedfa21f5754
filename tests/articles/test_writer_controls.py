"""Each role is shown only the editing controls it may use: "Featured" and "Share
a preview" are an editor's. Hidden controls are refused on the server too, for
a crafted POST to the admin form as for a call to the workflow."""

import pytest
from django.urls import reverse

from articles.editorial import revisions, workflow
from articles.errors import WorkflowError
from articles.models import Article, PreviewLink, Stage
from tests.factories import (
    admin_article_form,
    make_draft,
    make_role_user,
    make_staff,
)

pytestmark = pytest.mark.django_db

ROLES = ["Writer", "Medical reviewer", "Editor", "superuser"]
MAY_FEATURE = {"Editor", "superuser"}


def person(role: str):
    return make_staff(username="boss") if role == "superuser" else make_role_user(role)


def own_draft(user) -> Article:
    article = make_draft(created_by=user, stage=Stage.DRAFT)
    workflow.save_draft(article=article, data=revisions.snapshot(article), user=user)
    return Article.objects.get(pk=article.pk)


def change_url(article: Article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


def form_data(article: Article, **overrides) -> dict:
    data = admin_article_form(
        title=article.title,
        slug=article.slug,
        summary=article.summary,
        body=article.body,
        author=article.author_id,
        topic=article.topic_id,
        base_revision=article.latest_revision_id,
    )
    return {**data, **overrides}


@pytest.mark.parametrize("role", ROLES)
def test_featured_and_share_a_preview_show_only_to_those_who_may_use_them(client, role):
    user = person(role)
    article = own_draft(user if role != "Medical reviewer" else make_staff())
    client.force_login(user)
    text = client.get(change_url(article)).text
    may = role in MAY_FEATURE
    assert ('name="featured"' in text) is may
    assert ("Share a preview" in text) is may
    if role != "Medical reviewer":
        added = client.get(reverse("admin:articles_article_add")).text
        assert ('name="featured"' in added) is may


@pytest.mark.parametrize("role", ROLES)
def test_a_crafted_featured_post_features_only_for_an_editor(client, role):
    user = person(role)
    owner = make_staff() if role == "Medical reviewer" else user
    article = own_draft(owner)
    client.force_login(user)
    response = client.post(change_url(article), form_data(article, featured="on"))
    latest = Article.objects.get(pk=article.pk).latest_revision
    if role == "Medical reviewer":
        assert response.status_code == 403
        assert latest.data["featured"] is False
    else:
        assert response.status_code == 302
        assert latest.data["featured"] is (role in MAY_FEATURE)


def test_a_writer_adding_an_article_cannot_feature_it(client):
    writer = make_role_user("Writer")
    client.force_login(writer)
    response = client.post(
        reverse("admin:articles_article_add"), admin_article_form(featured="on")
    )
    assert response.status_code == 302
    assert Article.objects.get().featured is False


@pytest.mark.parametrize("role", ["Writer", "Editor"])
def test_the_workflow_refuses_a_featured_change_from_a_writer(role):
    user = person(role)
    article = own_draft(user)
    data = {**revisions.snapshot(article), "featured": True}
    if role == "Writer":
        with pytest.raises(WorkflowError, match="Only an editor can feature"):
            workflow.save_draft(article=article, data=data, user=user)
        assert article.revisions.count() == 1
        new = Article(title="New")
        with pytest.raises(WorkflowError, match="Only an editor can feature"):
            workflow.save_draft(article=new, data=data | {"slug": "new"}, user=user)
    else:
        revision = workflow.save_draft(article=article, data=data, user=user)
        assert revision.data["featured"] is True


def test_a_writer_restoring_a_revision_keeps_the_current_placement():
    editor = make_role_user("Editor")
    writer = make_role_user("Writer")
    article = own_draft(writer)
    first = article.latest_revision
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), "featured": True, "title": "Edited"},
        user=editor,
    )
    restored = workflow.restore_revision(
        article=Article.objects.get(pk=article.pk), revision=first, user=writer
    )
    assert restored.data["featured"] is True
    assert restored.data["title"] == first.data["title"]


@pytest.mark.parametrize("role", ["Writer", "Medical reviewer"])
def test_a_crafted_share_link_post_is_refused(client, role):
    user = person(role)
    article = own_draft(make_staff())
    client.force_login(user)
    response = client.post(
        reverse("admin:articles_article_preview_links", args=[article.pk]),
        {"days": "7"},
        follow=True,
    )
    assert "Only an editor can do this." in response.text
    assert not PreviewLink.objects.exists()
