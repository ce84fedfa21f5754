"""The weekly email to medical reviewers about due reviews
(articles/editorial/reminders.py),
its self-scheduling task (articles/tasks.py) and the command that starts it."""

import io
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from articles.editorial import reminders, revisions, workflow
from articles.models import Article, Author, MedicalApproval, ReviewReminder
from articles.tasks import send_review_reminders
from tests.factories import (
    make_article,
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_staff,
    make_topic,
    make_user,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 3, 11)  # a Wednesday
WEEK = date(2026, 3, 9)
LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def reviewed_article(
    *, due: date, approver=None, assigned=None, medical_topic: bool = True, **fields
) -> Article:
    """A live medical article whose review is due on `due`, approved by
    `approver` (its last approval) and assigned to `assigned`."""
    article = make_article(
        topic=make_topic(medical=medical_topic), assigned_reviewer=assigned, **fields
    )
    if approver is not None:
        revision = revisions.latest(article, user=approver)
        MedicalApproval.objects.create(
            article=article,
            revision=revision,
            review_hash=revision.review_hash,
            reviewer=Author.objects.get(user=approver),
            user=approver,
            approved_at=timezone.now() - timedelta(days=300),
        )
    Article.objects.filter(pk=article.pk).update(review_due=due)
    article.refresh_from_db()
    return article


def admin_link(article: Article) -> str:
    return f"{settings.SITE_URL}/admin/articles/article/{article.pk}/change/"


def mail_to(address: str) -> list:
    return [message for message in mail.outbox if message.to == [address]]


def html_of(message) -> str:
    return message.alternatives[0][0]


# Who is told about what ------------------------------------------------------------


def test_due_and_overdue_articles_go_to_the_reviewer_who_approved_or_is_assigned():
    ana, ben = make_reviewer(username="ana"), make_reviewer(username="ben")
    overdue = reviewed_article(due=TODAY - timedelta(days=5), approver=ana)
    soon = reviewed_article(due=TODAY + timedelta(days=20), assigned=ana)
    edge = reviewed_article(due=TODAY + timedelta(days=30), approver=ana)
    later = reviewed_article(due=TODAY + timedelta(days=31), approver=ana)
    not_medical = reviewed_article(
        due=TODAY, approver=ana, medical_topic=False, medical=False
    )
    unpublished = reviewed_article(due=TODAY, approver=ana, status="draft")
    bens = reviewed_article(due=TODAY + timedelta(days=10), approver=ben)

    outcome = reminders.send_due_reminders(today=TODAY)

    assert outcome == reminders.Outcome(sent=2, already_sent=0, failed=0, articles=4)
    [to_ana] = mail_to("ana@example.com")
    assert to_ana.subject == "Skincare: 3 medical reviews due, 1 overdue"
    for article in [overdue, soon, edge]:
        assert article.title in to_ana.body
        assert admin_link(article) in to_ana.body
        assert f'href="{admin_link(article)}"' in html_of(to_ana)
    for article in [later, not_medical, unpublished, bens]:
        assert article.title not in to_ana.body
    # Overdue first, then by due date.
    positions = [to_ana.body.index(a.title) for a in [overdue, soon, edge]]
    assert positions == sorted(positions)
    assert "OVERDUE since 6 March 2026" in to_ana.body
    assert "Assigned to you." in to_ana.body
    assert "You approved it last." in to_ana.body
    [to_ben] = mail_to("ben@example.com")
    assert to_ben.subject == "Skincare: 1 medical review due"
    assert bens.title in to_ben.body and overdue.title not in to_ben.body


def test_the_assigned_reviewer_and_the_last_approver_are_both_told():
    ana, ben = make_reviewer(username="ana"), make_reviewer(username="ben")
    article = reviewed_article(due=TODAY, approver=ana, assigned=ben)
    reminders.send_due_reminders(today=TODAY)
    assert article.title in mail_to("ana@example.com")[0].body
    assert "Assigned to you." in mail_to("ben@example.com")[0].body


def test_an_article_whose_reviewer_is_gone_goes_to_every_reviewer():
    make_reviewer(username="ana"), make_reviewer(username="ben")
    gone = make_reviewer(username="gone")
    article = reviewed_article(due=TODAY, approver=gone)
    gone.is_active = False
    gone.save()
    deleted = make_reviewer(username="deleted")
    orphan = reviewed_article(due=TODAY, approver=deleted)
    deleted.delete()
    make_staff(username="boss")  # every permission, but not a medical reviewer
    make_role_user("Editor")

    reminders.send_due_reminders(today=TODAY)

    assert sorted(m.to[0] for m in mail.outbox) == [
        "ana@example.com",
        "ben@example.com",
    ]
    for message in mail.outbox:
        assert article.title in message.body and orphan.title in message.body
        assert "so every reviewer is asked" in message.body


def test_a_reviewer_given_the_permission_directly_is_told():
    user = make_role_user("Writer", username="direct")
    user.user_permissions.add(Permission.objects.get(codename="review_article"))
    reviewed_article(due=TODAY, assigned=user)
    reminders.send_due_reminders(today=TODAY)
    assert len(mail_to("direct@example.com")) == 1


