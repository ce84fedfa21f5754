"""Sending issues exactly once, against a real SMTP server on loopback."""

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.sanitize import sanitize_html
from newsletter import emails
from newsletter.delivery import claims, issues, pacing
from newsletter.delivery.transport import Transport
from newsletter.issues import clicks
from newsletter.models import Delivery, Issue, SendClaim, Subscriber, counters
from tests.factories import approve_issue, make_role_user
from tests.smtp_sink import Rule, SMTPSink

pytestmark = pytest.mark.django_db

S = Subscriber.Status
D = Delivery.Status


def add_subscribers(count: int, *, status: str = S.CONFIRMED, prefix: str = "reader"):
    now = timezone.now()
    extra = {}
    if status == S.CONFIRMED:
        extra["confirmed_at"] = now
    if status in {S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED}:
        extra["left_at"] = now
    Subscriber.objects.bulk_create(
        Subscriber(
            email=f"{prefix}{i}@example.com",
            first_name=f"Reader {i}" if i % 2 else "",
            status=status,
            consent_text="I agree",
            consent_version="test",
            consent_source=Subscriber.Source.PAGE,
            **extra,
        )
        for i in range(count)
    )


def scheduled_issue(**fields) -> Issue:
    """Due now, its text approved by a medical reviewer (as scheduling needs)."""
    fields.setdefault("subject", "Winter skin, gently")
    fields.setdefault("slug", "winter-skin")
    body = "<h2>Hello</h2><p>Moisturise <a href='/articles/'>more</a>.</p>"
    fields["body"] = sanitize_html(html=fields.get("body", body))
    issue = Issue.objects.create(
        status=Issue.Status.SCHEDULED, scheduled_at=timezone.now(), **fields
    )
    approve_issue(issue)
    return issue


@pytest.fixture
def sink(settings):
    with SMTPSink() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.NEWSLETTER_RETRY_BASE_SECONDS = 0
        settings.NEWSLETTER_RATE_PER_SECOND = 0
        yield server


def test_two_thousand_recipients_each_get_exactly_one_message(sink, settings):
    settings.NEWSLETTER_BATCH_SIZE = 250
    add_subscribers(2000)
    for status in (S.PENDING, S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED):
        add_subscribers(5, status=status, prefix=f"{status}-")
    issue = scheduled_issue()

    assert issues.start_send(issue_id=issue.pk)
    result = issues.run(issue_id=issue.pk)

    received = sink.handler.recipients()
    assert len(received) == 2000
    assert set(received.values()) == {1}
    confirmed = set(Subscriber.objects.confirmed().values_list("email", flat=True))
    assert set(received) == confirmed
    assert result.outcomes == {D.SENT: 2000} and result.finished
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT and issue.recipient_count == 2000
    assert issue.deliveries.counts()[D.SENT] == 2000
    assert counters.issue_counts(issue) == counters.recount(issue)
    message_ids = [m.message_id for m in sink.handler.accepted]
    assert len(set(message_ids)) == 2000


def test_every_issue_email_is_personal_with_one_click_unsubscribe_headers(sink):
    import email
    import email.policy

    from newsletter.subscribers.tokens import Purpose, read_token

    add_subscribers(3)
    issue = scheduled_issue(preheader="Three small habits")
    issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)
    reader = Subscriber.objects.get(email="reader1@example.com")
    accepted = next(m for m in sink.handler.accepted if m.recipient == reader.email)
    message = email.message_from_bytes(accepted.raw, policy=email.policy.default)

    header = accepted.headers["List-Unsubscribe"]
    prefix = f"<{settings.SITE_URL}/newsletter/unsubscribe/"
    assert header.startswith(prefix) and header.endswith("/>")
    token = header.removeprefix(prefix).removesuffix("/>")
    assert read_token(token, purpose=Purpose.UNSUBSCRIBE) == reader
    assert accepted.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert accepted.message_id == emails.message_id(issue=issue, subscriber=reader)

    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    unsubscribe_url = header[1:-1]
    assert unsubscribe_url in text and unsubscribe_url in html
    assert "Hi Reader 1," in html and "Hi Reader 1," in text
    # Absolute links, through the click counter (tests/newsletter/test_clicks.py).
    assert f'href="{settings.SITE_URL}/articles/"' not in html
    click = clicks.make_token(issue_id=issue.pk, url=f"{settings.SITE_URL}/articles/")
    assert f'href="{settings.SITE_URL}/newsletter/c/{click}/"' in html
    assert "Three small habits" in html
    assert "<style" not in html and "<link" not in html
    assert "%%" not in html and "%%" not in text


