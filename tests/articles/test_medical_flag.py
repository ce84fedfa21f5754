"""The medical flag is no switch around the review, and an approval names its
reviewer as they were (articles/editorial/medical.py, workflow.mark_not_medical,
services.save_topic / mark_topic_not_medical / save_author)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles import services
from articles.editorial import permissions, revisions, workflow
from articles.models import (
    Article,
    AuthorChange,
    MedicalFlagChange,
    Stage,
    Topic,
    Transition,
)
from tests.articles.test_editing import form_data
from tests.factories import (
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
    make_topic,
)

pytestmark = pytest.mark.django_db

LONG_SUMMARY = (
    "Keratosis pilaris makes small rough bumps on the arms; this explains what "
    "helps, what does not, and when to see a dermatologist about it."
)
BODY = "<h2>What helps</h2><p>Urea creams soften the bumps [1].</p>"
SOURCES = [{"title": "A trial of urea", "url": "https://example.org/trial"}]


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db) -> dict:
    return {
        "writer": make_role_user("Writer"),
        "reviewer": make_reviewer(username="rita", credentials="MD, FAAD"),
        "editor": make_role_user("Editor"),
        "superuser": make_staff(username="root"),
    }


def fresh(article: Article) -> Article:
    return Article.objects.get(pk=article.pk)


def edit(article: Article, user, **changes):
    article = fresh(article)
    data = {**revisions.latest(article).data, **changes}
    return workflow.save_draft(article=article, data=data, user=user)


def reviewed_live(people, **fields) -> Article:
    """A live article whose live version a reviewer approved."""
    article = make_draft(summary=LONG_SUMMARY, created_by=people["writer"], **fields)
    edit(article, people["writer"], body=BODY, sources=SOURCES)
    workflow.submit_for_review(article=fresh(article), user=people["writer"])
    workflow.approve(article=fresh(article), user=people["reviewer"])
    workflow.publish(article=fresh(article), user=people["editor"])
    return fresh(article)


def unreviewed_draft(people, **fields) -> Article:
    article = make_draft(summary=LONG_SUMMARY, created_by=people["writer"], **fields)
    edit(article, people["writer"], body=BODY, sources=SOURCES)
    return fresh(article)


# An article's own flag ----------------------------------------------------------


@pytest.mark.parametrize("role", ["writer", "editor", "superuser"])
def test_unticking_medical_on_an_article_is_refused_to_all_but_reviewers(people, role):
    """Before: an editor unticked "medical", published unreviewed text, and ticked
    it again. Now the save is refused and nothing is kept."""
    article = unreviewed_draft(people, topic=make_topic(), medical=True)
    count = article.revisions.count()
    with pytest.raises(workflow.WorkflowError, match="only a medical reviewer"):
        edit(article, people[role], medical=False, body="<p>Unreviewed.</p>")
    assert article.revisions.count() == count
    assert fresh(article).medical is True
    with pytest.raises(workflow.WorkflowError, match="medical reviewer's approval"):
        workflow.publish(article=fresh(article), user=people["editor"])


def test_a_crafted_form_post_cannot_untick_medical(client, people):
    editor = people["editor"]
    article = unreviewed_draft(people, topic=make_topic(), medical=True)
    client.force_login(editor)
    url = reverse("admin:articles_article_change", args=[article.pk])
    shown = client.get(url)
    assert shown.context["adminform"].form.fields["medical"].disabled
    data = form_data(shown)
    data.pop("medical", None)  # the box unticked, sent by hand
    data["body"] = "<p>Unreviewed.</p>"
    response = client.post(url, data)
    assert response.status_code == 302
    # A disabled field keeps its value whatever is posted: still medical.
    assert revisions.latest(fresh(article)).data["medical"] is True
    with pytest.raises(workflow.WorkflowError, match="medical reviewer's approval"):
        workflow.publish(article=fresh(article), user=editor)


def test_moving_a_medical_article_out_of_its_medical_topic_is_refused(people):
    article = unreviewed_draft(people, topic=make_topic(medical=True))
    with pytest.raises(workflow.WorkflowError, match="only a medical reviewer"):
        edit(article, people["editor"], topic_id=make_topic(medical=False).pk)
    assert fresh(article).topic.medical


def test_anyone_who_may_edit_may_mark_an_article_medical(people):
    article = unreviewed_draft(people, topic=make_topic())
    edit(article, people["writer"], medical=True)
    change = MedicalFlagChange.objects.get(article=article)
    assert change.medical and change.actor == people["writer"]


def test_a_reviewer_marks_an_article_not_medical_with_a_logged_reason(client, people):
    article = unreviewed_draft(people, topic=make_topic(), medical=True)
    client.force_login(people["reviewer"])
    url = reverse("admin:articles_article_workflow_mark_not_medical", args=[article.pk])
    response = client.post(url, {"reason": ""}, follow=True)
    assert "Say why" in response.text
    assert fresh(article).medical is True
    response = client.post(url, {"reason": "A make-up tutorial."}, follow=True)
    assert "Marked not medical" in response.text
    assert fresh(article).medical is False
    change = MedicalFlagChange.objects.get(article=article)
    assert (change.medical, change.reason) == (False, "A make-up tutorial.")
    logged = Transition.objects.filter(article=article).first()
    assert logged.note == "Marked not medical. Reason: A make-up tutorial."
    assert logged.actor == people["reviewer"]
    history = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert "Marked not medical. Reason: A make-up tutorial." in history.text


@pytest.mark.parametrize("role", ["writer", "editor", "superuser"])
def test_a_crafted_post_to_mark_not_medical_is_refused_to_other_roles(
    client, people, role
):
    article = unreviewed_draft(people, topic=make_topic(), medical=True)
    client.force_login(people[role])
    response = client.post(
        reverse("admin:articles_article_workflow_mark_not_medical", args=[article.pk]),
        {"reason": "Because."},
        follow=True,
    )
    assert "Only a medical reviewer can mark an article not medical" in response.text
    assert fresh(article).medical is True
    assert not MedicalFlagChange.objects.exists()
    with pytest.raises(workflow.WorkflowError, match="Only a medical reviewer"):
        workflow.mark_not_medical(
            article=fresh(article), user=people[role], reason="Because."
        )


def test_a_non_medical_version_replaces_a_medical_live_one_only_when_approved(people):
    article = reviewed_live(people, topic=make_topic(), medical=True)
    workflow.mark_not_medical(
        article=article, user=people["reviewer"], reason="Cosmetic only."
    )
    edit(article, people["editor"], body="<p>Unreviewed text.</p>")
    with pytest.raises(workflow.WorkflowError, match="the one readers see is"):
        workflow.publish(article=fresh(article), user=people["editor"])
    assert "Unreviewed" not in fresh(article).body
    workflow.submit_for_review(article=fresh(article), user=people["editor"])
    with pytest.raises(workflow.WorkflowError, match="Only a medical reviewer"):
        workflow.approve(article=fresh(article), user=people["editor"])
    workflow.approve(article=fresh(article), user=people["reviewer"])
    workflow.publish(article=fresh(article), user=people["editor"])
    assert fresh(article).medical is False


def test_a_live_article_ticked_medical_in_a_draft_can_be_approved_and_published(
    people,
):
    """The approval of a draft that turns medical is a medical approval, so the
    medical version can be published (it was stuck before)."""
    article = reviewed_live(people, topic=make_topic())
    edit(article, people["editor"], medical=True)
    workflow.submit_for_review(article=fresh(article), user=people["editor"])
    with pytest.raises(workflow.WorkflowError, match="Only a medical reviewer"):
        workflow.approve(article=fresh(article), user=people["editor"])
    approval = workflow.approve(article=fresh(article), user=people["reviewer"])
    assert approval is not None
    workflow.publish(article=fresh(article), user=people["editor"])
    assert fresh(article).medical and fresh(article).reviewer_name == "Dr Rita"


# A topic's flag ----------------------------------------------------------------------


def topic_form(topic: Topic, **changes) -> dict:
    data = {
        "name": topic.name,
        "slug": topic.slug,
        "description": topic.description,
        "review_interval_months": topic.review_interval_months,
    }
    if topic.medical:
        data["medical"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_an_editor_cannot_untick_a_topic_by_form_or_service(client, people):
    """Before: an editor unticked "medical" on the topic, published unreviewed
    text and ticked it again (migration 0005 gives Editor change_topic)."""
    topic = make_topic(medical=True)
    client.force_login(people["editor"])
    url = reverse("admin:articles_topic_change", args=[topic.pk])
    assert client.get(url).context["adminform"].form.fields["medical"].disabled
    response = client.post(url, topic_form(topic, medical=None))
    assert response.status_code == 302
    topic.refresh_from_db()
    assert topic.medical
    topic.medical = False
    with pytest.raises(workflow.WorkflowError, match="Only a medical reviewer"):
        services.save_topic(topic=topic, user=people["superuser"])
    assert Topic.objects.get(pk=topic.pk).medical


@pytest.mark.parametrize("role", ["writer", "editor", "superuser"])
def test_a_crafted_post_to_mark_a_topic_not_medical_is_refused_to_non_reviewers(
    client, people, role
):
    topic = make_topic(medical=True)
    client.force_login(people[role])
    response = client.post(
        reverse("admin:articles_topic_not_medical", args=[topic.pk]),
        {"reason": "Because."},
        follow=True,
    )
    assert "Only a medical reviewer can mark a topic not medical" in response.text
    assert Topic.objects.get(pk=topic.pk).medical
    assert not MedicalFlagChange.objects.exists()


def test_a_reviewer_marks_a_topic_not_medical_logged_on_it_and_its_articles(
    client, people
):
    topic = make_topic(medical=True, name="Make-up")
    article = reviewed_live(people, topic=topic)
    client.force_login(people["reviewer"])
    url = reverse("admin:articles_topic_not_medical", args=[topic.pk])
    page = client.get(reverse("admin:articles_topic_change", args=[topic.pk]))
    assert url in page.text
    response = client.post(url, {"reason": "  "}, follow=True)
    assert "Say why" in response.text and Topic.objects.get(pk=topic.pk).medical
    response = client.post(url, {"reason": "Cosmetics only."}, follow=True)
    assert "no longer medical" in response.text
    assert not Topic.objects.get(pk=topic.pk).medical
    change = MedicalFlagChange.objects.get(topic=topic)
    assert (change.actor, change.reason) == (people["reviewer"], "Cosmetics only.")
    assert "Cosmetics only." in response.text  # the topic's own history
    note = Transition.objects.filter(article=article).first().note
    assert note == "Topic “Make-up” marked not medical (Cosmetics only.)."


def test_the_old_side_door_in_any_order_never_publishes_unreviewed_text(client, people):
    """Reviewer turns the topic off (logged), an editor schedules unreviewed text,
    the topic turns medical again: the scheduled article is taken off the
    schedule and never goes live; a live one says "Not yet medically reviewed"
    and waits in the reviewers' queue."""
    topic = make_topic(medical=True, name="Acne")
    services.mark_topic_not_medical(
        topic=topic, user=people["reviewer"], reason="Trial."
    )
    scheduled = unreviewed_draft(people, topic=topic)
    workflow.publish(
        article=scheduled,
        user=people["editor"],
        at=timezone.now() + timedelta(days=1),
    )
    live = unreviewed_draft(people, topic=topic)
    workflow.publish(article=live, user=people["editor"])
    assert fresh(scheduled).is_scheduled and fresh(live).is_live

    topic = Topic.objects.get(pk=topic.pk)
    topic.medical = True
    services.save_topic(topic=topic, user=people["editor"])

    scheduled = fresh(scheduled)
    assert scheduled.status == Article.Status.DRAFT
    assert scheduled.stage == Stage.IN_REVIEW
    assert "Taken off the schedule" in scheduled.transitions.first().note
    assert not Article.objects.published().filter(pk=scheduled.pk).exists()
    with pytest.raises(workflow.WorkflowError, match="medical reviewer's approval"):
        workflow.publish(article=scheduled, user=people["editor"])
    assert "Not yet medically reviewed" in client.get(live.get_absolute_url()).text
    assert permissions.needs_live_approval(fresh(live))
    assert "Not yet medically reviewed" in fresh(live).transitions.first().note
    assert MedicalFlagChange.objects.filter(topic=topic, medical=True).exists()


