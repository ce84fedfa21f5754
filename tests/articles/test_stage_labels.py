"""The stage label says first what readers see (Article.stage_label, the one label
the dashboard, the admin list and the workflow panel show), and the panel tells
the first publication apart from when the live version went live."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles import selectors
from articles.editorial import revisions, workflow
from articles.models import Article, Stage, Transition
from tests.factories import make_article, make_draft, make_role_user, make_scheduled

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:articles_article_changelist"
LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def edit(article: Article, user, **changes) -> None:
    workflow.save_draft(
        article=article, data={**revisions.snapshot(article), **changes}, user=user
    )


def live_with_change(stage: str, editor) -> Article:
    article = make_article(stage=Stage.LIVE, created_by=editor)
    edit(article, editor, title=f"{article.title}, retitled")
    Article.objects.filter(pk=article.pk).update(stage=stage)
    return Article.objects.get(pk=article.pk)


@pytest.mark.parametrize(
    ("stage", "label"),
    [
        (Stage.DRAFT, "Live · changes in draft"),
        (Stage.CHANGES_REQUESTED, "Live · changes requested"),
        (Stage.IN_REVIEW, "Live · changes in review"),
        (Stage.APPROVED, "Live · approved changes waiting"),
    ],
)
def test_a_live_article_with_a_change_in_progress_is_labelled_live(stage, label):
    editor = make_role_user("Editor")
    assert live_with_change(stage, editor).stage_label == label


def test_labels_without_a_change_in_progress_say_the_stage_or_the_schedule():
    assert make_article(stage=Stage.LIVE).stage_label == "Live"
    assert make_draft().stage_label == "Draft"
    assert make_draft(stage=Stage.IN_REVIEW).stage_label == "In review"
    assert make_draft(stage=Stage.UNPUBLISHED).stage_label == "Unpublished"
    scheduled = make_scheduled(stage=Stage.SCHEDULED)
    moment = timezone.localtime(scheduled.published_at)
    assert scheduled.stage_label == (
        f"Scheduled for {moment.day} {moment:%b %Y, %H:%M}"
    )
    # Its time come, a scheduled article is live.
    came = make_article(stage=Stage.SCHEDULED)
    assert came.stage_label == "Live"


def test_the_list_dashboard_and_panel_show_the_same_label(client):
    editor = make_role_user("Editor")
    article = live_with_change(Stage.IN_REVIEW, editor)
    client.force_login(editor)
    listed = client.get(reverse(CHANGELIST)).text
    assert '<td class="field-stage_column">Live · changes in review</td>' in listed
    dashboard = client.get(reverse("admin:index")).text
    assert "Live · changes in review</span>" in dashboard
    page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert "Live · changes in review</span>" in page.text
    # Coloured as live, the version readers see.
    badge = 'class="stage-badge stage-badge--live">Live · changes in review</span>'
    assert badge in page.text and badge in dashboard
    assert ">Draft</span>" not in page.text + dashboard


def test_the_article_list_adds_no_query_per_row(client):
    editor = make_role_user("Editor")
    client.force_login(editor)
    live_with_change(Stage.DRAFT, editor)
    make_scheduled(stage=Stage.SCHEDULED)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    for _ in range(5):
        live_with_change(Stage.IN_REVIEW, editor)
        make_scheduled(stage=Stage.SCHEDULED)
        make_draft()
    with CaptureQueriesContext(connection) as many:
        text = client.get(reverse(CHANGELIST)).text
    assert text.count("Live · changes in review") == 5
    assert len(many) == len(few)


def published_live(editor, *, days_ago: int) -> Article:
    article = make_draft(summary=LONG_SUMMARY, created_by=editor)
    edit(article, editor, body="<p>First version of the text.</p>")
    workflow.publish(article=article, user=editor)
    first = timezone.now() - timedelta(days=days_ago)
    Article.objects.filter(pk=article.pk).update(published_at=first)
    Transition.objects.filter(article=article).update(at=first)
    return Article.objects.get(pk=article.pk)


def test_after_a_correction_the_panel_tells_first_publication_from_this_version(
    client,
):
    editor = make_role_user("Editor")
    article = published_live(editor, days_ago=30)
    first = article.published_at
    edit(article, editor, body="<p>Corrected version of the text.</p>")
    workflow.publish(article=article, user=editor, correction="A dose was wrong.")
    article = Article.objects.get(pk=article.pk)
    since = selectors.live_since(article)
    assert article.published_at == first
    assert since > first + timedelta(days=29)
    client.force_login(editor)
    text = client.get(reverse("admin:articles_article_change", args=[article.pk])).text
    shown = re.search(r"<dt>Readers see</dt>\s*<dd>(.*?)</dd>", text, re.S).group(1)
    local_since = timezone.localtime(since)
    local_first = timezone.localtime(first)
    assert (
        f'This version live since <time datetime="{local_since:%Y-%m-%dT%H:%M:%S%z}">'
        in shown
    )
    assert (
        f'First published <time datetime="{local_first:%Y-%m-%dT%H:%M:%S%z}">'
        f"{local_first.day} {local_first:%b %Y, %H:%M}</time>" in shown
    )


def test_a_version_never_republished_went_live_at_the_publish_time():
    editor = make_role_user("Editor")
    article = published_live(editor, days_ago=3)
    assert selectors.live_since(article) == article.published_at
    # An article loaded outside the workflow has no publishing step.
    row = make_article()
    assert selectors.live_since(row) == row.published_at
    assert selectors.live_since(make_draft()) is None