def test_nobody_who_left_after_the_send_started_receives_it(sink):
    add_subscribers(4)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    Subscriber.objects.filter(email="reader2@example.com").update(
        status=S.UNSUBSCRIBED, left_at=timezone.now()
    )
    Subscriber.objects.filter(email="reader3@example.com").delete()
    issues.run(issue_id=issue.pk)
    assert set(sink.handler.recipients()) == {
        "reader0@example.com",
        "reader1@example.com",
    }
    assert issue.deliveries.counts()[D.SKIPPED] == 2


def test_starting_twice_creates_no_second_delivery(sink):
    add_subscribers(5)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    issues.start_send(issue_id=issue.pk)
    assert issue.deliveries.count() == 5
    issues.run(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)
    assert sink.handler.count() == 5


def test_a_sent_issue_is_never_started_again(sink):
    add_subscribers(2)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)
    add_subscribers(2, prefix="late")
    assert not issues.start_send(issue_id=issue.pk)
    assert issues.run(issue_id=issue.pk).outcomes == {}
    assert sink.handler.count() == 2


def test_database_refuses_a_second_delivery_for_the_same_subscriber():
    from django.db import IntegrityError, transaction

    add_subscribers(1)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    subscriber = Subscriber.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(issue=issue, subscriber=subscriber)


def test_scheduled_issue_does_not_start_before_its_time():
    add_subscribers(1)
    issue = scheduled_issue()
    Issue.objects.filter(pk=issue.pk).update(
        scheduled_at=timezone.now() + timedelta(hours=1)
    )
    assert not issues.start_send(issue_id=issue.pk)
    assert not issue.deliveries.exists()


def test_temporary_and_permanent_refusals_get_retries_and_failures(sink, settings):
    settings.NEWSLETTER_MAX_ATTEMPTS = 4
    add_subscribers(10)
    rules = {
        # Greylisted twice at RCPT, then accepted: sent on the third attempt.
        "reader0@example.com": Rule("450 4.2.0 Greylisted, try later", times=2),
        # Refused once after DATA with a temporary error, then accepted.
        "reader1@example.com": Rule("451 4.3.0 Try again", at="data", times=1),
        # Mailbox does not exist: fails at once and the subscriber bounces.
        "reader2@example.com": Rule("550 5.1.1 No such user"),
        # Permanent refusal of the content: fails, the subscriber stays.
        "reader3@example.com": Rule("554 5.7.1 Rejected as spam", at="data"),
        # Always busy: given up after NEWSLETTER_MAX_ATTEMPTS.
        "reader4@example.com": Rule("421 4.7.0 Try again later"),
    }
    sink.handler.rules.update(rules)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)

    received = sink.handler.recipients()
    assert set(received.values()) == {1}
    assert set(received) == {f"reader{i}@example.com" for i in (0, 1, 5, 6, 7, 8, 9)}

    def delivery(i: int) -> Delivery:
        return issue.deliveries.get(subscriber__email=f"reader{i}@example.com")

    assert (delivery(0).status, delivery(0).attempts) == (D.SENT, 3)
    assert (delivery(1).status, delivery(1).attempts) == (D.SENT, 2)
    assert (delivery(2).status, delivery(2).smtp_code) == (D.FAILED, 550)
    assert "No such user" in delivery(2).error
    assert Subscriber.objects.get(email="reader2@example.com").status == S.BOUNCED
    assert (delivery(3).status, delivery(3).smtp_code) == (D.FAILED, 554)
    assert Subscriber.objects.get(email="reader3@example.com").status == S.CONFIRMED
    assert (delivery(4).status, delivery(4).attempts) == (D.FAILED, 4)
    assert "Gave up after 4 attempts" in delivery(4).error
    assert sink.handler.attempts[("reader4@example.com", "rcpt")] == 4
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    counted = counters.issue_counts(issue)
    assert counted == counters.recount(issue)
    assert (counted[D.SENT], counted[D.FAILED], counted[D.QUEUED]) == (7, 3, 0)


