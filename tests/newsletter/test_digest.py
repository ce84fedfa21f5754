"""The monthly digest: one button drafts an issue of the articles that went live
since the last digest, by topic; it goes to monthly-digest subscribers only."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from articles.models import ImageRendition
from newsletter import emails, selectors
from newsletter.delivery import issues
from newsletter.issues import services as issue_services
from newsletter.models import Issue, IssueArticle, Subscriber
from tests.factories import (
    approve_issue,
    image_bytes,
    make_article,
    make_draft,
    make_issue,
    make_listed_subscriber,
    make_role_user,
    make_scheduled,
    make_topic,
    make_user,
    newsletter_sender,
)
from tests.newsletter.test_admin import messages_of

pytestmark = pytest.mark.django_db

BUILD = "admin:newsletter_issue_build_digest"
Frequency = Subscriber.Frequency


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def featured(issue: Issue) -> list[str]:
    return list(
        IssueArticle.objects.filter(issue=issue)
        .order_by("position")
        .values_list("article__title", flat=True)
    )


@pytest.fixture
def topics():
    return {name: make_topic(name=name) for name in ("Acne", "Eczema", "Sun")}


@pytest.fixture
def since_last_digest(topics):
    """A digest sent ten days ago, and articles around it."""
    make_issue(kind=Issue.Kind.DIGEST, status=Issue.Status.SENT, sent_at=days_ago(10))
    # A regular issue sent since does not move the digest's start.
    make_issue(status=Issue.Status.SENT, sent_at=days_ago(2))
    make_article(title="Old acne", topic=topics["Acne"], published_at=days_ago(11))
    make_article(title="New sun", topic=topics["Sun"], published_at=days_ago(1))
    make_article(title="New acne", topic=topics["Acne"], published_at=days_ago(3))
    make_article(title="Newer acne", topic=topics["Acne"], published_at=days_ago(2))
    make_draft(title="Draft eczema", topic=topics["Eczema"])
    make_scheduled(title="Scheduled eczema", topic=topics["Eczema"])


def test_the_digest_holds_exactly_the_live_articles_since_the_last_digest_by_topic(
    since_last_digest, topics
):
    issue = issue_services.build_digest(user=make_role_user("Writer"))

    assert featured(issue) == ["Newer acne", "New acne", "New sun"]
    assert issue.kind == Issue.Kind.DIGEST
    assert issue.status == Issue.Status.DRAFT
    assert issue.audience == Issue.Audience.TOPICS
    assert set(issue.topics.all()) == {topics["Acne"], topics["Sun"]}
    assert issue.preheader == "3 new articles on Acne and Sun."
    assert issue.subject.startswith("Your Skincare digest: ")


def test_the_first_digest_looks_back_a_month(topics):
    make_article(title="Last week", published_at=days_ago(7))
    make_article(title="Two months ago", published_at=days_ago(60))

    issue = issue_services.build_digest(user=make_role_user("Writer"))

    assert featured(issue) == ["Last week"]


def test_with_nothing_new_no_digest_is_made(since_last_digest):
    Issue.objects.filter(kind=Issue.Kind.DIGEST).update(sent_at=timezone.now())

    with pytest.raises(
        issue_services.NothingToDigest, match="nothing to put in a digest"
    ):
        issue_services.build_digest(user=make_role_user("Writer"))
    assert Issue.objects.filter(status=Issue.Status.DRAFT).count() == 0


def test_digest_recipients_are_monthly_readers_and_regular_ones_the_others(
    since_last_digest, topics
):
    def reader(name, *chosen, **fields):
        subscriber = make_listed_subscriber(email=f"{name}@example.com", **fields)
        subscriber.topics.set(chosen)
        return subscriber

    monthly = {"frequency": Frequency.MONTHLY_DIGEST}
    reader("every")
    reader("every_acne", topics["Acne"])
    reader("monthly", **monthly)
    reader("monthly_acne", topics["Acne"], **monthly)
    reader("monthly_eczema", topics["Eczema"], **monthly)
    reader("monthly_paused", paused_until=timezone.now() + timedelta(days=5), **monthly)
    digest = issue_services.build_digest(user=make_role_user("Writer"))
    regular = make_issue()

    for issue in (digest, regular):
        approve_issue(issue)
        issue_services.schedule_send(issue=issue, user=newsletter_sender())
        assert issues.start_send(issue_id=issue.pk)

    def names(issue):
        return {
            e.split("@")[0]
            for e in issue.deliveries.values_list("subscriber__email", flat=True)
        }

    # The digest is about Acne and Sun: Eczema-only readers are not sent it.
    assert names(digest) == {"monthly", "monthly_acne"}
    assert names(regular) == {"every", "every_acne"}


def test_the_digest_email_groups_articles_under_their_topics_with_covers(
    since_last_digest, topics, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    article = make_article(
        title="Covered sun",
        topic=topics["Sun"],
        published_at=days_ago(0.5),
        cover_image=ContentFile(image_bytes(), name="cover.png"),
        cover_image_alt="A bottle of sunscreen",
    )
    ImageRendition.objects.create(
        source=article.cover_image.name,
        width=48,
        height=36,
        format="JPEG",
        file="renditions/cover-48.jpg",
    )
    ImageRendition.objects.create(
        source=article.cover_image.name,
        width=48,
        height=36,
        format="AVIF",
        file="renditions/cover-48.avif",
    )
    issue = issue_services.build_digest(user=make_role_user("Writer"))

    rendered = emails.render_issue(issue)

    text = rendered.text
    assert text.index("ACNE") < text.index("Newer acne") < text.index("New acne")
    assert text.index("New acne") < text.index("SUN") < text.index("New sun")
    assert "FROM THE SITE" not in text
    assert "Summary of" in text
    html = rendered.html
    assert html.index(">Acne</h2>") < html.index(">Sun</h2>")
    assert 'src="http://testserver/media/renditions/cover-48.jpg"' in html.replace(
        settings.SITE_URL, "http://testserver"
    )
    assert 'alt="A bottle of sunscreen"' in html
    assert "cover-48.avif" not in html


def test_a_regular_issue_email_keeps_its_single_list(since_last_digest):
    issue = make_issue()
    IssueArticle.objects.create(
        issue=issue, article=selectors.digest_articles(days_ago(5)).first()
    )

    text = emails.render_issue(issue).text

    assert "FROM THE SITE" in text
    assert "ACNE" not in text


# The admin button -----------------------------------------------------------------


def test_the_button_drafts_the_digest_and_opens_it(staff_client, since_last_digest):
    changelist = staff_client.get(reverse("admin:newsletter_issue_changelist"))
    assert reverse(BUILD) in changelist.text
    assert "Build digest" in changelist.text

    response = staff_client.post(reverse(BUILD))

    issue = Issue.objects.get(kind=Issue.Kind.DIGEST, status=Issue.Status.DRAFT)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:newsletter_issue_change", args=[issue.pk]
    )
    assert "Digest drafted with 3 articles" in messages_of(response)[-1]
    page = staff_client.get(response["Location"]).text
    assert "Monthly digest (to monthly-digest subscribers)" in page


def test_the_button_says_when_there_is_nothing_new(staff_client):
    response = staff_client.post(reverse(BUILD))

    assert "nothing to put in a digest" in messages_of(response)[-1]
    assert not Issue.objects.exists()


def test_opening_the_build_address_builds_nothing(staff_client, since_last_digest):
    response = staff_client.get(reverse(BUILD))

    assert response.status_code == 405
    assert not Issue.objects.filter(status=Issue.Status.DRAFT).exists()


@pytest.mark.parametrize("who", ["reviewer", "issue_editor_without_add", "visitor"])
def test_only_staff_who_may_add_issues_can_build_one(client, since_last_digest, who):
    if who == "reviewer":
        client.force_login(make_role_user("Medical reviewer"))
    elif who == "issue_editor_without_add":
        user = make_user(username="issue-changer")
        user.is_staff = True
        user.save()
        user.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="newsletter",
                codename__in=["view_issue", "change_issue"],
            )
        )
        client.force_login(user)
        listing = client.get(reverse("admin:newsletter_issue_changelist"))
        assert listing.status_code == 200
        assert "Build digest" not in listing.text

    response = client.post(reverse(BUILD))

    assert response.status_code in {302, 403}
    if who == "visitor":
        assert "/login/" in response["Location"]
    else:
        assert response.status_code == 403
    assert not Issue.objects.filter(status=Issue.Status.DRAFT).exists()


def test_staff_with_the_add_permission_only_can_build_one(client, since_last_digest):
    user = make_user(username="digest-maker")
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="newsletter",
            codename__in=["view_issue", "add_issue"],
        )
    )
    client.force_login(user)

    response = client.post(reverse(BUILD))

    assert response.status_code == 302
    assert Issue.objects.filter(kind=Issue.Kind.DIGEST, status="draft").count() == 1
