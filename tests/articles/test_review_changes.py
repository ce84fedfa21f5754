"""Small corrections, quickly: the review page, a change to a medical article
against the revision last approved (or the live one), word by word
(articles/admin/review_views.py, articles/editorial/review_diff.py). Its buttons,
and the dashboard's, are tested in tests/articles/test_one_click_actions.py."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from articles.editorial import revisions, workflow
from articles.editorial.review_diff import Base, changes_for_review
from articles.models import Article, MedicalApproval, Stage
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_author,
    make_reviewer,
    make_role_user,
    make_topic,
)
from tests.skincare.test_admin_validity import DJANGO_SIDEBAR_ROWS
from tests.skincare.test_page_validity import is_problem, java, nu_check  # noqa: F401

pytestmark = pytest.mark.django_db
# The review page, whatever the number of revisions: the session, the user and
# their second factor, the article (with its latest and live revisions and its
# topic), the last approval with its revision, the author's and topic's names on
# each side, and the admin's own.
REVIEW_PAGE_QUERIES = 11

TYPO = "<p>Adapalene gel claered more spots than a placebo over twelve weeks.</p>"
FIXED = "<p>Adapalene gel cleared more spots than a placebo over twelve weeks.</p>"
SUMMARY = (
    "What the trials say about adapalene gel for mild acne, how to start it, and "
    "what to expect in the first weeks."
)


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


def png() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 120, 90)).save(output, format="PNG")
    return output.getvalue()


def live_medical(
    people: dict, *, body: str = TYPO, title: str = "Adapalene"
) -> Article:
    """A medical article the writer wrote, approved, published: it is live."""
    article = Article(
        title=title,
        summary=SUMMARY,
        body=body,
        evidence="moderate",
        author=make_author(name="Sam Writer"),
        topic=make_topic(name="Acne", slug="acne", medical=True),
    )
    data = revisions.snapshot(
        article, sources=[{"title": "A trial", "url": "https://example.org/t"}]
    )
    workflow.save_draft(article=article, data=data, user=people["writer"])
    workflow.submit_for_review(article=article, user=people["writer"])
    workflow.approve(article=article, user=people["reviewer"])
    workflow.publish(article=article, user=people["editor"])
    return Article.objects.get(pk=article.pk)


def edit(article: Article, user, **changes) -> Article:
    """The writer's correction, saved and submitted."""
    data = {**revisions.latest(article).data, **changes}
    workflow.save_draft(article=article, data=data, user=user)
    workflow.submit_for_review(article=article, user=user)
    return Article.objects.get(pk=article.pk)


def review_url(article: Article) -> str:
    return reverse("admin:articles_article_review", args=[article.pk])


def approve_url(article: Article) -> str:
    return reverse("admin:articles_article_workflow_approve", args=[article.pk])


def publish_url(article: Article) -> str:
    return reverse("admin:articles_article_workflow_publish", args=[article.pk])