def test_only_staff_who_may_change_topics_save_them(people):
    topic = make_topic(name="Acne")
    topic.name = "Spots"
    with pytest.raises(workflow.WorkflowError, match="cannot change topics"):
        services.save_topic(topic=topic, user=people["writer"])
    assert Topic.objects.get(pk=topic.pk).name == "Acne"


# Who the approval names ---------------------------------------------------------------


def profile_form(author, **changes) -> dict:
    data = {
        "name": author.name,
        "kind": author.kind,
        "slug": author.slug,
        "credentials": author.credentials,
        "bio": author.bio,
        "user": author.user_id or "",
    }
    data.update(changes)
    return data


def test_an_editor_cannot_rewrite_a_reviewers_name_or_credentials(client, people):
    """Before: migration 0005 gives Editor change_author, so an editor could make
    every "Medically reviewed by" line say what they liked."""
    profile = people["reviewer"].author_profile
    client.force_login(people["editor"])
    url = reverse("admin:articles_author_change", args=[profile.pk])
    shown = client.get(url)
    assert "credentials" not in shown.context["adminform"].form.fields
    client.post(url, profile_form(profile, credentials="Nobel laureate"))
    profile.refresh_from_db()
    assert profile.credentials == "MD, FAAD"
    profile.name = "Dr Famous"
    with pytest.raises(workflow.WorkflowError, match="medical reviewer's profile"):
        services.save_author(author=profile, user=people["editor"])
    assert not AuthorChange.objects.exists()


