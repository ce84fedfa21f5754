"""What the desk sees of the source check: the dashboard's "Source problems"
queue, who may mark a problem checked and fine (per role, by crafted POSTs), the
reviewers' queue for a medical article citing retracted work, the admin's pause
switch and progress, the command and the weekly chain."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from articles.admin import dashboard, sources
from articles.editorial import workflow
from articles.models import (
    Article,
    ProblemKind,
    SourceCheckState,
    SourceProblem,
    SourceTarget,
    Stage,
    Transition,
)
from articles.sources import checking
from articles.sources.schedule import check_sources
from tests.articles.fake_sources import RETRACTED_DOI
from tests.articles.source_fixtures import cite, live_article, web
from tests.factories import make_reviewer, make_role_user, make_topic

pytestmark = pytest.mark.django_db
__all__ = ["web"]


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def problem_on(article: Article, kind: str, value: str = "") -> SourceProblem:
    target, _ = SourceTarget.objects.get_or_create(
        kind="url", value=value or f"https://example.org/{kind}/{article.pk}"
    )
    return SourceProblem.objects.create(
        article=article, target=target, kind=kind, reason=f"Reason: {kind}."
    )


def test_a_medical_article_citing_retracted_work_goes_to_the_reviewers_queue(web):
    reviewer = make_reviewer()
    medical = live_article(topic=make_topic(medical=True))
    plain = live_article()
    cite(medical, doi=RETRACTED_DOI)
    cite(plain, doi=RETRACTED_DOI)

    checking.run()

    medical.refresh_from_db()
    plain.refresh_from_db()
    assert medical.stage == Stage.IN_REVIEW
    assert plain.stage == Stage.LIVE
    assert medical.review_due == plain.review_due == timezone.localdate()
    step = Transition.objects.get(article=medical)
    assert step.actor is None and "retracted" in step.note
    assert (step.from_stage, step.to_stage) == (Stage.LIVE, Stage.IN_REVIEW)
    queue = next(s for s in dashboard.for_user(reviewer).sections if s.key == "review")
    assert [row.article for row in queue.rows] == [medical]
    # The reviewer approves the live version again: it leaves the queue, Live.
    workflow.approve(article=medical, user=reviewer)
    medical.refresh_from_db()
    assert medical.stage == Stage.LIVE
    assert medical.review_due > timezone.localdate()


def test_a_retraction_on_a_medical_article_with_changes_in_progress_is_logged_only():
    article = live_article(topic=make_topic(medical=True), stage=Stage.DRAFT)

    moved = workflow.send_back_to_review(article=article, reason="A source is gone")

    article.refresh_from_db()
    assert not moved and article.stage == Stage.DRAFT
    assert Transition.objects.get(article=article).note == "A source is gone"


def test_the_dashboard_lists_open_problems_with_links_and_the_button(client):
    editor = make_role_user("Editor")
    article = live_article(title="Retinoids, slowly")
    problem = problem_on(article, ProblemKind.FAILING)
    closed = problem_on(live_article(title="Closed one"), ProblemKind.MOVED)
    SourceProblem.objects.filter(pk=closed.pk).update(resolved_at=timezone.now())
    client.force_login(editor)

    page = client.get(reverse("admin:index")).content.decode()

    assert 'id="source-problems"' in page
    assert "Retinoids, slowly" in page and "Reason: failing." in page
    assert reverse("admin:articles_article_change", args=[article.pk]) in page
    assert reverse("admin:articles_sourceproblem_dismiss", args=[problem.pk]) in page
    assert "Closed one" not in page


def test_the_queue_takes_the_same_queries_for_one_problem_as_for_ten(
    django_assert_num_queries,
):
    editor = make_role_user("Editor")
    problem_on(live_article(), ProblemKind.FAILING)
    sources.queue_for(editor)  # permissions cached, as on a page
    with django_assert_num_queries(2):
        assert sources.queue_for(editor).count == 1
    for _ in range(9):
        problem_on(live_article(), ProblemKind.MOVED)
    with django_assert_num_queries(2):
        assert len(sources.queue_for(editor).rows) == 10


@pytest.mark.parametrize(
    ("role", "owner", "kind", "allowed"),
    [
        ("Editor", False, ProblemKind.FAILING, True),
        ("Editor", False, ProblemKind.RETRACTED, True),
        ("Writer", True, ProblemKind.FAILING, True),
        ("Writer", True, ProblemKind.MOVED, True),
        ("Writer", True, ProblemKind.RETRACTED, False),
        ("Writer", False, ProblemKind.FAILING, False),
        ("Medical reviewer", False, ProblemKind.RETRACTED, True),
        ("Medical reviewer", False, ProblemKind.FAILING, False),
        ("Newsletter editor", False, ProblemKind.FAILING, False),
        ("Newsletter editor", False, ProblemKind.RETRACTED, False),
    ],
)
def test_who_may_mark_a_problem_checked_and_fine(client, role, owner, kind, allowed):
    user = (
        make_reviewer(username="rev")
        if role == "Medical reviewer"
        else make_role_user(role, username="someone")
    )
    article = live_article(created_by=user if owner else None)
    problem = problem_on(article, kind)
    client.force_login(user)

    # A crafted POST, whether or not the dashboard showed the button.
    response = client.post(
        reverse("admin:articles_sourceproblem_dismiss", args=[problem.pk])
    )

    assert response.status_code == 302
    problem.refresh_from_db()
    assert (problem.dismissed_at is not None) is allowed
    assert (problem.dismissed_by == user) is allowed
    shown = sources.queue_for(user)
    if allowed:
        assert shown is None or problem.pk not in [r.problem.pk for r in shown.rows]


def test_dismissing_takes_a_post_and_an_open_problem(client):
    editor = make_role_user("Editor")
    problem = problem_on(live_article(), ProblemKind.FAILING)
    url = reverse("admin:articles_sourceproblem_dismiss", args=[problem.pk])
    client.force_login(editor)

    assert client.get(url).status_code == 405
    client.post(url)
    first = SourceProblem.objects.get().dismissed_at
    response = client.post(url, follow=True)

    assert "no longer open" in response.content.decode()
    assert SourceProblem.objects.get().dismissed_at == first


def test_each_role_sees_the_problems_that_concern_it():
    writer = make_role_user("Writer", username="writer")
    reviewer = make_reviewer()
    newsletter = make_role_user("Newsletter editor")
    own = problem_on(live_article(created_by=writer), ProblemKind.FAILING)
    retracted = problem_on(live_article(), ProblemKind.RETRACTED)
    problem_on(live_article(), ProblemKind.MOVED)

    assert [r.problem for r in sources.queue_for(writer).rows] == [own]
    assert [r.problem for r in sources.queue_for(reviewer).rows] == [retracted]
    assert sources.queue_for(newsletter) is None


def test_the_admin_switch_pauses_the_check_and_shows_its_progress(client):
    editor = make_role_user("Editor")
    SourceCheckState.objects.create(
        pk=1,
        run_started_at=timezone.now(),
        total=40,
        checked=12,
        next_run_at=timezone.now() + timedelta(days=7),
    )
    url = reverse("admin:articles_sourcecheckstate_change", args=[1])
    client.force_login(editor)

    page = client.get(url).content.decode()
    assert "12 of 40 sources checked" in page
    client.post(url, {"paused": "on"})
    assert SourceCheckState.objects.get().paused

    # Unticked: the stopped run carries on now (tasks run at once in tests).
    client.post(url, {})
    state = SourceCheckState.objects.get()
    assert not state.paused and not state.running


def test_a_writer_cannot_reach_the_switch(client):
    writer = make_role_user("Writer")
    SourceCheckState.objects.create(pk=1)
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_sourcecheckstate_change", args=[1]), {"paused": "on"}
    )

    assert response.status_code == 403
    assert not SourceCheckState.objects.get().paused


def test_the_commands_dry_run_lists_sources_and_changes_nothing(database_tasks):
    article = live_article()
    cite(article, url="https://example.org/study", doi="10.1/abc")
    cite(article, url="javascript:alert(1)")
    out = io.StringIO()

    call_command("check_sources", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "url https://example.org/study" in text and "doi 10.1/abc" in text
    assert "not fetched" in text and "Would check 3 source(s)" in text
    assert not SourceTarget.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_the_command_queues_one_run_however_often_it_is_called(database_tasks):
    first, second = io.StringIO(), io.StringIO()

    call_command("check_sources", stdout=first)
    call_command("check_sources", stdout=second)

    assert "Queued the source check" in first.getvalue()
    assert "queued already" in second.getvalue()
    assert DBTaskResult.objects.filter(task_path=check_sources.module_path).count() == 1


def test_a_run_queues_the_next_one_a_week_later(database_tasks, web):
    cite(live_article(), url=web.url("/ok/page"))

    check_sources.call()

    waiting = DBTaskResult.objects.get(
        task_path=check_sources.module_path, status=TaskResultStatus.READY
    )
    week = timezone.now() + timedelta(days=7)
    assert abs((waiting.run_after - week).total_seconds()) < 60
    assert SourceCheckState.objects.get().next_run_at == waiting.run_after


def test_an_editor_reads_a_sources_history_in_the_admin(client):
    editor = make_role_user("Editor")
    target = SourceTarget.objects.create(kind="url", value="https://example.org/a")
    target.checks.create(outcome="broken", http_status=410, reason="Gone for good.")
    target.checks.create(outcome="ok", http_status=200)
    client.force_login(editor)

    page = client.get(
        reverse("admin:articles_sourcetarget_change", args=[target.pk])
    ).content.decode()

    assert "Gone for good." in page and "410" in page
    assert page.index("Fine") < page.index("Gone for good.")  # newest first


def test_an_editor_finds_the_switch_before_any_run(client):
    client.force_login(make_role_user("Editor"))

    response = client.get(reverse("admin:articles_sourcecheckstate_changelist"))

    assert response.url == reverse("admin:articles_sourcecheckstate_change", args=[1])
    assert not SourceCheckState.objects.get().paused


def test_a_writer_cannot_open_the_switch_nor_make_its_row(client):
    client.force_login(make_role_user("Writer"))

    response = client.get(reverse("admin:articles_sourcecheckstate_changelist"))

    assert response.status_code == 403
    assert not SourceCheckState.objects.exists()


def test_a_problem_never_puts_a_review_off(web):
    yesterday = timezone.localdate() - timedelta(days=1)
    later = timezone.localdate() + timedelta(days=90)
    overdue = live_article(review_due=yesterday)
    due_later = live_article(review_due=later)
    for article in (overdue, due_later):
        cite(article, url=web.url("/moved"))

    checking.run()

    overdue.refresh_from_db()
    due_later.refresh_from_db()
    assert overdue.review_due == yesterday
    assert due_later.review_due == timezone.localdate()