def test_nothing_due_sends_nothing():
    ana = make_reviewer(username="ana")
    reviewed_article(due=TODAY + timedelta(days=90), approver=ana)
    outcome = reminders.send_due_reminders(today=TODAY)
    assert outcome.sent == 0
    assert mail.outbox == []
    assert not ReviewReminder.objects.exists()


def test_a_review_due_set_by_the_workflow_is_reminded_before_it_falls_due():
    writer, editor = make_role_user("Writer"), make_role_user("Editor")
    reviewer = make_reviewer()
    topic = make_topic(medical=True, review_interval_months=6)
    article = make_draft(topic=topic, summary=LONG_SUMMARY, created_by=writer)
    data = {
        **revisions.snapshot(article),
        "body": "<p>Text [1].</p>",
        "sources": [{"title": "A trial", "url": "https://example.org/t"}],
    }
    workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    workflow.publish(article=article, user=editor)
    article.refresh_from_db()
    assert article.review_due == workflow.add_months(timezone.localdate(), 6)

    assert (
        reminders.send_due_reminders(today=article.review_due - timedelta(31)).sent == 0
    )
    reminders.send_due_reminders(today=article.review_due - timedelta(days=3))
    [message] = mail.outbox
    assert message.to == [reviewer.email]
    assert article.title in message.body


# Once a week at most -------------------------------------------------------------


def test_a_second_run_in_the_same_week_sends_nothing_and_next_week_sends_again():
    ana = make_reviewer(username="ana")
    reviewed_article(due=TODAY, approver=ana)
    assert reminders.send_due_reminders(today=TODAY).sent == 1
    again = reminders.send_due_reminders(today=TODAY + timedelta(days=2))
    assert (again.sent, again.already_sent) == (0, 1)
    assert len(mail.outbox) == 1
    claim = ReviewReminder.objects.get()
    assert (claim.user, claim.week, claim.article_count) == (ana, WEEK, 1)
    assert claim.sent_at is not None
    assert reminders.send_due_reminders(today=TODAY + timedelta(days=7)).sent == 1
    assert len(mail.outbox) == 2


def test_a_claim_left_by_a_killed_run_means_no_email_that_week():
    ana = make_reviewer(username="ana")
    reviewed_article(due=TODAY, approver=ana)
    # Claimed, then the worker died before sending: at most once, by choice.
    ReviewReminder.objects.create(user=ana, week=WEEK, article_count=1)
    assert reminders.send_due_reminders(today=TODAY).already_sent == 1
    assert mail.outbox == []


def test_an_email_that_fails_to_send_releases_its_claim(monkeypatch):
    ana, ben = make_reviewer(username="ana"), make_reviewer(username="ben")
    reviewed_article(due=TODAY, approver=ana)
    reviewed_article(due=TODAY, approver=ben)
    real_send = mail.EmailMultiAlternatives.send

    def refuse_ana(message, *args, **kwargs):
        if message.to == ["ana@example.com"]:
            raise ConnectionRefusedError("SMTP down")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", refuse_ana)
    outcome = reminders.send_due_reminders(today=TODAY)
    assert (outcome.sent, outcome.failed) == (1, 1)
    assert list(ReviewReminder.objects.values_list("user", flat=True)) == [ben.pk]
    monkeypatch.undo()
    assert reminders.send_due_reminders(today=TODAY).sent == 1
    assert len(mail_to("ana@example.com")) == 1


def test_the_plan_takes_the_same_queries_for_few_and_many(
    django_assert_max_num_queries,
):
    ana, ben = make_reviewer(username="ana"), make_reviewer(username="ben")
    reviewed_article(due=TODAY, approver=ana)
    with django_assert_max_num_queries(3):
        reminders.plan(today=TODAY)
    for n in range(20):
        reviewed_article(due=TODAY, approver=ana if n % 2 else ben)
        reviewed_article(due=TODAY, assigned=make_reviewer(username=f"r{n}"))
    with django_assert_max_num_queries(3):
        planned = reminders.plan(today=TODAY)
    assert len(planned) == 22


# The email -----------------------------------------------------------------------


def test_the_email_reads_well(tmp_path):
    ana = make_reviewer(username="ana")
    ana.first_name = "Ana"
    ana.save()
    reviewed_article(
        due=TODAY - timedelta(days=40), approver=ana, title="Retinoids & pregnancy"
    )
    reviewed_article(due=TODAY + timedelta(days=12), assigned=ana, title="Sunscreen")
    reminders.send_due_reminders(today=TODAY)
    [message] = mail.outbox
    assert message.body.startswith("Hi Ana,\n\nThese 2 medical articles need")
    assert "OVERDUE since 30 January 2026: Retinoids & pregnancy (Topic" in message.body
    assert "Due 23 March 2026: Sunscreen" in message.body
    assert "Retinoids &amp; pregnancy" in html_of(message)
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert f"{settings.SITE_URL}/admin/articles/article/" in message.body
    # Kept for a person to read: /tmp/review-due.eml.
    raw = message.message().as_bytes()
    Path("/tmp/review-due.eml").write_bytes(raw)
    parsed = message_from_bytes(raw)
    assert parsed["To"] == "ana@example.com"