def page_of(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.text


def body_section(page: str) -> str:
    start = page.index('id="review-body-heading"')
    return page[start : page.index("</section>", start)]


def test_a_one_word_fix_shows_exactly_that_word_removed_and_added(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)

    page = page_of(client, people["reviewer"], review_url(article))

    body = body_section(page)
    assert re.findall(r"<del>(.*?)</del>", body) == ["claered"]
    assert re.findall(r"<ins>(.*?)</ins>", body) == ["cleared"]
    assert "Adapalene gel <del>claered</del><ins>cleared</ins> more spots" in body
    # Which revision it is compared with, said in words.
    assert "Revision 2" in page and "compared with revision 1" in page
    assert "the last revision a medical reviewer approved" in page
    assert "Changed: Body text." in page
    assert 'id="review-fields-heading"' not in page  # nothing else changed
    assert "No change: Title, Address (slug), Summary" in page


def test_fields_outside_the_body_are_listed_old_to_new(client, people):
    article = live_medical(people)
    other_topic = make_topic(name="Rosacea", slug="rosacea", medical=True)
    article = edit(
        article,
        people["writer"],
        title="Adapalene, gently",
        topic_id=other_topic.pk,
        sources=[{"title": "A larger trial", "url": "https://example.org/t"}],
        cover_image=default_storage.save("covers/new.png", ContentFile(png())),
        cover_image_alt="A tube of gel",
    )

    page = page_of(client, people["reviewer"], review_url(article))

    fields = page[page.index('id="review-fields-heading"') :]
    fields = fields[: fields.index("</section>")]
    labels = re.findall(r"<dt>(.*?)</dt>", fields)
    assert labels == [
        "Title",
        "Sources",
        "Cover image",
        "Cover image alt text",
        "Topic",
    ]
    assert "<em>(none)</em>" in fields  # no alt text before
    assert "Adapalene" in fields and "<ins>, gently</ins>" in fields
    assert '<span class="review-old"><del>Acne</del></span>' in fields
    assert '<span class="review-new"><ins>Rosacea</ins></span>' in fields
    assert '<span class="review-new">A<ins> larger</ins> trial' in fields
    cover = fields[fields.index("<dt>Cover image</dt>") :]
    assert cover.split("<dt>")[1].count("<dd>Changed.</dd>") == 1
    assert 'id="review-body-heading"' not in page  # the body did not change


def test_html_in_the_article_is_escaped_in_the_comparison(client, people):
    article = live_medical(
        people,
        body="<p>Use &lt;script&gt;alert(1)&lt;/script&gt; never.</p>",
        title="<b>Bold</b> claim",
    )
    article = edit(
        article,
        people["writer"],
        body="<p>Use &lt;script&gt;alert(2)&lt;/script&gt; never.</p>",
        title="<b>Bold</b> claims",
    )

    page = page_of(client, people["reviewer"], review_url(article))

    assert "<script>alert" not in page and "<b>Bold" not in page
    body = body_section(page)
    assert "&lt;script&gt;alert(" in body
    assert "<del>1</del><ins>2</ins>" in body
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page


def test_without_an_approval_the_change_is_compared_with_the_live_version(
    client, people
):
    medical = make_topic(medical=True)
    article = make_article(
        title="Launch article",
        topic=medical,
        stage=Stage.LIVE,
        body=TYPO,
        created_by=people["writer"],
    )
    revisions.latest(article)  # revision 1, the live one
    article = edit(article, people["writer"], body=FIXED)
    assert not MedicalApproval.objects.filter(article=article).exists()

    changes = changes_for_review(article, article.latest_revision)
    assert changes.base_kind == Base.LIVE and changes.base.number == 1

    page = page_of(client, people["reviewer"], review_url(article))
    assert "compared with revision 1, <strong>the version readers see</strong>" in page
    assert "<del>claered</del><ins>cleared</ins>" in page


def test_a_new_article_is_shown_all_new(client, people):
    article = Article(
        title="Fresh",
        summary=SUMMARY,
        body="<p>All new words.</p>",
        author=make_author(),
        topic=make_topic(medical=True),
    )
    workflow.save_draft(
        article=article, data=revisions.snapshot(article), user=people["writer"]
    )
    page = page_of(client, people["reviewer"], review_url(article))
    assert "everything is new" in page
    assert "<ins>All new words.</ins>" in page


def test_long_unchanged_runs_are_folded_around_the_change(people):
    paragraphs = [f"<p>Paragraph number {n} stays.</p>" for n in range(20)]
    article = live_medical(people, body="".join(paragraphs))
    changed = list(paragraphs)
    changed[10] = "<p>Paragraph number 10 moves.</p>"
    article = edit(article, people["writer"], body="".join(changed))

    changes = changes_for_review(article, article.latest_revision)

    kinds = [line.kind for line in changes.body]
    assert kinds == ["skip"] + ["equal"] * 2 + ["replace"] + ["equal"] * 2 + ["skip"]
    assert changes.body[0].skipped == 8 and changes.body[-1].skipped == 7
    assert changes.body[3].parts[-3:] == [
        ("del", "stays"),
        ("ins", "moves"),
        ("equal", "."),
    ]


def test_the_review_page_and_the_reviewers_dashboard_are_valid_html(
    people,
    tmp_path,
    java,  # noqa: F811
):
    article = edit(
        live_medical(people, title="Adapalene <gel>"),
        people["writer"],
        body=FIXED + "<p>A new paragraph.</p>",
        title="Adapalene <gel>, gently",
    )
    reviewer = VerifiedClient()
    reviewer.force_login(people["reviewer"])
    documents = {}
    for name, url in {
        "review.html": review_url(article),
        "dashboard-reviewer.html": reverse("admin:index"),
    }.items():
        response = reviewer.get(url)
        assert response.status_code == 200
        documents[name] = response.content.decode()
    assert "<del>claered</del>" in documents["review.html"]
    assert approve_url(article) in documents["dashboard-reviewer.html"]
    messages = nu_check(java, tmp_path, documents)
    problems = [
        f"{name}:{m.get('lastLine', '?')}: {m['type']}: {m['message']}"
        for name, found in sorted(messages.items())
        for m in found
        if is_problem(name, m) and not DJANGO_SIDEBAR_ROWS.match(m["message"])
    ]
    assert problems == [], "\n".join(problems)


def test_a_launch_article_never_revised_is_reviewed_as_readers_see_it(client, people):
    article = make_article(
        title="Launch", topic=make_topic(medical=True), stage=Stage.LIVE
    )
    assert article.latest_revision_id is None

    page = page_of(client, people["reviewer"], review_url(article))

    assert "compared with revision 1, <strong>the version readers see</strong>" in page
    assert "nothing changed since" in page
    assert reverse("admin:articles_article_preview", args=[article.pk]) in page
    assert f'action="{approve_url(article)}"' in page
    assert not article.revisions.exists()  # showing the page wrote nothing


def test_the_review_page_is_for_article_staff_only(client, people):
    article = edit(live_medical(people), people["writer"], body=FIXED)
    # Staff whose role does not include articles.
    client.force_login(
        get_user_model().objects.create_user(username="helper", is_staff=True)
    )
    assert client.get(review_url(article)).status_code == 403
    client.logout()
    response = client.get(review_url(article))
    assert response.status_code == 302 and "/login/" in response.url
    client.force_login(people["reviewer"])
    missing = reverse("admin:articles_article_review", args=[article.pk + 999])
    assert client.get(missing).status_code == 404


def test_a_change_of_formatting_only_is_said_not_hidden(client, people):
    article = live_medical(people)
    article = edit(
        article, people["writer"], body=TYPO.replace("claered", "<b>claered</b>")
    )

    page = page_of(client, people["reviewer"], review_url(article))

    assert "Changed: Body text (formatting only)." in page
    assert "The body's formatting changed" in page
    assert "Summary, Body text (its words), Sources" in page
    assert 'id="review-body-heading"' not in page


@pytest.mark.parametrize("saves", [1, 25])
def test_the_review_page_takes_as_many_queries_for_many_revisions_as_for_one(
    client, people, django_assert_max_num_queries, saves
):
    article = live_medical(people)
    for n in range(saves):
        data = {**revisions.latest(article).data, "body": FIXED + f"<p>{n}</p>"}
        workflow.save_draft(article=article, data=data, user=people["writer"])
    client.force_login(people["reviewer"])
    client.get(review_url(article))  # the session and permissions, once
    with django_assert_max_num_queries(REVIEW_PAGE_QUERIES):
        response = client.get(review_url(article))
    assert response.status_code == 200 and "<del>claered</del>" in response.text
