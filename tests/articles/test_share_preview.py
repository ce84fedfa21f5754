"""Share previews: editors make expiring signed links to the latest revision for
outside reviewers, list and revoke them; the public page shows that revision only,
kept out of search engines and caches."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from articles.editorial import previews, revisions, workflow
from articles.models import Article, MedicalApproval, PreviewLink, Reference
from tests.factories import (
    make_article,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
)
from tests.skincare.test_page_validity import is_problem, java, nu_check  # noqa: F401

pytestmark = pytest.mark.django_db

NEW_URL = re.compile(
    r'id="new-preview-url" value="(http://testserver(/preview/[^"]+))"'
)


def links_url(article: Article) -> str:
    return reverse("admin:articles_article_preview_links", args=[article.pk])


def revoke_url(link: PreviewLink) -> str:
    return reverse(
        "admin:articles_article_revoke_preview_link",
        args=[link.revision.article_id, link.pk],
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def edit(article: Article, user, **changes) -> None:
    article.refresh_from_db()
    data = revisions.snapshot(article) | changes
    workflow.save_draft(article=article, data=data, user=user)


@pytest.fixture
def editor(db):
    return make_role_user("Editor", username="eddie")


@pytest.fixture
def live_with_draft(editor):
    """A live article whose latest revision is an unpublished draft, with new
    sources."""
    article = make_article(title="Live title", body="<p>Live body.</p>")
    Reference.objects.create(article=article, title="Live source")
    revisions.latest(article, user=editor)
    edit(
        article,
        editor,
        title="Draft title",
        body="<p>Draft body.</p>",
        sources=[{"title": "Draft source", "publisher": "JAAD", "year": 2025}],
    )
    return article


def make_link(client, article: Article, days: int = 7) -> str:
    """Make a link through the admin; its path, as the page shows it once."""
    response = client.post(links_url(article), {"days": str(days)})
    assert response.status_code == 302
    page = client.get(links_url(article)).text
    match = NEW_URL.search(page)
    assert match, "the new link is shown"
    return match.group(2)


def test_an_editor_makes_a_link_shown_once_and_listed_as_active(
    client, editor, live_with_draft
):
    client.force_login(editor)
    response = client.post(links_url(live_with_draft), {"days": "3"})
    link = PreviewLink.objects.get()
    assert link.revision == Article.objects.get().latest_revision
    assert link.created_by == editor
    assert abs(link.expires_at - (timezone.now() + timedelta(days=3))) < timedelta(
        minutes=1
    )
    assert messages_of(response)[0].startswith(
        "Preview link made for revision 2; it works until"
    )
    first = client.get(links_url(live_with_draft)).text
    assert NEW_URL.search(first)
    assert "Copy it now: it is shown only once." in first
    again = client.get(links_url(live_with_draft)).text
    assert not NEW_URL.search(again)
    assert "<strong>Active</strong> until" in again
    assert f'action="{revoke_url(link)}"' in again


@pytest.mark.parametrize("role", ["Writer", "Medical reviewer"])
def test_writers_and_reviewers_cannot_make_links(client, live_with_draft, role):
    user = make_reviewer() if role == "Medical reviewer" else make_role_user(role)
    client.force_login(user)
    page = client.get(links_url(live_with_draft))
    assert page.status_code == 200
    assert "You cannot make share links: Only an editor can do this." in page.text
    assert "Make a share link" not in page.text
    response = client.post(links_url(live_with_draft), {"days": "7"})
    assert messages_of(response) == ["Only an editor can do this."]
    assert not PreviewLink.objects.exists()


def test_a_link_to_the_live_revision_does_not_call_it_unpublished(client, editor):
    article = make_article(title="Live title")
    revisions.latest(article, user=editor)
    client.force_login(editor)
    path = make_link(client, article)
    client.logout()
    text = client.get(path).text
    assert "Preview of the published version." in text
    assert "unpublished" not in text


@pytest.mark.parametrize("days", ["0", "31", "-2", "soon", ""])
def test_a_link_lasts_one_to_thirty_days(client, editor, live_with_draft, days):
    client.force_login(editor)
    response = client.post(links_url(live_with_draft), {"days": days})
    assert response.status_code == 302
    assert messages_of(response)[0] in {
        "A preview link lasts 1 to 30 days.",
        "Enter how many days the link lasts, 1 to 30.",
    }
    assert not PreviewLink.objects.exists()


def test_the_link_shows_the_draft_revision_with_its_own_sources(
    client, editor, live_with_draft
):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    client.logout()
    response = client.get(path)
    assert response.status_code == 200
    text = response.text
    assert "Preview of an unpublished version." in text
    assert '<h1 class="article__title">Draft title</h1>' in text
    assert "Draft body." in text
    assert "Draft source" in text and "<cite>JAAD</cite>" in text
    assert "Live source" not in text and "Live body." not in text
    assert '<meta name="robots" content="noindex">' in text
    assert 'rel="canonical"' not in text
    assert "application/ld+json" not in text
    assert "Back to editing" not in text  # no admin link for outsiders


def test_the_preview_sends_no_index_no_store_and_no_referrer(
    client, editor, live_with_draft
):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    client.logout()
    response = client.get(path)
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert set(response["Cache-Control"].split(", ")) == {"no-store", "private"}
    assert "Content-Encoding" not in response


def test_the_link_keeps_showing_its_revision_after_later_edits(
    client, editor, live_with_draft
):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    edit(live_with_draft, editor, title="Even newer title")
    client.logout()
    text = client.get(path).text
    assert "Draft title" in text
    assert "Even newer title" not in text


def test_the_reviewed_by_line_shows_only_for_an_approved_revision(
    client, editor, live_with_draft
):
    reviewer = make_reviewer(username="rhea")
    live = Article.objects.get().live_revision
    MedicalApproval.objects.create(
        article=live_with_draft,
        revision=live,
        review_hash=live.review_hash,
        reviewer=reviewer.author_profile,
        user=reviewer,
    )
    Article.objects.update(
        reviewer=reviewer.author_profile, reviewed_at=timezone.localdate()
    )
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    assert "Medically reviewed by" not in client.get(path).text
    latest = Article.objects.get().latest_revision
    MedicalApproval.objects.create(
        article=live_with_draft,
        revision=latest,
        review_hash=latest.review_hash,
        reviewer=reviewer.author_profile,
        user=reviewer,
    )
    assert "Medically reviewed by" in client.get(path).text


def invalid(response) -> None:
    assert response.status_code == 404
    assert "This preview link does not work" in response.text
    assert "Draft title" not in response.text
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]


def test_an_expired_link_is_a_404(client, editor, live_with_draft):
    client.force_login(editor)
    path = make_link(client, live_with_draft, days=1)
    PreviewLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    invalid(client.get(path))
    page = client.get(links_url(live_with_draft)).text
    assert "Expired" in page and "Revoke" not in page


def test_a_link_stops_working_when_its_days_are_over(
    client, editor, live_with_draft, monkeypatch
):
    client.force_login(editor)
    path = make_link(client, live_with_draft, days=2)
    assert client.get(path).status_code == 200
    later = timezone.now() + timedelta(days=2, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    invalid(client.get(path))


def test_a_revoked_link_is_a_404(client, editor, live_with_draft):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    link = PreviewLink.objects.get()
    response = client.get(revoke_url(link), follow=True)
    assert response.redirect_chain == [(links_url(live_with_draft), 302)]
    assert "Nothing was done" in response.text
    link.refresh_from_db()
    assert link.is_active
    response = client.post(revoke_url(link))
    assert response.status_code == 302
    assert messages_of(response) == [
        "The preview link was revoked: it no longer works."
    ]
    link.refresh_from_db()
    assert link.revoked_at is not None
    client.logout()
    invalid(client.get(path))


def test_writers_cannot_revoke_a_link(client, editor, live_with_draft):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    client.force_login(make_role_user("Writer"))
    response = client.post(revoke_url(PreviewLink.objects.get()))
    assert messages_of(response) == ["Only an editor can do this."]
    assert PreviewLink.objects.get().revoked_at is None
    assert client.get(path).status_code == 200


# The maker's right, read on every use --------------------------------------------


def publish_permission() -> Permission:
    return Permission.objects.get(
        content_type__app_label="articles", codename="publish_article"
    )


def lose_the_right(maker, how: str) -> None:
    """Take away `maker`'s right to make share links, one way an admin can."""
    User = get_user_model()
    if how == "deactivated":
        User.objects.filter(pk=maker.pk).update(is_active=False)
    elif how == "deleted":
        maker.delete()
    elif how == "no longer staff":
        User.objects.filter(pk=maker.pk).update(is_staff=False)
    elif how == "removed from the Editor group":
        maker.groups.clear()
    elif how == "the Editor group loses the permission":
        Group.objects.get(name="Editor").permissions.remove(publish_permission())
    elif how == "own permission removed":
        maker.user_permissions.clear()
    elif how == "superuser flag removed":
        User.objects.filter(pk=maker.pk).update(is_superuser=False)