def test_retries_wait_with_exponential_back_off(sink, settings):
    settings.NEWSLETTER_RETRY_BASE_SECONDS = 60
    add_subscribers(1)
    sink.handler.rules["reader0@example.com"] = Rule("450 4.2.0 Greylisted")
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    before = timezone.now()
    result = issues.run(issue_id=issue.pk)
    row = issue.deliveries.get()
    assert (row.status, row.attempts) == (D.QUEUED, 1)
    assert timedelta(seconds=59) < row.next_attempt_at - before < timedelta(seconds=70)
    assert result.next_retry_at == row.next_attempt_at and not result.finished
    # Not due yet: a second run sends nothing.
    assert issues.run(issue_id=issue.pk).outcomes == {}
    Delivery.objects.update(next_attempt_at=timezone.now())
    issues.run(issue_id=issue.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (D.QUEUED, 2)
    assert row.next_attempt_at - timezone.now() > timedelta(seconds=110)


def test_each_attempt_at_one_delivery_has_the_same_message_id(sink):
    add_subscribers(1)
    sink.handler.rules["reader0@example.com"] = Rule("451 4.3.0 later", "data", 1)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)
    reader = Subscriber.objects.get()
    first = emails.issue_message(rendered=emails.render_issue(issue), subscriber=reader)
    assert sink.handler.accepted[0].message_id == first.extra_headers["Message-ID"]