# The task and its chain ----------------------------------------------------------


def queued() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path="articles.tasks.send_review_reminders",
            status=TaskResultStatus.READY,
        )
    )


def test_the_task_sends_and_queues_its_next_run_for_monday_morning(database_tasks):
    ana = make_reviewer(username="ana")
    reviewed_article(due=timezone.localdate(), approver=ana)
    before = timezone.now()
    result = send_review_reminders.call()
    assert result["sent"] == 1
    [follow_up] = queued()
    run_after = timezone.localtime(follow_up.run_after)
    assert run_after.weekday() == 0 and run_after.time() == reminders.RUN_TIME
    assert timedelta(0) < run_after - before <= timedelta(days=7)
    # A second chain folds into the first: still one run waiting.
    send_review_reminders.call()
    assert len(queued()) == 1
    assert len(mail.outbox) == 1


def test_the_task_queues_its_next_run_even_when_it_fails(database_tasks, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(reminders, "send_due_reminders", broken)
    with pytest.raises(RuntimeError):
        send_review_reminders.call()
    assert len(queued()) == 1


def test_the_next_run_is_the_next_monday_morning():
    tz = timezone.get_current_timezone()
    wednesday = timezone.make_aware(datetime(2026, 3, 11, 15, 0), tz)
    monday_early = timezone.make_aware(datetime(2026, 3, 9, 6, 0), tz)
    assert reminders.next_run_after(wednesday) == timezone.make_aware(
        datetime(2026, 3, 16, 7, 0), tz
    )
    assert reminders.next_run_after(monday_early) == timezone.make_aware(
        datetime(2026, 3, 16, 7, 0), tz
    )
    assert reminders.week_of(date(2026, 3, 15)) == WEEK


def worker_env(email_dir: Path) -> dict:
    """A real worker's environment: this test database, emails written to files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = db["NAME"]
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        env["DATABASE_URL"] = f"postgres://{auth}@{host}/{db['NAME']}"
    return {
        **env,
        "DJANGO_SECRET_KEY": "worker-test-secret",
        "DJANGO_DEFAULT_FROM_EMAIL": "news@example.com",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(email_dir),
    }


def reviewer_without_role(username: str):
    """A reviewer by direct permission, for transactional tests: they run after the
    others, once an earlier one has flushed the roles a migration made."""
    user = make_user(username=username)
    user.is_staff = True
    user.email = f"{username}@example.com"
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="review_article"))
    make_author(user=user, credentials="MD")
    return user


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_queued_reminders_and_leaves_next_week_queued(
    database_tasks, tmp_path
):
    ana = reviewer_without_role("ana")
    article = reviewed_article(due=timezone.localdate(), approver=ana)
    call_command("schedule_review_reminders", stdout=io.StringIO())
    worker = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
        cwd=ROOT,
        env=worker_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    [written] = list(tmp_path.iterdir())
    message = message_from_bytes(written.read_bytes())
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Skincare: 1 medical review due"
    assert article.title in written.read_text()
    assert ReviewReminder.objects.get().sent_at is not None
    [follow_up] = queued()
    assert follow_up.run_after > timezone.now()


# The command ---------------------------------------------------------------------


def test_the_command_starts_the_chain_once(database_tasks):
    out = io.StringIO()
    call_command("schedule_review_reminders", stdout=out)
    assert "Queued the weekly review reminders" in out.getvalue()
    assert len(queued()) == 1
    out = io.StringIO()
    call_command("schedule_review_reminders", stdout=out)
    assert "queued already (next run: as soon as a worker is free)" in out.getvalue()
    assert len(queued()) == 1


def test_the_command_sees_a_run_queued_for_next_week(database_tasks):
    send_review_reminders.call()
    out = io.StringIO()
    call_command("schedule_review_reminders", stdout=out)
    assert "queued already (next run: 20" in out.getvalue()
    assert len(queued()) == 1


def test_the_command_dry_run_writes_nothing(database_tasks):
    ana = make_reviewer(username="ana")
    reviewed_article(due=timezone.localdate(), approver=ana)
    out = io.StringIO()
    call_command("schedule_review_reminders", "--dry-run", stdout=out)
    assert "ana: 1 article(s)" in out.getvalue()
    assert "Dry run: nothing queued." in out.getvalue()
    assert not DBTaskResult.objects.exists()
    assert not ReviewReminder.objects.exists()
    assert mail.outbox == []


def test_the_command_with_the_immediate_backend_sends_without_chaining():
    ana = make_reviewer(username="ana")
    reviewed_article(due=timezone.localdate(), approver=ana)
    call_command("schedule_review_reminders", stdout=io.StringIO())
    assert len(mail.outbox) == 1
    assert not DBTaskResult.objects.exists()