def maker_for(how: str):
    """An editor whose right comes the way `how` takes it away."""
    if how == "own permission removed":
        maker = make_role_user("Writer", username="own-perm")
        maker.user_permissions.add(publish_permission())
        return maker
    if how == "superuser flag removed":
        return make_staff(username="super")
    return make_role_user("Editor", username="maker")


LOSSES = [
    "deactivated",
    "deleted",
    "no longer staff",
    "removed from the Editor group",
    "the Editor group loses the permission",
    "own permission removed",
    "superuser flag removed",
]


@pytest.mark.parametrize("how", LOSSES)
def test_a_link_stops_working_when_its_maker_loses_the_right_to_share(
    client, live_with_draft, how
):
    maker = maker_for(how)
    _, token = previews.create_preview_link(article=live_with_draft, user=maker)
    path = reverse("articles:share_preview", args=[token])
    assert client.get(path).status_code == 200
    lose_the_right(maker, how)
    invalid(client.get(path))
    assert previews.preview_link_for(token) is None


@pytest.mark.parametrize(
    "how", ["deactivated", "no longer staff", "removed from the Editor group"]
)
def test_a_stopped_link_works_again_when_its_maker_gets_the_right_back(
    client, live_with_draft, how
):
    """The right is read on each use, not copied into the link: given back, the
    link works again until it expires (revoking it ends it for good)."""
    maker = maker_for(how)
    _, token = previews.create_preview_link(article=live_with_draft, user=maker)
    path = reverse("articles:share_preview", args=[token])
    lose_the_right(maker, how)
    invalid(client.get(path))
    get_user_model().objects.filter(pk=maker.pk).update(is_active=True, is_staff=True)
    maker.groups.add(Group.objects.get(name="Editor"))
    assert client.get(path).status_code == 200


