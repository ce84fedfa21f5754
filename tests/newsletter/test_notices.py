"""Corrections that change the advice reach the newsletter's readers of their topic:
at once in a notice that goes through the medical gate, or in the next digest's
"What changed"; each reader once, and each digest trimmed to its reader's topics."""

import email
import email.policy
import html

import pytest
from django.contrib.messages import ERROR
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.editorial import revisions, workflow
from articles.models import Article, Correction
from newsletter import emails, selectors
from newsletter.delivery import claims, issues
from newsletter.issues import notices
from newsletter.issues import services as issue_services
from newsletter.models import Delivery, Issue, IssueArticle, SendClaim, Subscriber
from tests.factories import (
    approve_issue,
    make_article,
    make_issue,
    make_listed_subscriber,
    make_topic,
    newsletter_sender,
)

# Fixtures come from other test modules: a test taking one as an argument
# redefines its name.
# ruff: noqa: F811
from tests.newsletter.test_gate import (  # noqa: F401
    admin_url,
    in_future,
    messages_of,
    people,
    quick_password_hashing,
    state_of,
)
from tests.newsletter.test_pages import csrf_client, post_form  # noqa: F401
from tests.newsletter.test_preferences import preference_events, preferences_url
from tests.newsletter.test_sending import sink  # noqa: F401

pytestmark = pytest.mark.django_db

D = Delivery.Status
Frequency = Subscriber.Frequency
NOW = Correction.TellReaders.NOW
NEXT_DIGEST = Correction.TellReaders.NEXT_DIGEST
LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def publish_correction(
    editor,
    *,
    topic,
    tell: str = NOW,
    changes: bool = True,
    text: str = "We said SPF 15 was enough; we now advise SPF 30 or more.",
    title: str = "Sunscreen basics",
) -> Correction:
    """An editor publishes a change to a live article, with its correction."""
    article = make_article(topic=topic, summary=LONG_SUMMARY, title=title)
    data = revisions.snapshot(article)
    data["body"] = "<p>Use SPF 30 or more, every day.</p>"
    workflow.save_draft(article=article, data=data, user=editor)
    workflow.publish(
        article=article,
        user=editor,
        correction=text,
        changes_advice=changes,
        tell_readers=tell,
    )
    return Correction.objects.get(article=article)


def reader(*, topics=(), **fields) -> Subscriber:
    subscriber = make_listed_subscriber(**fields)
    subscriber.topics.set(topics)
    return subscriber


def sent_to(sink) -> dict[str, email.message.EmailMessage]:
    return {
        item.recipient: email.message_from_bytes(item.raw, policy=email.policy.default)
        for item in sink.handler.accepted
    }


def parts(message) -> tuple[str, str]:
    """(text, html) of a received message."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    body = message.get_body(preferencelist=("html",)).get_content()
    return text, body


def send_now(issue: Issue) -> None:
    """Schedule by a newsletter editor, then the worker's start and run."""
    issue_services.schedule_send(issue=issue, user=newsletter_sender())
    assert issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)


# Telling now: a notice, behind the medical gate ---------------------------------------


def test_a_correction_told_now_drafts_one_notice_for_its_topic_awaiting_review(
    people,
):
    sun = make_topic(name="Sun care")
    correction = publish_correction(people["editor"], topic=sun)

    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)
    assert notice.correction == correction
    assert notice.status == Issue.Status.DRAFT
    assert notice.audience == Issue.Audience.TOPICS
    assert list(notice.topics.all()) == [sun]
    assert "Sunscreen basics" in notice.subject
    assert "we now advise SPF 30 or more" in notice.body
    assert [i.article for i in notice.issuearticle_set.all()] == [correction.article]
    # In the reviewers' queue, as every unapproved text is.
    assert notice in [issue for issue, _ in selectors.texts_awaiting_review().issues]
    # Made once: the service called again finds it.
    assert notices.draft_notice(correction=correction) == notice
    assert Issue.objects.filter(kind=Issue.Kind.NOTICE).count() == 1


@pytest.mark.parametrize(
    ("tell", "changes"), [(NEXT_DIGEST, True), (NEXT_DIGEST, False)]
)
def test_no_notice_for_a_correction_left_to_the_digest_or_a_typo(people, tell, changes):
    publish_correction(people["editor"], topic=make_topic(), tell=tell, changes=changes)
    assert not Issue.objects.filter(kind=Issue.Kind.NOTICE).exists()