def test_a_dead_workers_claim_leaves_one_uncertain_and_requeues_the_rest():
    add_subscribers(6)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    claim, rows = claims.claim_batch(issue=issue, worker="w1", size=4)
    # The worker recorded two outcomes, then died while sending the third.
    Delivery.objects.filter(pk=rows[0].pk).update(status=D.SENT)
    Delivery.objects.filter(pk=rows[1].pk).update(status=D.FAILED)
    SendClaim.objects.filter(pk=claim.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    assert claims.recover_stale_claims(issue=issue) == 1
    statuses = dict(issue.deliveries.values_list("pk", "status"))
    assert statuses[rows[2].pk] == D.UNCERTAIN
    assert statuses[rows[3].pk] == D.QUEUED
    assert list(statuses.values()).count(D.QUEUED) == 3
    # Settled once: a second recovery changes nothing.
    assert claims.recover_stale_claims(issue=issue) == 0


def test_a_live_workers_claim_is_left_alone():
    add_subscribers(2)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    claims.claim_batch(issue=issue, worker="w1", size=2)
    assert claims.recover_stale_claims(issue=issue) == 0
    assert issue.deliveries.counts()[D.SENDING] == 2


def test_two_workers_never_claim_the_same_delivery():
    add_subscribers(10)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    _, first = claims.claim_batch(issue=issue, worker="w1", size=6)
    _, second = claims.claim_batch(issue=issue, worker="w2", size=6)
    assert len(first) == 6 and len(second) == 4
    assert not {d.pk for d in first} & {d.pk for d in second}


def test_rate_limit_paces_messages(sink, settings):
    settings.NEWSLETTER_RATE_PER_SECOND = 40
    add_subscribers(20)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    started = time.monotonic()
    issues.run(issue_id=issue.pk)
    elapsed = time.monotonic() - started
    assert sink.handler.count() == 20
    assert elapsed >= 19 / 40


def test_unreachable_server_requeues_with_back_off(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    settings.EMAIL_TIMEOUT = 2
    add_subscribers(3)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    result = issues.run(issue_id=issue.pk)
    assert not result.finished
    rows = list(issue.deliveries.all())
    assert {(d.status, d.attempts) for d in rows} == {(D.QUEUED, 1)}
    assert all("Cannot connect" in d.error for d in rows)


def test_progress_lists_counts_and_problems(sink):
    add_subscribers(3)
    sink.handler.rules["reader1@example.com"] = Rule("550 5.1.1 No such user")
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)
    report = issues.progress(issue=Issue.objects.get(pk=issue.pk))
    assert report["counts"][D.SENT] == 2 and report["counts"][D.FAILED] == 1
    assert report["total"] == 3 and report["status"] == Issue.Status.SENT
    assert report["problems"][0]["subscriber__email"] == "reader1@example.com"
    assert report["problems"][0]["smtp_code"] == 550


def test_fast_smtp_payload_matches_the_email_package_message():
    import email
    import email.policy

    add_subscribers(1)
    reader = Subscriber.objects.get()
    reader.first_name = "Zoë <b>"
    reader.email = "zoe@example.com"
    issue = scheduled_issue(subject="Soin d'hiver: crème & douceur ✨")
    rendered = emails.render_issue(issue)

    def parse(raw: bytes):
        return email.message_from_bytes(raw, policy=email.policy.default)

    fast = parse(emails.issue_payload(rendered=rendered, subscriber=reader))
    slow = parse(
        emails.issue_message(rendered=rendered, subscriber=reader)
        .message()
        .as_bytes(linesep="\r\n")
    )
    for header in (
        "Subject",
        "From",
        "To",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "List-Id",
    ):
        assert str(fast[header]).strip() == str(slow[header]).strip(), header
    assert fast.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        fast_part = fast.get_body(preferencelist=(kind,)).get_content()
        slow_part = slow.get_body(preferencelist=(kind,)).get_content()
        assert fast_part.replace("\r\n", "\n") == slow_part.replace("\r\n", "\n")
    html = fast.get_body(preferencelist=("html",)).get_content()
    assert "Hi Zoë &lt;b&gt;," in html


def test_an_unfinished_send_comes_back_by_itself_when_retries_are_due(
    sink, settings, database_tasks
):
    from django_tasks_db.models import DBTaskResult

    from newsletter.tasks import send_issue

    settings.NEWSLETTER_RETRY_BASE_SECONDS = 60
    add_subscribers(2)
    sink.handler.rules["reader0@example.com"] = Rule("450 4.2.0 Greylisted")
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    before = timezone.now()
    send_issue.call(issue.pk)
    follow_up = DBTaskResult.objects.get()
    assert follow_up.task_path == "newsletter.tasks.send_issue"
    assert timedelta(seconds=59) < follow_up.run_after - before < timedelta(seconds=70)
    assert sink.handler.count() == 1


# A worker that stalls past its lease ------------------------------------------------


class StallingPacer(pacing.Pacer):
    """Before message number `at`, acts as if the worker stalled: sleeps, and/or
    lets another worker recover its claim (the heartbeat is made old first)."""

    def __init__(self, *, at: int, sleep: float = 0.0, recover: bool = False):
        super().__init__(rate=0)
        self.at, self.sleep, self.recover, self.calls = at, sleep, recover, 0
        self.recovered = None

    def wait(self) -> None:
        self.calls += 1
        if self.calls != self.at + 1:
            return
        time.sleep(self.sleep)
        if self.recover:
            # Another worker: its own thread, so its own database connection.
            thread = threading.Thread(target=self._recover)
            thread.start()
            thread.join()

    def _recover(self) -> None:
        try:
            SendClaim.objects.update(heartbeat_at=timezone.now() - timedelta(hours=1))
            issue = Issue.objects.get()
            self.recovered = claims.recover_stale_claims(issue=issue)
        finally:
            connection.close()


def send_one_batch(pacer: pacing.Pacer, size: int = 8):
    issue = Issue.objects.get()
    claimed_at = time.monotonic()
    claim, rows = claims.claim_batch(issue=issue, worker="w1", size=size)
    transport = Transport()
    try:
        outcomes, _ = issues.send_claimed(
            issue=issue,
            claim=claim,
            deliveries=rows,
            transport=transport,
            pacer=pacer,
            claimed_at=claimed_at,
        )
    finally:
        transport.close()
    return claim, rows, outcomes


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_claim_was_recovered_mid_batch_sends_nothing_more(sink):
    add_subscribers(8)
    issues.start_send(issue_id=scheduled_issue().pk)
    # Recovery runs while the worker is about to send message 3 (index 3): it
    # marks that one uncertain and re-queues the rest.
    pacer = StallingPacer(at=3, recover=True)
    _, rows, outcomes = send_one_batch(pacer)
    assert pacer.recovered == 1
    # The worker finished the message it had started and recorded that it was
    # sent (it alone knows), then stopped: nothing re-queued went out from it.
    assert sink.handler.count() == 4
    statuses = [d.status for d in Delivery.objects.order_by("pk")]
    assert statuses == [D.SENT] * 4 + [D.QUEUED] * 4
    late = Delivery.objects.get(pk=rows[3].pk)
    assert late.error == claims.SENT_LATE_NOTE
    assert not Delivery.objects.filter(pk__in=[d.pk for d in rows[4:]]).exclude(
        claim=None
    )
    assert outcomes == {D.SENT: 4}
    issue = Issue.objects.get()
    assert counters.issue_counts(issue) == counters.recount(issue)


def test_a_worker_stops_before_data_once_half_its_lease_is_gone(sink, settings):
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = 1
    add_subscribers(6)
    issues.start_send(issue_id=scheduled_issue().pk)
    claim, _, outcomes = send_one_batch(StallingPacer(at=2, sleep=0.6))
    assert sink.handler.count() == 2
    assert outcomes == {D.SENT: 2}
    statuses = [d.status for d in Delivery.objects.order_by("pk")]
    assert statuses == [D.SENT] * 2 + [D.QUEUED] * 4
    claim.refresh_from_db()
    assert claim.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_stalled_worker_gives_back_the_uncertain_one_it_never_started(sink, settings):
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = 1
    add_subscribers(6)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    # Stalled before message 2's DATA, long enough for its claim to be recovered.
    pacer = StallingPacer(at=2, sleep=0.6, recover=True)
    send_one_batch(pacer)
    assert pacer.recovered == 1
    assert sink.handler.count() == 2
    given_back = Delivery.objects.order_by("pk")[2]
    # Recovery could only guess "uncertain"; the worker knew it never sent it.
    assert given_back.status == D.QUEUED
    assert given_back.error == claims.REQUEUED_LATE_NOTE
    assert issue.deliveries.counts()[D.UNCERTAIN] == 0
    assert counters.issue_counts(issue) == counters.recount(issue)
    issues.run(issue_id=issue.pk)
    assert max(sink.handler.recipients().values()) == 1
    assert sink.handler.count() == 6
    assert counters.issue_counts(issue) == counters.recount(issue)


# Sending uncertain deliveries again, at staff's choice -------------------------------


def test_resending_uncertain_queues_only_those_and_reuses_their_message_id(
    sink, database_tasks, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from newsletter.issues import services as issue_services

    add_subscribers(5)
    issue = scheduled_issue()
    issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)
    issue.refresh_from_db()
    first_sent_at = issue.sent_at
    # Two deliveries whose worker was lost mid-DATA (here they had arrived).
    uncertain = list(Delivery.objects.order_by("pk")[:2])
    Delivery.objects.filter(pk__in=[d.pk for d in uncertain]).update(
        status=D.UNCERTAIN, error=claims.UNCERTAIN_ERROR
    )
    counters.reset(issue=issue)
    untouched = dict(
        Delivery.objects.exclude(status=D.UNCERTAIN).values_list("pk", "updated_at")
    )

    with django_capture_on_commit_callbacks(execute=True):
        count = issue_services.resend_uncertain(
            issue=issue, user=make_role_user("Newsletter editor", username="editor")
        )
    assert count == 2
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING
    # Still in the public archive while the two go out again.
    assert Issue.objects.archived().filter(pk=issue.pk).exists()
    assert issue.deliveries.counts()[D.QUEUED] == 2
    for row in Delivery.objects.filter(pk__in=[d.pk for d in uncertain]):
        assert (row.status, row.claim_id) == (D.QUEUED, None)
        assert row.error.startswith("Uncertain; queued again on ")
        assert "by editor" in row.error
        assert row.error.endswith(claims.UNCERTAIN_ERROR)
    assert (
        dict(
            Delivery.objects.exclude(pk__in=[d.pk for d in uncertain]).values_list(
                "pk", "updated_at"
            )
        )
        == untouched
    )
    task = DBTaskResult.objects.get()
    assert task.task_path == "newsletter.tasks.send_issue"

    issues.run(issue_id=issue.pk)
    received = sink.handler.recipients()
    for row in uncertain:
        email = row.subscriber.email
        assert received[email] == 2
        copies = [a.message_id for a in sink.handler.accepted if a.recipient == email]
        assert copies[0] == copies[1] != ""
    assert sum(received.values()) == 7
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.sent_at == first_sent_at
    assert issue.deliveries.counts()[D.SENT] == 5
    assert counters.issue_counts(issue) == counters.recount(issue)


def test_resending_uncertain_refuses_an_issue_that_never_started():
    from newsletter.issues import services as issue_services

    issue = scheduled_issue()
    with pytest.raises(issue_services.SendRefused):
        issue_services.resend_uncertain(issue=issue, user=make_role_user("Editor"))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED


def test_every_newsletter_email_is_dated_in_utc_with_a_known_zone(mailoutbox):
    """+0000, not the -0000 ("zone unknown") Python writes by default."""
    import email
    import email.policy
    from email.utils import parsedate_to_datetime

    add_subscribers(1)
    reader = Subscriber.objects.get()
    rendered = emails.render_issue(scheduled_issue())
    messages = {
        "issue over SMTP": emails.issue_payload(rendered=rendered, subscriber=reader),
        "issue by API": emails.issue_message(rendered=rendered, subscriber=reader)
        .message()
        .as_bytes(),
        "confirmation": emails.confirmation_message(subscriber=reader)
        .message()
        .as_bytes(),
    }
    for name, raw in messages.items():
        date = email.message_from_bytes(raw, policy=email.policy.default)["Date"]
        assert str(date).endswith(" +0000"), (name, str(date))
        sent = parsedate_to_datetime(str(date))
        assert abs(sent - timezone.now()) < timedelta(minutes=1), name