def test_the_links_page_shows_a_stopped_link_and_lets_another_editor_revoke_it(
    client, editor, live_with_draft
):
    maker = make_role_user("Editor", username="maker")
    link, token = previews.create_preview_link(article=live_with_draft, user=maker)
    maker.groups.clear()
    client.force_login(editor)
    page = client.get(links_url(live_with_draft)).text
    assert "Stopped: its maker can no longer make share links" in page
    assert "<strong>Active</strong>" not in page
    assert f'action="{revoke_url(link)}"' in page
    client.post(revoke_url(link))
    maker.groups.add(Group.objects.get(name="Editor"))
    client.logout()
    invalid(client.get(reverse("articles:share_preview", args=[token])))


def test_checking_the_maker_costs_a_few_queries(
    client, live_with_draft, django_assert_max_num_queries
):
    maker = make_role_user("Editor", username="maker")
    _, token = previews.create_preview_link(article=live_with_draft, user=maker)
    with django_assert_max_num_queries(3):
        assert previews.preview_link_for(token) is not None


def test_a_forged_or_altered_token_is_a_404(client, editor, live_with_draft):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    link = PreviewLink.objects.get()
    token = path.split("/")[2]
    client.logout()
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    other_salt = signing.dumps(link.pk, salt="something-else")
    unsigned = signing.dumps(link.pk, key="not-our-secret", salt=previews.PREVIEW_SALT)
    for bad in (tampered, other_salt, unsigned, "nonsense"):
        invalid(client.get(reverse("articles:share_preview", args=[bad])))


def test_a_link_to_another_article_cannot_be_revoked_through_this_one(
    client, editor, live_with_draft
):
    client.force_login(editor)
    make_link(client, live_with_draft)
    link = PreviewLink.objects.get()
    other = make_draft()
    url = reverse(
        "admin:articles_article_revoke_preview_link", args=[other.pk, link.pk]
    )
    assert client.post(url).status_code == 404
    assert PreviewLink.objects.get().revoked_at is None


@pytest.mark.parametrize("count", [2, 20])
def test_the_links_page_takes_the_same_queries_for_few_and_many(
    client, editor, live_with_draft, django_assert_max_num_queries, count
):
    for _ in range(count):
        previews.create_preview_link(article=live_with_draft, user=editor)
    client.force_login(editor)
    with django_assert_max_num_queries(12):
        response = client.get(links_url(live_with_draft))
    assert response.text.count("<strong>Active</strong>") == count


def test_the_preview_and_its_404_are_valid_html(
    client,
    editor,
    live_with_draft,
    tmp_path,
    java,  # noqa: F811
):
    client.force_login(editor)
    path = make_link(client, live_with_draft)
    client.logout()
    documents = {
        "share-preview.html": client.get(path).text,
        "share-preview-invalid.html": client.get("/preview/nonsense/").text,
    }
    messages = nu_check(java, tmp_path, documents)
    problems = [
        f"{name}:{m.get('lastLine', '?')}: {m['message']}"
        for name, found in messages.items()
        for m in found
        if is_problem(name, m)
    ]
    assert problems == []
