"""The admin pages staff use, holding real data, checked by the W3C Nu Html
Checker like the public pages (tests/skincare/test_page_validity.py), and the
public list pages with cover images."""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from articles.editorial import revisions, workflow
from articles.models import (
    Article,
    ReadershipSource,
    SearchPromotion,
    SourceCheckState,
    SourceProblem,
    SourceTarget,
    StoryIdea,
)
from articles.publishing import renditions
from articles.readership import counting
from articles.search.insight import count_search
from newsletter.models import (
    Issue,
    IssueArticle,
    LawfulBasis,
    Subscriber,
    SubscriberImport,
)
from newsletter.subscribers.imports import check_import
from tests.conftest import VerifiedClient
from tests.factories import (
    admin_article_form,
    image_upload,
    make_article,
    make_author,
    make_draft,
    make_issue,
    make_reviewer,
    make_role_user,
    make_staff,
    make_subscriber,
    make_topic,
    make_welcome_step,
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


@dataclass
class AdminData:
    """The records the admin pages show: real data, as staff would see it."""

    article: Article  # live, medical, with revisions, transitions, sources, a cover
    in_review: Article  # waiting for a medical reviewer: approve or ask for changes
    draft: Article  # the writer's draft: submit for review
    issue: Issue  # a draft issue featuring the live article
    subscriber: Subscriber
    subscriber_import: SubscriberImport  # checked, with a row in error
    owner: User  # the superuser who looks, with credentials (so may approve)
    # Live, with a change waiting: the publish form takes a correction and how
    # newsletter readers hear of it.
    corrected: Article | None = None


def admin_data() -> AdminData:
    article = reviewed_article()
    in_review = make_draft(
        title="Azelaic acid, slowly",
        topic=article.topic,
        summary=LONG_SUMMARY,
        created_by=article.created_by,
    )
    data = revisions.snapshot(in_review)
    data.update(
        body="<p>Start every other night [1].</p>",
        sources=[{"title": "A review", "url": "https://example.org/r"}],
    )
    workflow.save_draft(article=in_review, data=data, user=article.created_by)
    workflow.submit_for_review(article=in_review, user=article.created_by)
    in_review.refresh_from_db()
    draft = make_draft(
        title="Sunscreen under make-up",
        summary=LONG_SUMMARY,
        created_by=in_review.created_by,
    )
    issue = make_issue(subject="Winter skin, kept calm")
    IssueArticle.objects.create(issue=issue, article=article, position=1)
    subscriber = make_subscriber(first_name="Ada")
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
    subscriber_import = SubscriberImport.objects.create(
        file_name="clinic-list.csv",
        data="email,first_name\nbea@example.com,Bea\nnot-an-address,Cy\n",
        basis=LawfulBasis.CONFIRM,
        created_by=make_staff(username="importer"),
    )
    check_import(import_id=subscriber_import.pk)
    # A step of the welcome series switched on, not yet approved: on the dashboard.
    make_welcome_step(position=2, approved=False)
    owner = make_staff(username="owner")
    make_author(name="Dr Owner", user=owner, credentials="MD")
    # Views of the live article from each kind of source, for the charts.
    for source in ReadershipSource.values:
        counting.count_view(article_id=article.pk, source=source)
        counting.count_view(
            article_id=article.pk, source=source, now=timezone.now() - timedelta(days=3)
        )
    # Search insight: searches over two weeks, some found nothing, one acted on
    # (pinned, and an idea on the calendar today).
    for n in range(14):
        day = today - timedelta(days=n)
        for _ in range(n % 4 + 1):
            count_search(query=f"retinol <{n % 3}>", found_nothing=False, day=day)
        count_search(query=f"sunblok & {n % 5}", found_nothing=True, day=day)
    count_search(query="me@example.com", found_nothing=True)
    SearchPromotion.objects.create(
        query="sunblok & 1", article=article, created_by=owner
    )
    StoryIdea.objects.create(query="sunblok & 2", planned_for=today, created_by=owner)
    corrected = make_article(title="Sunscreen basics", summary=LONG_SUMMARY)
    data = revisions.snapshot(corrected)
    data["body"] = "<p>Use SPF 30 or more, every day.</p>"
    workflow.save_draft(article=corrected, data=data, user=owner)
    source_health(article)
    return AdminData(
        corrected=corrected,
        owner=owner,
        article=article,
        in_review=in_review,
        draft=draft,
        issue=issue,
        subscriber=subscriber,
        subscriber_import=subscriber_import,
    )


def stale_welcome_step():
    """A step of the welcome series changed since its approval: the review panel
    with what changed."""
    step = make_welcome_step(position=2, subject="KP basics")
    step.subject = "KP basics, again"
    step.save()
    return step


def source_health(article: Article) -> None:
    """A checked source with a problem (the dashboard's queue), and the state row."""
    target = SourceTarget.objects.create(kind="url", value="https://example.org/gone")
    target.checks.create(outcome="broken", http_status=410, reason="Gone (410).")
    SourceProblem.objects.create(
        article=article, target=target, kind="failing", reason="Failed twice: 410."
    )
    SourceCheckState.objects.create(pk=1, run_started_at=timezone.now(), total=3)


def change(model: str, obj) -> str:
    return reverse(f"admin:{model}_change", args=[obj.pk])


# The admin pages staff use, each as {name: address builder}, shared by the Nu Html
# Checker (below) and axe-core (tests/skincare/test_admin_quality_browser.py). A new
# admin page is checked by both once it is added here.
ADMIN_PAGES: dict[str, Callable[[AdminData], str]] = {
    "admin-dashboard": lambda d: reverse("admin:index"),
    "admin-article-list": lambda d: reverse("admin:articles_article_changelist"),
    "admin-article-change": lambda d: change("articles_article", d.article),
    "admin-article-change-in-review": lambda d: change("articles_article", d.in_review),
    "admin-article-change-draft": lambda d: change("articles_article", d.draft),
    "admin-article-change-correction": lambda d: change(
        "articles_article", d.corrected
    ),
    "admin-article-add": lambda d: reverse("admin:articles_article_add"),
    "admin-article-revisions": lambda d: reverse(
        "admin:articles_article_revisions", args=[d.article.pk]
    ),
    "admin-article-compare": lambda d: reverse(
        "admin:articles_article_compare", args=[d.article.pk]
    ),
    "admin-article-review": lambda d: reverse(
        "admin:articles_article_review", args=[d.in_review.pk]
    ),
    "admin-invitation-list": lambda d: reverse("admin:staff_invitation_changelist"),
    "admin-invitation-add": lambda d: reverse("admin:staff_invitation_add"),
    "admin-article-preview": lambda d: reverse(
        "admin:articles_article_preview", args=[d.article.pk]
    ),
    "admin-article-preview-links": lambda d: reverse(
        "admin:articles_article_preview_links", args=[d.article.pk]
    ),
    "admin-issue-list": lambda d: reverse("admin:newsletter_issue_changelist"),
    "admin-issue-change": lambda d: change("newsletter_issue", d.issue),
    "admin-issue-add": lambda d: reverse("admin:newsletter_issue_add"),
    "admin-issue-preview": lambda d: reverse(
        "admin:newsletter_issue_preview", args=[d.issue.pk]
    ),
    "admin-issue-send": lambda d: reverse(
        "admin:newsletter_issue_send", args=[d.issue.pk]
    ),
    "admin-issue-schedule": lambda d: reverse(
        "admin:newsletter_issue_schedule", args=[d.issue.pk]
    ),
    "admin-subscriber-list": lambda d: reverse(
        "admin:newsletter_subscriber_changelist"
    ),
    "admin-subscriber-change": lambda d: change("newsletter_subscriber", d.subscriber),
    "admin-subscriber-import": lambda d: reverse("admin:newsletter_subscriber_import"),
    "admin-subscriber-import-status": lambda d: reverse(
        "admin:newsletter_subscriber_import_status", args=[d.subscriber_import.pk]
    ),
    "admin-calendar-month": lambda d: reverse("calendar:calendar"),
    "admin-calendar-week": lambda d: reverse("calendar:calendar") + "?view=week",
    "admin-calendar-feed": lambda d: reverse("calendar:feed_settings"),
    "admin-welcome-step-list": lambda d: reverse(
        "admin:newsletter_welcomestep_changelist"
    ),
    "admin-welcome-step-change": lambda d: change(
        "newsletter_welcomestep", stale_welcome_step()
    ),
    "admin-welcome-step-add": lambda d: reverse("admin:newsletter_welcomestep_add"),
    "admin-readership": lambda d: reverse("admin:articles_article_readership"),
    "admin-article-readership": lambda d: reverse(
        "admin:articles_article_article_readership", args=[d.article.pk]
    ),
    "admin-search-insight": lambda d: reverse("admin:articles_searchcount_changelist"),
    "admin-source-check": lambda d: reverse(
        "admin:articles_sourcecheckstate_change", args=[1]
    ),
    "admin-source-list": lambda d: reverse("admin:articles_sourcetarget_changelist"),
    "admin-source-change": lambda d: change(
        "articles_sourcetarget", SourceTarget.objects.get()
    ),
}
# What staff see after a workflow button: {name: (article, action)}; the page is
# the article's change page with the confirmation message.
WORKFLOW_CONFIRMATIONS: dict[str, tuple[Callable[[AdminData], Article], str]] = {
    "admin-article-submitted": (lambda d: d.draft, "submit"),
    "admin-article-approved": (lambda d: d.in_review, "approve"),
    "admin-article-published": (lambda d: d.in_review, "publish"),
    "admin-article-unpublished": (lambda d: d.article, "unpublish"),
}


def workflow_url(article: Article, action: str) -> str:
    return reverse(f"admin:articles_article_workflow_{action}", args=[article.pk])


def admin_documents(client) -> dict[str, str]:
    """{document name: HTML} for the admin pages staff use, a workflow
    confirmation after each button, and public lists with covers."""
    data = admin_data()
    staff = VerifiedClient()
    staff.force_login(data.owner)
    documents = {}
    for name, build in ADMIN_PAGES.items():
        path = build(data)
        response = staff.get(path)
        assert response.status_code == 200, (name, path)
        documents[name] = response.content.decode()
    made = staff.post(reverse("calendar:feed_settings"), {"action": "new"})
    documents["admin-calendar-feed-made"] = made.content.decode()
    # The add form shown again with an error, holding the cover image chosen.
    refused = staff.post(
        reverse("admin:articles_article_add"),
        admin_article_form(cover_image=image_upload("held.png")),
    )
    assert "Chosen: <strong>held.png</strong>" in refused.text
    documents["admin-article-add-held-cover"] = refused.content.decode()
    article = data.article
    for name, path in {
        "home-with-covers": reverse("articles:home"),
        "article-list-with-covers": reverse("articles:list"),
        "topic-with-covers": article.topic.get_absolute_url(),
    }.items():
        response = client.get(path)
        assert response.status_code == 200, (name, path)
        documents[name] = response.content.decode()
    assert "<source" in documents["article-list-with-covers"]
    # Last: unpublishing takes the article off the public lists above.
    for name, (article, action) in WORKFLOW_CONFIRMATIONS.items():
        response = staff.post(workflow_url(article(data), action), follow=True)
        assert response.status_code == 200, name
        [message] = response.context["messages"]
        assert message.level_tag == "success", (name, message)
        documents[name] = response.content.decode()
    return documents


def test_admin_pages_and_public_lists_with_covers_are_valid_html(
    client,
    tmp_path,
    java,  # noqa: F811
):
    documents = {f"{name}.html": html for name, html in admin_documents(client).items()}
    assert 'name="tell_readers"' in documents["admin-article-change-correction.html"]
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