@pytest.mark.parametrize("action", ["send", "schedule"])
def test_a_notice_is_not_sent_without_a_medical_approval_from_the_admin(
    client, people, mailoutbox, django_capture_on_commit_callbacks, action
):
    topic = make_topic()
    reader(topics=[topic])
    publish_correction(people["editor"], topic=topic)
    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)
    before = state_of(notice)
    client.force_login(people["newsletter_editor"])

    page = html.unescape(client.get(admin_url(action, notice)).text)
    assert "No medical reviewer has approved this issue's text yet" in page
    data = {"send_at": in_future()} if action == "schedule" else {}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url(action, notice), data)

    [(level, message)] = messages_of(response)
    assert level == ERROR and "No medical reviewer" in message
    assert state_of(notice) == before
    assert not Delivery.objects.exists() and mailoutbox == []


def test_the_send_service_refuses_an_unapproved_notice_even_to_a_superuser(
    people, django_capture_on_commit_callbacks
):
    topic = make_topic()
    reader(topics=[topic])
    publish_correction(people["editor"], topic=topic)
    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(issue_services.SendRefused, match="No medical reviewer"),
    ):
        issue_services.schedule_send(issue=notice, user=people["superuser"])

    assert callbacks == []
    notice.refresh_from_db()
    assert notice.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists()


def test_an_approved_notice_reaches_each_reader_of_its_topic_who_asked_once(
    sink, people
):
    sun, acne = make_topic(name="Sun care"), make_topic(name="Acne")
    weekly = reader(topics=[sun], email="weekly@example.com")
    monthly = reader(
        topics=[sun, acne],
        email="monthly@example.com",
        frequency=Frequency.MONTHLY_DIGEST,
    )
    everything = reader(email="everything@example.com")
    reader(topics=[acne], email="acne-only@example.com")
    reader(topics=[sun], email="declined@example.com", advice_changes=False)
    reader(topics=[sun], email="pending@example.com", status="pending")
    publish_correction(people["editor"], topic=sun)
    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)
    approve_issue(notice)

    send_now(notice)
    # The send task run again, and its start: nobody gets a second copy.
    assert not issues.start_send(issue_id=notice.pk)
    issues.run(issue_id=notice.pk)

    received = sink.handler.recipients()
    assert set(received) == {weekly.email, monthly.email, everything.email}
    assert set(received.values()) == {1}
    text, body = parts(sent_to(sink)[weekly.email])
    for part in (text, body):
        assert "we now advise SPF 30 or more" in part
        assert "Sunscreen basics" in part
    notice.refresh_from_db()
    assert notice.status == Issue.Status.SENT and notice.recipient_count == 3


def test_a_worker_killed_mid_notice_leaves_the_unknown_one_uncertain_never_resent(
    sink, people
):
    topic = make_topic()
    for n in range(5):
        reader(topics=[topic], email=f"r{n}@example.com")
    publish_correction(people["editor"], topic=topic)
    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)
    approve_issue(notice)
    issue_services.schedule_send(issue=notice, user=newsletter_sender())
    assert issues.start_send(issue_id=notice.pk)
    claim, rows = claims.claim_batch(issue=notice, worker="killed", size=3)
    # It recorded one as sent, then was killed while sending the next.
    Delivery.objects.filter(pk=rows[0].pk).update(status=D.SENT)
    SendClaim.objects.filter(pk=claim.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )

    issues.run(issue_id=notice.pk)
    issues.run(issue_id=notice.pk)

    statuses = dict(notice.deliveries.values_list("pk", "status"))
    assert statuses[rows[0].pk] == D.SENT and statuses[rows[1].pk] == D.UNCERTAIN
    # The other three were sent by the next run, once each; the two the killed
    # worker held are not sent blindly again.
    assert sink.handler.count() == 3
    assert set(sink.handler.recipients().values()) == {1}
    assert Delivery.objects.filter(issue=notice).count() == 5


# The digest's "What changed", trimmed to each reader -------------------------------


def test_the_digest_tells_corrections_left_to_it_and_not_those_told_now(people):
    sun = make_topic(name="Sun care")
    waiting = publish_correction(people["editor"], topic=sun, tell=NEXT_DIGEST)
    publish_correction(people["editor"], topic=sun, tell=NOW, title="Retinol")
    typo = publish_correction(
        people["editor"], topic=sun, tell=NEXT_DIGEST, changes=False, title="Typos"
    )

    digest = issue_services.build_digest(user=newsletter_sender())

    assert list(digest.corrections.all()) == [waiting]
    assert typo not in digest.corrections.all()
    assert sun in digest.topics.all()


