"""A medical approval covers everything readers are told: every field a reader, a
search result or a share card shows is in the review hash, and a field added later
cannot be forgotten (articles/editorial/revisions.py REVIEWED, NOT_SHOWN,
NOT_IN_REVISIONS)."""

import importlib
from datetime import date

import pytest
from django.apps import apps
from django.urls import reverse

from articles.admin.article_forms import ArticleAdminForm
from articles.editorial import revisions, workflow
from articles.models import (
    Article,
    ArticleRevision,
    Evidence,
    MedicalApproval,
    Reference,
)
from tests.factories import (
    make_article,
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
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


# Nothing is forgotten ----------------------------------------------------------------


def test_every_article_field_is_in_revisions_or_named_as_set_by_the_workflow():
    """A field added to Article fails here until it is put in the revisions (and
    so in the review hash) or named, with its reason, as set by the workflow."""
    unaccounted = [
        field.name
        for field in Article._meta.concrete_fields
        if field.attname not in revisions.FIELDS
        and field.name not in revisions.NOT_IN_REVISIONS
    ]
    assert unaccounted == []
    stale = [
        name
        for name in revisions.NOT_IN_REVISIONS
        if name not in {f.name for f in Article._meta.concrete_fields}
    ]
    assert stale == [], "the list names fields that no longer exist"


def test_every_revision_key_is_reviewed_unless_listed_as_not_shown():
    article = make_article(evidence=Evidence.LIMITED)
    keys = set(revisions.snapshot(article))
    assert keys - set(revisions.REVIEWED) == set(revisions.NOT_SHOWN)
    assert not set(revisions.REVIEWED) & set(revisions.NOT_SHOWN)
    # The few not reviewed are named with a reason, and nothing readers see is
    # among them.
    assert set(revisions.NOT_SHOWN) == {"featured"}
    assert all(reason.strip() for reason in revisions.NOT_SHOWN.values())


def test_the_review_covers_what_the_issue_names():
    for name in (
        "title",
        "summary",
        "body",
        "sources",
        "evidence",
        "seo_title",
        "seo_description",
        "cover_image",
        "cover_image_alt",
        "topic_id",
        "medical",
        "author_id",
        "slug",
    ):
        assert name in revisions.REVIEWED, name


def test_the_editing_form_changes_only_what_revisions_keep():
    form_fields = set(ArticleAdminForm._meta.fields)
    kept = {name.removesuffix("_id") for name in revisions.FIELDS}
    # The planned date is a plan, not content: the form hands it to
    # editorial.planning (the calendar's service), outside the revisions.
    plans = {"planned_for"}
    assert plans <= set(revisions.NOT_IN_REVISIONS)
    assert form_fields - plans <= kept, form_fields - plans - kept


def test_every_source_field_is_kept_in_revisions():
    fields = {f.name for f in Reference._meta.concrete_fields} - {
        "id",
        "article",
        "position",
    }
    assert fields == set(revisions.SOURCE_FIELDS)


def test_the_comparison_shows_every_field_an_approval_covers():
    """A reviewer asked to approve again sees what changed, whatever it is."""
    compared = {name for name, _ in revisions.DIFF_FIELDS}
    assert set(revisions.REVIEWED) <= compared


CHANGES = {
    "title": "A new title",
    "slug": "proven-cure",
    "summary": "Proven cure, guaranteed.",
    "body": "<p>Proven cure, guaranteed.</p>",
    "sources": [{"title": "A blog", "url": "https://example.org/blog"}],
    "evidence": Evidence.STRONG,
    "seo_title": "Proven cure",
    "seo_description": "Proven cure, guaranteed",
    "cover_image": "covers/other.png",
    "cover_image_alt": "A miracle",
    "medical": False,
}


@pytest.mark.parametrize("name", sorted([*CHANGES, "topic_id", "author_id"]))
def test_a_change_to_any_reviewed_field_makes_the_approval_stale(name):
    article = make_article(evidence=Evidence.LIMITED, medical=True)
    data = revisions.snapshot(article)
    if name == "topic_id":
        changed = {**data, name: make_topic().pk}
    elif name == "author_id":
        changed = {**data, name: make_author().pk}
    else:
        changed = {**data, name: CHANGES[name]}
    assert revisions.review_hash(changed) != revisions.review_hash(data)


def test_placement_on_the_home_page_leaves_the_approval_current():
    article = make_article()
    data = revisions.snapshot(article)
    assert revisions.review_hash({**data, "featured": True}) == revisions.review_hash(
        data
    )


# The crafted request that worked before ----------------------------------------------


@pytest.fixture
def approved_live():
    """A live medical article, "Limited", whose live version a reviewer approved."""
    writer = make_role_user("Writer")
    editor = make_role_user("Editor")
    reviewer = make_reviewer(username="rita", credentials="MD, FAAD")
    article = make_draft(
        topic=make_topic(medical=True),
        summary=LONG_SUMMARY,
        evidence=Evidence.LIMITED,
        created_by=writer,
    )
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), "body": BODY, "sources": SOURCES},
        user=writer,
    )
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    workflow.publish(article=Article.objects.get(pk=article.pk), user=editor)
    return Article.objects.get(pk=article.pk), editor


