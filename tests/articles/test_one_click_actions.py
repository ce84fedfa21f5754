"""Small corrections, quickly: approving from the review page or the dashboard in
one click, publishing from the dashboard, and "Save and submit for review" on the
change form. Every button is the workflow's own action, checked again on the
server: crafted POSTs per role, without the CSRF token, with a huge note."""

import pytest
from django.urls import reverse

from articles.editorial import revisions, workflow
from articles.models import Article, MedicalApproval, Stage
from tests.articles.test_editing import form_data
from tests.articles.test_review_changes import (
    FIXED,
    SUMMARY,
    approve_url,
    edit,
    live_medical,
    page_of,
    publish_url,
    review_url,
)
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_author,
    make_reviewer,
    make_role_user,
    make_staff,
    make_topic,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db) -> dict:
    return {
        "writer": make_role_user("Writer", username="writer"),
        "reviewer": make_reviewer(username="rivera"),
        "editor": make_role_user("Editor", username="eddie"),
    }


def test_the_review_page_offers_approval_only_to_whom_the_rules_allow(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    reviewer_page = page_of(client, people["reviewer"], review_url(article))
    assert f'action="{approve_url(article)}"' in reviewer_page
    assert 'name="csrfmiddlewaretoken"' in reviewer_page
    assert '<input type="hidden" name="revision" value="2">' in reviewer_page
    assert 'value="Approve revision 2"' in reviewer_page
    for role in ("writer", "editor"):
        page = page_of(client, people[role], review_url(article))
        assert approve_url(article) not in page
        assert "You cannot approve this article now:" in page
        assert "Only a medical reviewer can review a medical article." in page


@pytest.mark.parametrize("role", ["writer", "editor"])
def test_a_crafted_approval_by_a_role_that_may_not_is_refused(client, people, role):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    client.force_login(people[role])
    response = client.post(
        approve_url(article), {"revision": 2, "back": "dashboard"}, follow=True
    )
    assert "Only a medical reviewer can review a medical article." in response.text
    assert not MedicalApproval.objects.filter(revision__number=2).exists()
    article.refresh_from_db()
    assert article.stage == Stage.IN_REVIEW


def test_the_reviewer_approves_from_the_review_page(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    client.force_login(people["reviewer"])
    response = client.post(approve_url(article), {"revision": 2, "note": ""})
    assert response.url == reverse("admin:articles_article_change", args=[article.pk])
    approval = MedicalApproval.objects.get(revision__number=2)
    assert approval.user == people["reviewer"]
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED


def test_an_approval_of_a_revision_older_than_the_latest_is_refused(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    workflow.save_draft(
        article=article,
        data={**article.latest_revision.data, "title": "Changed meanwhile"},
        user=people["editor"],
    )
    workflow.submit_for_review(article=article, user=people["editor"])
    client.force_login(people["reviewer"])
    response = client.post(approve_url(article), {"revision": 2}, follow=True)
    assert "was saved after the revision 2 you were looking at" in response.text
    assert not MedicalApproval.objects.filter(revision__number__gte=2).exists()


def test_a_superuser_approves_with_an_author_profile_and_not_without(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    chief = make_staff(username="chief")
    client.force_login(chief)
    response = client.post(approve_url(article), {"revision": 2}, follow=True)
    assert "Your account has no author profile" in response.text
    assert not MedicalApproval.objects.filter(revision__number=2).exists()
    make_author(name="Dr Chief", user=chief, credentials="MD")
    client.post(approve_url(article), {"revision": 2})
    assert MedicalApproval.objects.get(revision__number=2).user == chief


def row_of(page: str, article: Article, section: str) -> str:
    start = page.index(f'id="dashboard-{section}"')
    part = page[start:]
    link = f'href="{reverse("admin:articles_article_change", args=[article.pk])}"'
    return part[part.index(link) :].split("</tr>")[0]


def test_the_reviewer_approves_from_the_dashboard_in_one_click(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    page = page_of(client, people["reviewer"], reverse("admin:index"))
    row = row_of(page, article, "review")
    assert f'href="{review_url(article)}"' in row
    assert f'action="{approve_url(article)}"' in row
    assert '<input type="hidden" name="back" value="dashboard">' in row
    assert '<input type="hidden" name="revision" value="2">' in row

    response = client.post(approve_url(article), {"revision": 2, "back": "dashboard"})

    assert response.url == reverse("admin:index")
    assert MedicalApproval.objects.filter(revision__number=2).count() == 1
    page = client.get(reverse("admin:index")).text
    assert "“Adapalene”: Approved revision 2 as Dr Rivera, MD, FAAD." in page


def test_writers_and_editors_get_no_approve_button_for_a_medical_change(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    editor_page = page_of(client, people["editor"], reverse("admin:index"))
    row = row_of(editor_page, article, "review")
    assert approve_url(article) not in row and review_url(article) in row
    writer_page = page_of(client, people["writer"], reverse("admin:index"))
    assert approve_url(article) not in writer_page


def test_the_editor_publishes_an_approved_change_from_the_dashboard(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    workflow.approve(article=article, user=people["reviewer"], revision_number=2)
    page = page_of(client, people["editor"], reverse("admin:index"))
    row = row_of(page, article, "approved")
    assert f'action="{publish_url(article)}"' in row
    assert "Publish revision 2" in row

    response = client.post(publish_url(article), {"revision": 2, "back": "dashboard"})

    assert response.url == reverse("admin:index")
    article.refresh_from_db()
    assert article.stage == Stage.LIVE and article.live_revision.number == 2
    assert "cleared more spots" in client.get(article.get_absolute_url()).text


def test_a_writer_cannot_publish_by_crafted_post(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    workflow.approve(article=article, user=people["reviewer"], revision_number=2)
    client.force_login(people["writer"])
    response = client.post(
        publish_url(article), {"revision": 2, "back": "dashboard"}, follow=True
    )
    assert "Only an editor can do this." in response.text
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED and article.live_revision.number == 1


def change_url(article: Article) -> str:
    return reverse("admin:articles_article_change", args=[article.pk])


def test_a_writer_saves_and_submits_a_correction_in_one_request(client, people):
    article = live_medical(people)
    client.force_login(people["writer"])
    shown = client.get(change_url(article))
    assert 'name="_submit_for_review"' in shown.text
    data = {**form_data(shown), "body": FIXED, "_submit_for_review": "1"}

    response = client.post(change_url(article), data)

    assert response.status_code == 302 and response.url == change_url(article)
    article.refresh_from_db()
    assert article.stage == Stage.IN_REVIEW
    assert (
        article.latest_revision.number == 2
        and "cleared" in (article.latest_revision.data["body"])
    )
    assert "claered" in article.body  # readers still see the live version
    page = client.get(change_url(article)).text
    assert "Saved as revision 2 and submitted for review" in page
    assert 'name="_submit_for_review"' not in page  # locked while in review


def test_save_and_submit_with_nothing_changed_saves_nothing(client, people):
    article = live_medical(people)
    client.force_login(people["writer"])
    data = {**form_data(client.get(change_url(article))), "_submit_for_review": "1"}

    response = client.post(change_url(article), data)

    assert response.status_code == 403
    assert "Only a draft can be submitted" in response.text
    article.refresh_from_db()
    assert article.stage == Stage.LIVE and article.latest_revision.number == 1


def test_a_reviewer_sees_no_save_and_submit(client, people):
    article = live_medical(people)
    page = page_of(client, people["reviewer"], change_url(article))
    assert 'name="_submit_for_review"' not in page


def test_an_editor_approves_a_change_to_an_article_that_is_not_medical(client, people):
    article = make_article(
        title="Sunscreen in winter",
        body="<p>Yes, stil.</p>",
        topic=make_topic(medical=False),
        stage=Stage.LIVE,
        created_by=people["writer"],
    )
    revisions.latest(article)
    article = edit(article, people["writer"], body="<p>Yes, still.</p>")
    page = page_of(client, people["editor"], reverse("admin:index"))
    assert f'action="{approve_url(article)}"' in row_of(page, article, "review")

    response = client.post(approve_url(article), {"revision": 2, "back": "dashboard"})

    assert response.url == reverse("admin:index")
    article.refresh_from_db()
    assert article.stage == Stage.APPROVED
    assert not MedicalApproval.objects.filter(article=article).exists()


def test_a_writer_saves_and_submits_a_new_article_from_the_add_form(client, people):
    client.force_login(people["writer"])
    shown = client.get(reverse("admin:articles_article_add"))
    assert 'name="_submit_for_review"' in shown.text
    data = {
        **form_data(shown),
        "title": "Brand new",
        "slug": "brand-new",
        "summary": SUMMARY,
        "body": "<p>New words.</p>",
        "author": str(make_author().pk),
        "topic": str(make_topic().pk),
        "evidence": "moderate",
        "_submit_for_review": "1",
    }

    response = client.post(reverse("admin:articles_article_add"), data)

    article = Article.objects.get(slug="brand-new")
    assert response.status_code == 302 and response.url == change_url(article)
    assert article.stage == Stage.IN_REVIEW and article.created_by == people["writer"]


def test_an_approval_without_the_csrf_token_is_refused(people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    forger = VerifiedClient(enforce_csrf_checks=True)
    forger.force_login(people["reviewer"])
    response = forger.post(approve_url(article), {"revision": 2, "back": "dashboard"})
    assert response.status_code == 403
    assert not MedicalApproval.objects.filter(revision__number=2).exists()


def test_a_huge_note_is_refused_and_nothing_approved(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    client.force_login(people["reviewer"])
    response = client.post(
        approve_url(article), {"revision": 2, "note": "x" * 100_000}, follow=True
    )
    assert "Ensure this value has at most 2000 characters" in response.text
    assert not MedicalApproval.objects.filter(revision__number=2).exists()