def test_a_correction_in_a_sent_digest_is_not_in_the_next(sink, people):
    topic = make_topic()
    reader(topics=[topic], frequency=Frequency.MONTHLY_DIGEST)
    correction = publish_correction(people["editor"], topic=topic, tell=NEXT_DIGEST)
    first = issue_services.build_digest(user=newsletter_sender())
    assert list(first.corrections.all()) == [correction]
    second = issue_services.build_digest(user=newsletter_sender())
    approve_issue(first)
    send_now(first)
    approve_issue(second)

    assert correction not in selectors.digest_corrections()
    # A second draft made before the first went out is refused, not repeated.
    with pytest.raises(issue_services.SendRefused, match="already told"):
        issue_services.schedule_send(issue=second, user=newsletter_sender())
    assert sink.handler.count() == 1


def digest_with(articles: list[Article], corrections: list[Correction]) -> Issue:
    digest = make_issue(kind=Issue.Kind.DIGEST, audience=Issue.Audience.TOPICS)
    for position, article in enumerate(articles, start=1):
        IssueArticle.objects.create(issue=digest, article=article, position=position)
    digest.corrections.set(corrections)
    digest.topics.set(
        {a.topic for a in articles} | {c.article.topic for c in corrections}
    )
    approve_issue(digest)
    return digest


def test_each_reader_gets_only_their_topics_and_what_changed_in_them(sink, people):
    acne, sun = make_topic(name="Acne"), make_topic(name="Sun care")
    spots = make_article(topic=acne, title="Spot treatments that work")
    shade = make_article(topic=sun, title="Shade and hats")
    correction = publish_correction(people["editor"], topic=sun, tell=NEXT_DIGEST)
    monthly = {"frequency": Frequency.MONTHLY_DIGEST}
    acne_reader = reader(topics=[acne], email="acne@example.com", **monthly)
    sun_reader = reader(topics=[sun], email="sun@example.com", **monthly)
    all_reader = reader(email="all@example.com", **monthly)
    declined = reader(
        topics=[sun], email="declined@example.com", advice_changes=False, **monthly
    )
    digest = digest_with([spots, shade], [correction])

    send_now(digest)

    got = {address: parts(message) for address, message in sent_to(sink).items()}
    assert set(got) == {
        acne_reader.email,
        sun_reader.email,
        all_reader.email,
        declined.email,
    }
    for part in got[acne_reader.email]:
        assert "Spot treatments that work" in part
        assert "Shade and hats" not in part
        assert "What changed" not in part and "WHAT CHANGED" not in part
    text, body = got[sun_reader.email]
    assert "Shade and hats" in body and "Spot treatments" not in body
    assert "<h2" in body and ">What changed</h2>" in body
    assert "WHAT CHANGED" in text
    for part in (text, body):
        assert "we now advise SPF 30 or more" in part
        assert correction.article.title in part
    # A link to the article (through the click counter, as every link).
    assert "\nhttp" in text.split("WHAT CHANGED", 1)[1].replace("\r", "")
    for part in got[all_reader.email]:
        assert "Spot treatments that work" in part and "Shade and hats" in part
        assert "we now advise SPF 30 or more" in part
    for part in got[declined.email]:
        assert "Shade and hats" in part
        assert "we now advise SPF 30 or more" not in part


def test_a_reader_whose_trimmed_digest_is_empty_gets_no_delivery(sink, people):
    acne, sun = make_topic(name="Acne"), make_topic(name="Sun care")
    correction = publish_correction(people["editor"], topic=sun, tell=NEXT_DIGEST)
    monthly = {"frequency": Frequency.MONTHLY_DIGEST}
    told = reader(topics=[sun], email="told@example.com", **monthly)
    # Their only match is a correction, and they asked not to hear of those.
    reader(topics=[sun], email="declined@example.com", advice_changes=False, **monthly)
    reader(topics=[acne], email="acne@example.com", **monthly)
    digest = digest_with([], [correction])
    # The send page's count already leaves them out.
    assert selectors.recipient_count(digest) == 1

    send_now(digest)

    assert set(sink.handler.recipients()) == {told.email}
    assert list(digest.deliveries.values_list("subscriber__email", flat=True)) == [
        told.email
    ]
    digest.refresh_from_db()
    assert digest.recipient_count == 1


