"""Who may do what: every role against every workflow action, by POSTs to the
admin's workflow views (articles/admin/workflow_views.py), as a crafted request
would send them. An allowed action moves the article and logs a Transition; a
refused one changes nothing and says why. The panel's buttons match."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS, WARNING, get_messages
from django.urls import reverse
from django.utils import timezone

from articles.editorial import permissions, revisions, workflow
from articles.models import (
    Article,
    ArticleRevision,
    Correction,
    MedicalApproval,
    Stage,
    Transition,
)
from tests.conftest import VerifiedClient
from tests.factories import (
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
    make_topic,
)

pytestmark = pytest.mark.django_db

LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."
GOOD_CONTENT = {
    "summary": LONG_SUMMARY,
    "body": "<h2>What helps</h2><p>Retinoids help [1].</p>",
    "sources": [{"title": "A trial", "url": "https://example.org/trial"}],
}
ROLES = ["writer_owner", "writer_other", "reviewer", "editor", "superuser"]


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Five accounts a test, logged in with force_login: hashing strength is
    beside the point here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db) -> dict:
    superuser = make_staff(username="chief")
    make_author(name="Dr Chief", user=superuser, credentials="MD, PhD")
    return {
        "writer_owner": make_role_user("Writer", username="writer"),
        "writer_other": make_role_user("Writer", username="other-writer"),
        "reviewer": make_reviewer(),
        "editor": make_role_user("Editor"),
        "superuser": superuser,
    }


def fresh(article: Article) -> Article:
    return Article.objects.select_related("topic").get(pk=article.pk)


def medical_article(people: dict, stage: str = Stage.DRAFT) -> Article:
    """A medical article owned by the writer, ready for review, moved through the
    workflow to `stage` (draft, in_review, approved or live)."""
    owner = people["writer_owner"]
    article = make_draft(
        topic=make_topic(medical=True), created_by=owner, summary=LONG_SUMMARY
    )
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), **GOOD_CONTENT},
        user=owner,
    )
    steps = [
        (Stage.IN_REVIEW, workflow.submit_for_review, owner),
        (Stage.APPROVED, workflow.approve, people["reviewer"]),
        (Stage.LIVE, workflow.publish, people["editor"]),
    ]
    for reached, step, user in steps:
        if fresh(article).stage == stage:
            break
        step(article=fresh(article), user=user)
        assert fresh(article).stage == reached
    return fresh(article)


def short_summary_article(people: dict) -> Article:
    """A general (not medical) draft whose summary fails a content check."""
    article = make_draft(created_by=people["writer_owner"], summary="Too short.")
    workflow.save_draft(
        article=article, data=revisions.snapshot(article), user=people["writer_owner"]
    )
    return fresh(article)


def in_future() -> str:
    return (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


# action: (the article it needs, the URL's action, POST data, what success is)
ACTIONS = {
    "submit": (Stage.DRAFT, "submit", lambda p: {"note": "Ready."}, Stage.IN_REVIEW),
    "approve": (
        Stage.IN_REVIEW,
        "approve",
        lambda p: {"note": "Accurate."},
        Stage.APPROVED,
    ),
    "request_changes": (
        Stage.IN_REVIEW,
        "request_changes",
        lambda p: {"note": "Cite the trial's size."},
        Stage.CHANGES_REQUESTED,
    ),
    "publish": (Stage.APPROVED, "publish", lambda p: {}, Stage.LIVE),
    "schedule": (
        Stage.APPROVED,
        "publish",
        lambda p: {"at": in_future()},
        Stage.SCHEDULED,
    ),
    "unpublish": (
        Stage.LIVE,
        "unpublish",
        lambda p: {"note": "Out of date."},
        Stage.UNPUBLISHED,
    ),
    "assign_reviewer": (
        Stage.IN_REVIEW,
        "assign_reviewer",
        lambda p: {"reviewer": p["reviewer"].pk},
        Stage.IN_REVIEW,
    ),
    "override_checks": (
        "short_summary",
        "publish",
        lambda p: {"override_reason": "The summary says all there is."},
        Stage.LIVE,
    ),
}
ALLOWED = {
    "submit": {"writer_owner", "editor", "superuser"},
    "approve": {"reviewer", "superuser"},
    "request_changes": {"reviewer", "superuser"},
    "publish": {"editor", "superuser"},
    "schedule": {"editor", "superuser"},
    "unpublish": {"editor", "superuser"},
    "assign_reviewer": {"editor", "superuser"},
    "override_checks": {"editor", "superuser"},
}
# Why a refused role is refused (a fragment of the message it is shown).
REFUSAL = {
    ("submit", "writer_other"): "only their own articles",
    ("submit", "reviewer"): "cannot change articles",
    ("approve", "writer_owner"): "Only a medical reviewer",
    ("approve", "writer_other"): "Only a medical reviewer",
    ("approve", "editor"): "Only a medical reviewer",
    ("request_changes", "writer_owner"): "Only a medical reviewer",
    ("request_changes", "writer_other"): "Only a medical reviewer",
    ("request_changes", "editor"): "Only a medical reviewer",
    ("unpublish", "writer_owner"): "Only an editor can unpublish",
    ("unpublish", "writer_other"): "Only an editor can unpublish",
    ("unpublish", "reviewer"): "Only an editor can unpublish",
}


def workflow_url(action: str, article: Article) -> str:
    return reverse(f"admin:articles_article_workflow_{action}", args=[article.pk])


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


def state_of(article: Article) -> dict:
    """Everything an action could change."""
    return {
        "row": Article.objects.filter(pk=article.pk).values().get(),
        "transitions": list(
            Transition.objects.filter(article=article).values_list("pk", flat=True)
        ),
        "approvals": MedicalApproval.objects.filter(article=article).count(),
        "corrections": Correction.objects.filter(article=article).count(),
        "revisions": ArticleRevision.objects.filter(article=article).count(),
        "sources": list(article.references.values_list("title", flat=True)),
    }


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_its_actions(client, people, role, action):
    needs, url_action, data, reached = ACTIONS[action]
    user = people[role]
    article = (
        short_summary_article(people)
        if needs == "short_summary"
        else medical_article(people, needs)
    )
    before = state_of(article)
    client.force_login(user)

    response = client.post(workflow_url(url_action, article), data(people))

    assert response.status_code == 302
    assert response.url == reverse("admin:articles_article_change", args=[article.pk])
    [(level, message)] = messages_of(response)
    after = fresh(article)
    if role in ALLOWED[action]:
        assert level == SUCCESS, message
        assert after.stage == reached
        step = Transition.objects.filter(article=article).first()
        assert step.pk not in before["transitions"]
        assert step.actor == user
        assert step.to_stage == reached
        if action == "assign_reviewer":
            assert after.assigned_reviewer == people["reviewer"]
        if action == "approve":
            assert MedicalApproval.objects.get(article=article).user == user
        if action == "override_checks":
            assert "The summary says all there is." in step.note
        if action == "schedule":
            assert after.is_scheduled and not after.is_live
    else:
        assert level == ERROR
        assert REFUSAL.get((action, role), "Only an editor") in message
        assert state_of(article) == before


def test_a_get_to_an_action_goes_back_to_the_article_and_changes_nothing(
    client, people
):
    # As after signing in again: the login page's next= is the action's address.
    article = medical_article(people, Stage.APPROVED)
    before = state_of(article)
    client.force_login(people["editor"])
    response = client.get(workflow_url("publish", article))
    assert response.status_code == 302
    assert response.url == reverse("admin:articles_article_change", args=[article.pk])
    [(level, message)] = messages_of(response)
    assert level == WARNING and "Nothing was done" in message
    assert state_of(article) == before
    assert client.put(workflow_url("publish", article)).status_code == 405


def test_actions_need_a_logged_in_staff_member(client, people):
    article = medical_article(people, Stage.APPROVED)
    before = state_of(article)
    response = client.post(workflow_url("publish", article))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url
    assert state_of(article) == before


def test_an_action_needs_the_csrf_token(people):
    article = medical_article(people, Stage.APPROVED)
    before = state_of(article)
    client = VerifiedClient(enforce_csrf_checks=True)
    client.force_login(people["editor"])
    assert client.post(workflow_url("publish", article)).status_code == 403
    assert state_of(article) == before


def test_the_refusal_is_shown_on_the_change_page(client, people):
    article = medical_article(people, Stage.APPROVED)
    client.force_login(people["writer_owner"])
    page = client.post(workflow_url("publish", article), follow=True)
    assert page.status_code == 200
    assert "Only an editor can do this." in page.text


def test_a_request_for_changes_needs_a_note(client, people):
    article = medical_article(people, Stage.IN_REVIEW)
    before = state_of(article)
    client.force_login(people["reviewer"])
    response = client.post(workflow_url("request_changes", article), {"note": " "})
    [(level, message)] = messages_of(response)
    assert level == ERROR and "Say what needs to change" in message
    assert state_of(article) == before


def test_only_a_reviewer_can_be_assigned(client, people):
    article = medical_article(people, Stage.IN_REVIEW)
    client.force_login(people["editor"])
    response = client.post(
        workflow_url("assign_reviewer", article),
        {"reviewer": people["writer_other"].pk},
    )
    [(level, message)] = messages_of(response)
    assert level == ERROR and "is not a medical reviewer" in message
    assert fresh(article).assigned_reviewer is None


def test_a_reviewer_without_credentials_cannot_approve_a_medical_article(
    client, people
):
    article = medical_article(people, Stage.IN_REVIEW)
    no_profile = make_role_user("Medical reviewer", username="new-reviewer")
    before = state_of(article)
    client.force_login(no_profile)
    response = client.post(workflow_url("approve", article))
    [(level, message)] = messages_of(response)
    assert level == ERROR and "no author profile" in message
    assert state_of(article) == before


def test_publishing_needs_the_override_permission_to_pass_failing_checks(
    client, people
):
    publisher = make_role_user("Writer", username="publisher")
    publisher.user_permissions.add(Permission.objects.get(codename="publish_article"))
    article = short_summary_article(people)
    before = state_of(article)
    client.force_login(publisher)
    response = client.post(
        workflow_url("publish", article), {"override_reason": "Looks fine."}
    )
    [(level, message)] = messages_of(response)
    assert level == ERROR and "cannot override content checks" in message
    assert state_of(article) == before


def test_an_unreadable_schedule_time_is_refused(client, people):
    article = medical_article(people, Stage.APPROVED)
    before = state_of(article)
    client.force_login(people["editor"])
    response = client.post(workflow_url("publish", article), {"at": "next week"})
    [(level, message)] = messages_of(response)
    assert level == ERROR and "date/time" in message
    assert state_of(article) == before


# The buttons ----------------------------------------------------------------------

BUTTONS = {
    Stage.DRAFT: {
        "writer_owner": {"submit"},
        "writer_other": set(),
        "reviewer": set(),
        "editor": {"submit", "publish", "assign_reviewer"},
        "superuser": {"submit", "publish", "assign_reviewer"},
    },
    Stage.IN_REVIEW: {
        "writer_owner": set(),
        "writer_other": set(),
        "reviewer": {"approve", "request_changes"},
        "editor": {"publish", "assign_reviewer"},
        "superuser": {"approve", "request_changes", "publish", "assign_reviewer"},
    },
    Stage.APPROVED: {
        "writer_owner": set(),
        "writer_other": set(),
        "reviewer": set(),
        "editor": {"publish", "assign_reviewer"},
        "superuser": {"publish", "assign_reviewer"},
    },
    Stage.LIVE: {
        "writer_owner": set(),
        "writer_other": set(),
        "reviewer": set(),
        "editor": {"unpublish", "assign_reviewer"},
        "superuser": {"unpublish", "assign_reviewer"},
    },
}


def panel_buttons(html: str) -> set[str]:
    return set(re.findall(r'<form [^>]*data-action="([a-z_]+)"', html))


@pytest.mark.parametrize("stage", list(BUTTONS))
def test_the_panel_shows_the_buttons_each_role_may_use(client, people, stage):
    article = medical_article(people, stage)
    for role in ROLES:
        client.force_login(people[role])
        page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
        assert page.status_code == 200
        shown = panel_buttons(page.text)
        assert shown == BUTTONS[stage][role], role
        assert shown == set(permissions.allowed(people[role], fresh(article))) - {
            "edit",
            "share_preview",
            "feature",
        }
        for action in shown:
            assert f'action="{workflow_url(action, article)}"' in page.text


@pytest.mark.parametrize(
    ("role", "stage", "why"),
    [
        ("writer_owner", Stage.IN_REVIEW, "it is locked for writers"),
        ("writer_other", Stage.DRAFT, "only their own articles"),
        ("reviewer", Stage.DRAFT, "this one is Draft"),
    ],
)
def test_a_panel_without_buttons_says_why(client, people, role, stage, why):
    article = medical_article(people, stage)
    client.force_login(people[role])
    page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert panel_buttons(page.text) == set()
    assert "No workflow action for you here now." in page.text
    assert why in page.text