def test_an_editor_cannot_publish_a_stronger_label_under_the_old_approval(
    client, approved_live
):
    """Before: the evidence label went from Limited to Strong and the search
    description to "Proven cure, guaranteed", published, and the page still said
    "Medically reviewed by". Now the publish is refused, by a crafted POST too."""
    article, editor = approved_live
    workflow.save_draft(
        article=article,
        data={
            **revisions.snapshot(article),
            "evidence": Evidence.STRONG,
            "seo_description": "Proven cure, guaranteed",
        },
        user=editor,
    )
    client.force_login(editor)
    response = client.post(
        reverse("admin:articles_article_workflow_publish", args=[article.pk]),
        {"override_reason": "Urgent"},
        follow=True,
    )
    assert "needs a medical reviewer" in response.text
    article.refresh_from_db()
    assert article.evidence == Evidence.LIMITED
    assert article.seo_description == ""
    page = client.get(article.get_absolute_url()).text
    assert "Medically reviewed by" in page and "Limited" in page
    assert "Proven cure" not in page
    with pytest.raises(workflow.WorkflowError, match="medical reviewer's approval"):
        workflow.publish(article=article, user=editor)


def test_an_approved_article_goes_back_to_draft_when_its_label_changes():
    writer, reviewer = make_role_user("Writer"), make_reviewer()
    article = make_draft(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, created_by=writer
    )
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), "body": BODY, "sources": SOURCES},
        user=writer,
    )
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    article = Article.objects.get(pk=article.pk)
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), "evidence": Evidence.STRONG},
        user=make_role_user("Editor"),
    )
    assert Article.objects.get(pk=article.pk).stage == "draft"


# Approvals made before the review covered everything ---------------------------------


def test_the_migration_takes_the_review_line_from_a_version_not_approved():
    """An approval of revision 1 that the old, narrower hash also let cover
    revision 2 (only the label changed) no longer covers it: the live page loses
    its "Medically reviewed by" line. An exactly approved one keeps it."""
    migration = importlib.import_module("articles.migrations.0009_review_covers_all")
    reviewer = make_reviewer(username="olga", credentials="MD")
    byline = reviewer.author_profile

    def old_hash(data):
        narrow = {n: data.get(n) for n in ("title", "summary", "body", "sources")}
        return migration.review_hash({**dict.fromkeys(migration.REVIEWED), **narrow})

    def approved_then_relabelled(relabel: bool) -> Article:
        article = make_article(
            topic=make_topic(medical=True),
            reviewer=byline,
            reviewed_at=date(2026, 1, 5),
            reviewer_name="",
            reviewer_credentials="",
        )
        first = revisions.snapshot(article)
        second = {**first, "evidence": Evidence.STRONG} if relabel else first
        approved = ArticleRevision.objects.create(
            article=article, number=1, data=first, review_hash=old_hash(first)
        )
        live = ArticleRevision.objects.create(
            article=article, number=2, data=second, review_hash=old_hash(second)
        )
        MedicalApproval.objects.create(
            article=article,
            revision=approved,
            review_hash=old_hash(first),
            reviewer=byline,
            user=reviewer,
        )
        Article.objects.filter(pk=article.pk).update(
            latest_revision=live, live_revision=live
        )
        return article

    relabelled = approved_then_relabelled(True)
    exact = approved_then_relabelled(False)
    migration.forwards(apps, None)
    relabelled.refresh_from_db()
    exact.refresh_from_db()
    assert relabelled.reviewer is None and relabelled.reviewed_at is None
    assert exact.reviewer == byline
    assert (exact.reviewer_name, exact.reviewer_credentials) == ("Dr Olga", "MD")
    approval = MedicalApproval.objects.filter(article=exact).get()
    assert approval.review_hash == revisions.review_hash(approval.revision.data)
    assert approval.reviewer_credentials == "MD"
    for revision in ArticleRevision.objects.all():
        assert revision.review_hash == revisions.review_hash(revision.data)