def test_an_editor_cannot_link_a_profile_to_a_reviewer_account(people):
    ghost = make_reviewer(username="ghost")
    ghost.author_profile.delete()
    fake = make_author(name="Dr Fake", credentials="MD")
    fake.user = ghost
    with pytest.raises(workflow.WorkflowError, match="medical reviewer's profile"):
        services.save_author(author=fake, user=people["editor"])


def test_an_editor_still_edits_a_reviewers_bio_and_other_bylines(people):
    profile = people["reviewer"].author_profile
    profile.bio = "Dermatologist in Leeds."
    services.save_author(author=profile, user=people["editor"])
    writer_byline = make_author(name="Wendy")
    writer_byline.name = "Wendy W."
    services.save_author(author=writer_byline, user=people["editor"])
    assert AuthorChange.objects.get().new_value == "Wendy W."


def test_a_reviewer_changes_their_own_credentials_and_old_reviews_keep_theirs(
    client, people
):
    article = reviewed_live(people, topic=make_topic(medical=True))
    profile = people["reviewer"].author_profile
    client.force_login(people["reviewer"])
    url = reverse("admin:articles_author_change", args=[profile.pk])
    shown = client.get(url)
    assert "credentials" in shown.context["adminform"].form.fields
    assert "user" not in shown.context["adminform"].form.fields
    response = client.post(url, profile_form(profile, credentials="MD, PhD"))
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.credentials == "MD, PhD"
    change = AuthorChange.objects.get(author=profile)
    assert (change.field, change.old_value, change.new_value) == (
        "credentials",
        "MD, FAAD",
        "MD, PhD",
    )
    assert change.changed_by == people["reviewer"]
    assert "MD, PhD" in client.get(url).text  # the logged change on the page
    page = client.get(article.get_absolute_url()).text
    assert "Dr Rita</a>, MD, FAAD on" in page
    assert "MD, PhD" not in page


def test_a_superuser_may_change_a_reviewers_profile(people):
    profile = people["reviewer"].author_profile
    profile.credentials = "MD"
    services.save_author(author=profile, user=people["superuser"])
    assert AuthorChange.objects.get().changed_by == people["superuser"]