def queries_to_send(digest: Issue) -> int:
    issue_services.schedule_send(issue=digest, user=newsletter_sender())
    with CaptureQueriesContext(connection) as captured:
        assert issues.start_send(issue_id=digest.pk)
        issues.run(issue_id=digest.pk)
    # Reads of what readers see: rendering, not the per-message bookkeeping.
    return sum(
        1
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT")
        and ("articles_correction" in query["sql"] or "issuearticle" in query["sql"])
    )


def test_a_trimmed_digest_is_rendered_once_per_topic_set_not_per_reader(
    sink, people, settings
):
    settings.NEWSLETTER_BATCH_SIZE = 100
    acne, sun = make_topic(name="Acne"), make_topic(name="Sun care")
    articles = [make_article(topic=acne), make_article(topic=sun)]
    monthly = {"frequency": Frequency.MONTHLY_DIGEST}

    def readers(prefix: str, count: int) -> None:
        for n in range(count):
            reader(topics=[acne], email=f"{prefix}-acne{n}@example.com", **monthly)
            reader(topics=[sun], email=f"{prefix}-sun{n}@example.com", **monthly)

    def correction(title: str) -> Correction:
        return publish_correction(
            people["editor"], topic=sun, tell=NEXT_DIGEST, title=title
        )

    readers("few", 2)
    few = queries_to_send(digest_with(articles, [correction("First")]))
    readers("many", 10)
    many = queries_to_send(digest_with(articles, [correction("Second")]))

    assert sink.handler.count() == 4 + 24
    assert many == few > 0


# The preference --------------------------------------------------------------------


def test_subscribers_hear_of_changes_to_the_advice_unless_they_say_no():
    subscriber = reader()
    assert subscriber.advice_changes is True
    assert selectors.subscriber_data(subscriber)["told_when_advice_changes"] is True


def test_the_data_export_says_whether_they_are_told_of_changes():
    subscriber = reader(advice_changes=False)
    message = emails.data_export_message(
        subscriber=subscriber, data=selectors.subscriber_data(subscriber)
    )
    assert "Told when advice changes: no" in message.body


def test_the_archive_page_of_a_sent_digest_shows_what_changed(
    client, people, django_assert_max_num_queries
):
    topic = make_topic()
    correction = publish_correction(people["editor"], topic=topic, tell=NEXT_DIGEST)
    others = [
        publish_correction(
            people["editor"], topic=topic, tell=NEXT_DIGEST, title=f"Other {n}"
        )
        for n in range(3)
    ]
    digest = digest_with([], [correction, *others])
    Issue.objects.filter(pk=digest.pk).update(
        status=Issue.Status.SENT, sent_at=timezone.now()
    )

    # The page version, the issue, its articles, its corrections: however many.
    with django_assert_max_num_queries(4):
        page = client.get(digest.get_absolute_url()).text

    assert '<h2 id="changed-title" class="section__title">What changed</h2>' in page
    assert "we now advise SPF 30 or more" in page
    assert f'href="{correction.article.get_absolute_url()}"' in page


def test_a_reader_turns_off_hearing_of_changes_in_the_preference_centre(csrf_client):
    subscriber = reader(status="confirmed")

    response = post_form(
        csrf_client,
        preferences_url(subscriber),
        {"action": "save", "frequency": Frequency.EVERY_ISSUE},
    )

    assert "Saved. The next newsletter follows your new choices." in response.text
    subscriber.refresh_from_db()
    assert subscriber.advice_changes is False
    assert "told when advice changes: no" in preference_events(subscriber)[-1]
    assert 'name="advice_changes"' in response.text
    assert "Tell me when advice I read has changed" in response.text


def test_staff_see_whether_a_reader_hears_of_changes_but_cannot_change_it(
    staff_client,
):
    subscriber = reader(status="confirmed", advice_changes=False)
    url = reverse("admin:newsletter_subscriber_change", args=[subscriber.pk])

    page = staff_client.get(url).text
    staff_client.post(url, {"first_name": "Ada", "advice_changes": "on"})

    assert "Tell me when advice I read has changed" in page
    assert 'name="advice_changes"' not in page
    subscriber.refresh_from_db()
    assert subscriber.advice_changes is False


def test_a_correction_removed_from_an_approved_digest_makes_its_approval_stale(
    people,
):
    correction = publish_correction(
        people["editor"], topic=make_topic(), tell=NEXT_DIGEST
    )
    digest = digest_with([make_article()], [correction])
    assert selectors.review_refusal(digest) == ""

    digest.corrections.clear()

    assert "(changed: what changed (corrections))" in selectors.review_refusal(digest)
