"""The last step of an invitation for writers and reviewers: "Your author
profile" (articles/admin/author_profile.py) makes and links the profile readers
see; from then on one name shows for the person everywhere."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from articles.editorial import revisions, workflow
from articles.models import Article, Author, Stage
from articles.services import save_author
from staff.invitations import services as invitations
from tests.articles.test_roles import GOOD_CONTENT, LONG_SUMMARY, fresh
from tests.conftest import give_second_factor
from tests.factories import (
    admin_article_form,
    make_draft,
    make_role_user,
    make_staff,
    make_topic,
)

pytestmark = pytest.mark.django_db
STEP = "admin:articles_author_mine"
PASSWORD = "Lavender-pillow-1987"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def accepted(client, role: str, *, name: str = "Ada Lovelace", username="ada"):
    """An invitation in `role` accepted in `client`, as the emailed link would."""
    boss = get_user_model().objects.filter(username="boss").first() or make_staff(
        username="boss"
    )
    _, link = invitations.invite(
        email=f"{username}@example.com", role=role, invited_by=boss
    )
    response = client.post(
        link,
        {
            "name": name,
            "username": username,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response["Location"] == reverse(STEP)
    user = get_user_model().objects.get(username=username)
    # The second factor is on in tests: enrolled (tests/staff cover that step).
    give_second_factor(client, user)
    return user


def test_a_reviewer_must_give_credentials(client):
    user = accepted(client, "reviewer")
    page = client.get(reverse(STEP))
    assert page.status_code == 200 and "Required for medical reviewers" in page.text
    assert 'value="Ada Lovelace"' in page.text  # the name given at acceptance
    response = client.post(reverse(STEP), {"name": "Dr Ada Lovelace"})
    assert response.status_code == 400
    assert not Author.objects.filter(user=user).exists()


def test_acceptance_then_the_step_makes_and_links_the_reviewers_profile(client):
    user = accepted(client, "reviewer")
    response = client.post(
        reverse(STEP), {"name": "Dr Ada  Lovelace", "credentials": "MD, FAAD"}
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:index"
    )
    author = Author.objects.get(user=user)
    assert (author.name, author.credentials) == ("Dr Ada Lovelace", "MD, FAAD")
    user.refresh_from_db()
    assert user.get_full_name() == "Dr Ada Lovelace"
    # Done once: the step now sends them on.
    assert client.get(reverse(STEP))["Location"] == reverse("admin:index")


def test_a_writers_first_article_save_works_with_their_own_profile(client):
    user = accepted(client, "writer")
    client.post(reverse(STEP), {"name": "Ada Lovelace", "credentials": ""})
    own = Author.objects.get(user=user)
    add = client.get(reverse("admin:articles_article_add"))
    assert f'<option value="{own.pk}" selected>' in add.text
    data = admin_article_form(author=own.pk)
    response = client.post(reverse("admin:articles_article_add"), data)
    assert response.status_code == 302
    assert Article.objects.get().author == own


def test_a_reviewer_invited_can_approve_once_the_profile_is_made(client):
    reviewer = accepted(client, "reviewer", username="rev")
    client.post(reverse(STEP), {"name": "Dr Rev", "credentials": "MD"})
    writer = make_role_user("Writer")
    article = make_draft(
        topic=make_topic(medical=True), created_by=writer, summary=LONG_SUMMARY
    )
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), **GOOD_CONTENT},
        user=writer,
    )
    workflow.submit_for_review(article=fresh(article), user=writer)
    approval = workflow.approve(article=fresh(article), user=reviewer)
    assert fresh(article).stage == Stage.APPROVED
    assert approval.reviewer.user == reviewer


@pytest.mark.parametrize("role", ["editor", "newsletter"])
def test_editors_and_newsletter_editors_skip_the_step(client, role):
    user = accepted(client, role)
    assert client.get(reverse(STEP))["Location"] == reverse("admin:index")
    assert client.post(reverse(STEP), {"name": "X", "credentials": "Y"}).status_code
    assert not Author.objects.filter(user=user).exists()


@pytest.mark.parametrize("role", ["Writer", "Medical reviewer"])
def test_an_older_account_without_a_profile_is_sent_to_the_step(client, role):
    client.force_login(make_role_user(role))
    dashboard = client.get(reverse("admin:index")).text
    assert reverse(STEP) in dashboard and "no author profile" in dashboard


def test_accounts_with_a_profile_are_not_told_to_make_one(client):
    client.force_login(make_staff(username="chief"))
    assert reverse(STEP) not in client.get(reverse("admin:index")).text


def test_one_name_shows_in_the_reviewer_dropdown_and_the_history(client):
    reviewer = accepted(client, "reviewer", username="rev-user")
    client.post(reverse(STEP), {"name": "Dr Ada Lovelace", "credentials": "MD"})
    client.logout()
    reviewer.refresh_from_db()
    editor = make_role_user("Editor")
    article = make_draft(created_by=editor, topic=make_topic(medical=True))
    workflow.save_draft(article=article, data=revisions.snapshot(article), user=editor)
    workflow.assign_reviewer(article=fresh(article), user=editor, reviewer=reviewer)
    client.force_login(editor)
    page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert "Dr Ada Lovelace (MD)</option>" in page.text
    assert "Reviewer: Dr Ada Lovelace" in page.text  # the workflow history
    assert "rev-user" not in page.text


def test_renaming_a_profile_renames_its_account():
    user = make_role_user("Writer", username="w")
    author = Author(name="Old Name", slug="old-name", user=user)
    save_author(author=author, user=user)
    author.name = "Grace Brewster Hopper"
    save_author(author=author, user=user)
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Grace Brewster", "Hopper")
    team = Author(name="Editorial team", slug="team", kind=Author.Kind.ORGANIZATION)
    save_author(author=team, user=make_staff(username="chief"))
    assert not get_user_model().objects.filter(first_name="Editorial").exists()


def test_the_author_form_names_accounts_by_their_one_name(client):
    writer = make_role_user("Writer", username="w-user")
    writer.first_name, writer.last_name = "Grace", "Hopper"
    writer.save()
    client.force_login(make_staff(username="chief"))
    page = client.get(reverse("admin:articles_author_add")).text
    assert f'<option value="{writer.pk}">Grace Hopper (w-user)</option>' in page
    assert ">chief</option>" in page  # no name: the username alone


def test_accounts_linked_before_take_their_profiles_name():
    migration = import_module("articles.migrations.0011_name_accounts_from_profiles")
    linked = make_role_user("Medical reviewer", username="old-rev")
    named = make_role_user("Writer", username="named")
    named.first_name = "Chosen"
    named.save()
    Author.objects.create(name="Dr Old Reviewer", slug="old", user=linked)
    Author.objects.create(name="Profile Name", slug="pn", user=named)
    migration.name_accounts(django_apps, None)
    linked.refresh_from_db()
    named.refresh_from_db()
    assert linked.get_full_name() == "Dr Old Reviewer"
    assert named.get_full_name() == "Chosen"  # a name of their own is kept
