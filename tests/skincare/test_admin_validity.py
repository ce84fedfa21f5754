"""The admin pages staff use, holding real data, checked by the W3C Nu Html
Checker like the public pages (tests/skincare/test_page_validity.py), and the
public list pages with cover images."""

import io
import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from articles.editorial import revisions, workflow
from articles.models import Article
from articles.publishing import renditions
from newsletter.models import IssueArticle, Subscriber
from tests.conftest import VerifiedClient
from tests.factories import (
    make_draft,
    make_issue,
    make_reviewer,
    make_role_user,
    make_staff,
    make_subscriber,
    make_topic,
)
from tests.skincare.test_page_validity import is_problem, java, nu_check  # noqa: F401

pytestmark = pytest.mark.django_db

# Django's own markup, which our templates cannot change: the navigation sidebar
# (django/contrib/admin/templates/admin/app_list.html, rendered with
# show_changelinks off) heads each app's table with three columns ("Model name",
# "Add link", "Change or view list link") but gives each model row two.
DJANGO_SIDEBAR_ROWS = re.compile(
    r"^A table row was 2 columns wide, which is less than the column count "
    r"established by the first row \(3\)\.$"
)
LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def cover(name: str) -> str:
    """A stored cover image with its renditions (<picture> with <source>s)."""
    output = io.BytesIO()
    Image.new("RGB", (1000, 500), (200, 120, 90)).save(output, format="PNG")
    source = default_storage.save(
        f"covers/2026/02/{name}.png", ContentFile(output.getvalue())
    )
    renditions.make_renditions(source)
    return source


def reviewed_article() -> Article:
    """A live medical article with revisions, transitions, sources and a cover."""
    writer = make_role_user("Writer")
    reviewer = make_reviewer()
    editor = make_role_user("Editor")
    article = make_draft(
        title="Retinoids without the sting",
        topic=make_topic(name="Retinoids", medical=True),
        summary=LONG_SUMMARY,
        created_by=writer,
        cover_image=cover("retinoids"),
        cover_image_alt="A jar of cream",
        featured=True,
    )
    data = revisions.snapshot(article)
    data.update(
        body="<p>Begin twice a week [1].</p>",
        sources=[{"title": "A trial", "url": "https://example.org/t"}],
    )
    workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer, note="Accurate.")
    workflow.publish(article=article, user=editor)
    article.refresh_from_db()
    return article


def admin_documents(client) -> dict[str, str]:
    """{document name: HTML} for the admin pages staff use, and public lists with
    covers."""
    article = reviewed_article()
    issue = make_issue(subject="Winter skin, kept calm")
    IssueArticle.objects.create(issue=issue, article=article, position=1)
    make_subscriber(first_name="Ada")
    # The calendar with each kind of entry, some movable, one day over-full.
    today = timezone.localdate()
    for n in range(8):
        make_draft(title=f"Planned <{n}> & co", planned_for=today)
    make_issue(
        subject="Scheduled send",
        status="scheduled",
        scheduled_at=timezone.now() + timedelta(hours=2),
        approved=True,
    )
    Article.objects.filter(pk=article.pk).update(review_due=today)
    make_subscriber(status=Subscriber.Status.CONFIRMED)
    staff = VerifiedClient()
    staff.force_login(make_staff(username="owner"))
    gets = {
        "admin-dashboard": reverse("admin:index"),
        "admin-article-list": reverse("admin:articles_article_changelist"),
        "admin-article-change": reverse(
            "admin:articles_article_change", args=[article.pk]
        ),
        "admin-article-add": reverse("admin:articles_article_add"),
        "admin-issue-list": reverse("admin:newsletter_issue_changelist"),
        "admin-issue-change": reverse("admin:newsletter_issue_change", args=[issue.pk]),
        "admin-issue-add": reverse("admin:newsletter_issue_add"),
        "admin-subscriber-list": reverse("admin:newsletter_subscriber_changelist"),
        "admin-calendar-month": reverse("calendar:calendar"),
        "admin-calendar-week": reverse("calendar:calendar") + "?view=week",
        "admin-calendar-feed": reverse("calendar:feed_settings"),
    }
    documents = {}
    made = staff.post(reverse("calendar:feed_settings"), {"action": "new"})
    documents["admin-calendar-feed-made"] = made.content.decode()
    for name, path in gets.items():
        response = staff.get(path)
        assert response.status_code == 200, (name, path)
        documents[name] = response.content.decode()
    for name, path in {
        "home-with-covers": reverse("articles:home"),
        "article-list-with-covers": reverse("articles:list"),
        "topic-with-covers": article.topic.get_absolute_url(),
    }.items():
        response = client.get(path)
        assert response.status_code == 200, (name, path)
        documents[name] = response.content.decode()
    assert "<source" in documents["article-list-with-covers"]
    return documents


def test_admin_pages_and_public_lists_with_covers_are_valid_html(
    client,
    tmp_path,
    java,  # noqa: F811
):
    documents = {f"{name}.html": html for name, html in admin_documents(client).items()}
    messages = nu_check(java, tmp_path, documents)
    problems = [
        f"{name}:{m.get('lastLine', '?')}: {m['type']}: {m['message']}"
        for name, found in sorted(messages.items())
        for m in found
        if is_problem(name, m)
        and not (name.startswith("admin-") and DJANGO_SIDEBAR_ROWS.match(m["message"]))
    ]
    if problems:
        pytest.fail(
            f"{len(problems)} Nu Html Checker problem(s):\n" + "\n".join(problems),
            pytrace=False,
        )
