"""What staff do to newsletter issues: edit them, approve their text (and the
welcome email's) as medical reviewers, build digests, schedule, cancel, test, resume
and resend sends. As in newsletter/subscribers/services.py, each change is recorded
at once and the sends it needs are enqueued as background tasks (newsletter/tasks.py)
once the transaction has committed.
"""

from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from articles.public import Author
from core.sanitize import sanitize_html
from core.slugs import unique_slug
from newsletter.emails import check_greeting
from newsletter.issues import review
from newsletter.models import (
    Delivery,
    Issue,
    IssueApproval,
    IssueArticle,
    Verdict,
    WelcomeApproval,
    WelcomeEmail,
    counters,
)
from newsletter.selectors import (
    digest_articles,
    digest_corrections,
    digest_since,
    recipient_count,
    review_refusal,
    send_refusal,
)
from newsletter.subscribers.services import REVIEW_PERMISSION, SEND_PERMISSION, require
from newsletter.tasks import (
    send_issue,
    send_test_issue,
    start_issue_send,
)

# Medical review of newsletter text ------------------------------------------------


class ReviewRefused(Exception):
    """An approval that cannot be recorded; the message says why."""


def reviewer_name(user: AbstractBaseUser) -> str:
    """The name and credentials an approval records, from the reviewer's author
    profile, as for articles: whoever approves answers for it by name."""
    author = Author.objects.filter(user=user).first()
    if author is None or not author.credentials.strip():
        raise ReviewRefused(
            "Your account has no author profile with credentials: an approval "
            "records who gave it. Ask an editor to link your author profile, with "
            "your credentials, to your account. Nothing was recorded."
        )
    return f"{author.name}, {author.credentials.strip()}"


def check_verdict(verdict: str) -> None:
    if verdict not in Verdict.values:
        raise ReviewRefused(f"Unknown decision “{verdict}”. Nothing was recorded.")


def approve_issue(
    *, issue: Issue, user: AbstractBaseUser, verdict: str, seen_hash: str
) -> IssueApproval:
    """Record a medical reviewer's decision on the issue's text exactly as it is
    now: approved, or no medical content. `seen_hash` is the hash of the text the
    reviewer was shown; a change since is refused, so nobody approves unread text.
    """
    require(
        user,
        REVIEW_PERMISSION,
        refusal="Only a medical reviewer can approve newsletter text.",
    )
    check_verdict(verdict)
    name = reviewer_name(user)
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue.pk)
        text = review.issue_text(issue)
        digest = review.content_hash(text)
        if digest != seen_hash:
            raise ReviewRefused(
                "The issue changed after you opened it (its text or a featured "
                "article): read it again, then decide. Nothing was recorded."
            )
        return IssueApproval.objects.create(
            issue=issue,
            verdict=verdict,
            content_hash=digest,
            text=text,
            reviewer=user,
            reviewer_name=name,
        )


def approve_welcome(
    *, user: AbstractBaseUser, verdict: str, seen_hash: str
) -> WelcomeApproval:
    """Record a medical reviewer's decision on the welcome email's saved text;
    from then on subscribers get that text (a copy kept on the approval)."""
    require(
        user,
        REVIEW_PERMISSION,
        refusal="Only a medical reviewer can approve newsletter text.",
    )
    check_verdict(verdict)
    name = reviewer_name(user)
    with transaction.atomic():
        welcome = WelcomeEmail.objects.select_for_update().filter(pk=1).first()
        if welcome is None:
            raise ReviewRefused("There is no welcome email to approve.")
        digest = review.welcome_hash(welcome)
        if digest != seen_hash:
            raise ReviewRefused(
                "The welcome email changed after you opened it: read it again, "
                "then decide. Nothing was recorded."
            )
        return WelcomeApproval.objects.create(
            verdict=verdict,
            content_hash=digest,
            reviewer=user,
            reviewer_name=name,
            **review.welcome_text(welcome),
        )


# Issues -------------------------------------------------------------------------

# What staff edit on an issue (its topics are saved by the form, with it).
CONTENT_FIELDS = [
    "subject",
    "slug",
    "preheader",
    "greeting",
    "body",
    "kind",
    "audience",
]


def save_issue(*, issue: Issue, user: AbstractBaseUser) -> Issue:
    """Save an issue's content, sanitised.

    A draft can change, and so can an issue scheduled for later, by those who may
    send: a change to its text makes it a draft again (unschedule_if_changed). An
    issue starting, sending or sent cannot change.
    """
    issue.body = sanitize_html(html=issue.body)
    issue.greeting = issue.greeting.strip()
    check_greeting(issue.greeting)
    with transaction.atomic():
        if issue.pk is None:
            require(user, "newsletter.add_issue", refusal="You cannot add issues.")
            issue.full_clean()
            issue.save()
            return issue
        saved = Issue.objects.select_for_update().get(pk=issue.pk)
        if saved.is_locked:
            raise ValidationError(
                "This issue is starting, sending or sent and can no longer change."
            )
        require(user, "newsletter.change_issue", refusal="You cannot change issues.")
        if saved.status == Issue.Status.SCHEDULED:
            require(
                user,
                SEND_PERMISSION,
                refusal="This issue is scheduled: only those who may send issues "
                "can change it (a change to its text unschedules it).",
            )
        issue.full_clean()
        # Its sending state is the database's, whatever the form loaded.
        issue.save(update_fields=[*CONTENT_FIELDS, "updated_at"])
        for name in ("status", "scheduled_at", "not_sent_reason"):
            setattr(issue, name, getattr(saved, name))
        unschedule_if_changed(issue=issue, user=user)
    return issue


def unschedule_if_changed(
    *, issue: Issue, user: AbstractBaseUser | None = None
) -> bool:
    """Make an issue scheduled for later a draft again when its text (featured
    articles included) no longer has a medical approval, saying why in its
    not_sent_reason. Returns whether it did.

    Called after each change to an issue (save_issue, and the admin once its
    featured articles are saved). An issue already due is left to the start of
    its send, which checks again (delivery/issues.py start_send).
    """
    now = timezone.now()
    with transaction.atomic():
        scheduled = (
            Issue.objects.select_for_update()
            .filter(pk=issue.pk, status=Issue.Status.SCHEDULED, scheduled_at__gt=now)
            .first()
        )
        if scheduled is None:
            return False
        refusal = review_refusal(scheduled)
        if not refusal:
            return False
        by = f" by {user.get_username()}" if user is not None else ""
        reason = (
            f"No longer scheduled: changed{by} on "
            f"{timezone.localtime(now):%-d %B %Y at %H:%M}. {refusal} Then schedule "
            "it again."
        )[:500]
        Issue.objects.filter(pk=scheduled.pk).update(
            status=Issue.Status.DRAFT,
            scheduled_at=None,
            not_sent_reason=reason,
            updated_at=now,
        )
    issue.status = Issue.Status.DRAFT
    issue.scheduled_at = None
    issue.not_sent_reason = reason
    return True


class SendRefused(Exception):
    pass


class NothingToDigest(Exception):
    pass


def build_digest(*, user: AbstractBaseUser) -> Issue:
    """A draft digest of the articles published since the last digest was sent,
    grouped by topic, for staff to edit and send.

    It goes to monthly-digest readers of its articles' topics (and those who chose
    no topic), each reader getting only their topics' part (delivery/issues.py).
    Its "What changed" section holds the corrections that changed the advice
    and were told in no digest yet (selectors.digest_corrections). NothingToDigest
    when no article went live since and no such correction waits.
    """
    require(user, "newsletter.add_issue", refusal="You cannot add issues.")
    since = digest_since()
    articles = list(digest_articles(since))
    corrections = list(digest_corrections())
    if not articles and not corrections:
        raise NothingToDigest(
            f"No article has been published since "
            f"{timezone.localtime(since):%-d %B %Y, %H:%M}, and no correction to "
            "the advice waits to be told: there is nothing to put in a digest."
        )
    topics = list(
        {
            a.topic_id: a.topic for a in [*articles, *(c.article for c in corrections)]
        }.values()
    )
    names = [t.name for t in topics]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    count = len(articles)
    preheader = (
        f"{count} new article{'s' if count != 1 else ''} on {listed}."
        if count
        else f"What changed in our advice on {listed}."
    )
    subject = f"Your Skincare digest: {timezone.localtime():%B %Y}"
    with transaction.atomic():
        issue = Issue.objects.create(
            kind=Issue.Kind.DIGEST,
            audience=Issue.Audience.TOPICS,
            subject=subject,
            slug=unique_slug(
                queryset=Issue.objects.all(),
                text=subject,
                max_length=Issue._meta.get_field("slug").max_length,
                fallback="digest",
            ),
            preheader=preheader[: Issue._meta.get_field("preheader").max_length],
            body=sanitize_html(
                html=f"<p>Here is what we published since "
                f"{timezone.localtime(since):%-d %B}, by topic.</p>"
            ),
        )
        issue.topics.set(topics)
        IssueArticle.objects.bulk_create(
            IssueArticle(issue=issue, article=article, position=position)
            for position, article in enumerate(articles, start=1)
        )
        issue.corrections.set(corrections)
    return issue


SEND_REFUSAL = "Only editors and newsletter editors can send issues."


def schedule_send(
    *, issue: Issue, user: AbstractBaseUser, at: datetime | None = None
) -> int:
    """Send a draft issue now or at a time. Returns how many would receive it now.

    Refused without the send permission, and, for everyone, while the issue's text
    has no current medical approval, a featured article is not live, or the
    audience has no topic (all checked again when the send starts:
    delivery/issues.py start_send). The status change is one conditional UPDATE, so
    two staff members pressing "send" at once start one send, and a sent issue can
    never be sent again.
    """
    require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
    when = at or timezone.now()
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        if locked.status != Issue.Status.DRAFT:
            raise SendRefused("This issue has already been scheduled or sent.")
        refusal = send_refusal(locked)
        if refusal:
            raise SendRefused(refusal)
        changed = Issue.objects.filter(pk=issue.pk, status=Issue.Status.DRAFT).update(
            status=Issue.Status.SCHEDULED,
            scheduled_at=when,
            not_sent_reason="",
            updated_at=timezone.now(),
        )
        if not changed:
            raise SendRefused("This issue has already been scheduled or sent.")
        task = start_issue_send
        if when > timezone.now():
            task = task.using(run_after=when)
        transaction.on_commit(lambda: task.enqueue(issue.pk))
    issue.refresh_from_db()
    return recipient_count(issue)


# How long a due issue may wait for a worker to start its send before the admin says
# no worker seems to be running, and lets staff cancel it.
START_GRACE = timedelta(seconds=60)


def start_overdue(issue: Issue) -> bool:
    """A due scheduled issue that no worker has started within START_GRACE."""
    return (
        issue.status == Issue.Status.SCHEDULED
        and issue.scheduled_at is not None
        and issue.scheduled_at <= timezone.now() - START_GRACE
    )


def cancel_schedule(*, issue: Issue, user: AbstractBaseUser) -> None:
    """Back to draft, if the send has not started yet.

    Refused while a due issue is starting (a worker may be creating its deliveries
    right now), until START_GRACE has passed without one.
    """
    require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
    now = timezone.now()
    changed = (
        Issue.objects.filter(pk=issue.pk, status=Issue.Status.SCHEDULED)
        .filter(Q(scheduled_at__gt=now) | Q(scheduled_at__lte=now - START_GRACE))
        .update(status=Issue.Status.DRAFT, scheduled_at=None, updated_at=now)
    )
    if not changed:
        issue.refresh_from_db()
        if issue.status == Issue.Status.SCHEDULED:
            raise SendRefused(
                "This issue is starting: a worker may be creating its deliveries "
                "now. If none has started it within a minute, you can cancel it."
            )
        raise SendRefused("This issue is not scheduled (it may have started sending).")
    issue.refresh_from_db()


def send_test(*, issue: Issue, to: str, user: AbstractBaseUser) -> None:
    """The issue as it is now to a staff address (nobody's personal links)."""
    require(
        user,
        "newsletter.view_issue",
        "newsletter.change_issue",
        refusal="You cannot see this issue.",
    )
    transaction.on_commit(lambda: send_test_issue.enqueue(issue.pk, to))


def resume_send(*, issue: Issue, user: AbstractBaseUser) -> int:
    """Start a worker task on an issue that is sending (after a worker died).

    Returns how many deliveries are queued for it. Claims of dead workers are
    settled by the task itself, once their lease has run out. Refused, as a send
    is, when the issue's text (a featured article, say) has changed since its
    medical approval.
    """
    require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
    if issue.status != Issue.Status.SENDING:
        raise SendRefused("Only an issue that is sending can be resumed.")
    refusal = review_refusal(issue)
    if refusal:
        raise SendRefused(refusal)
    transaction.on_commit(lambda: send_issue.enqueue(issue.pk))
    return issue.deliveries.filter(status=Delivery.Status.QUEUED).count()


def resend_uncertain(*, issue: Issue, user: AbstractBaseUser) -> int:
    """Queue an issue's uncertain deliveries again, at staff's request.

    Uncertain means a worker stopped while sending: the message may have arrived,
    or may never have left. Staff may prefer a possible second copy (same
    Message-ID, so many servers and clients drop it) to a reader missing the
    issue. Returns how many were queued; a sent issue is sending again until they
    are done, then keeps its first sent date. Refused, as a send is, when the
    issue's text has changed since its medical approval.
    """
    require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
    now = timezone.now()
    note = f"Uncertain; queued again on {now:%Y-%m-%d %H:%M} UTC"
    note += f" by {user.get_username()}. "
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue.pk)
        if issue.status not in {Issue.Status.SENDING, Issue.Status.SENT}:
            raise SendRefused("Only an issue that is sending or sent has deliveries.")
        refusal = review_refusal(issue)
        if refusal:
            raise SendRefused(refusal)
        # claim=None: a stalled worker that still holds the old claim can no
        # longer write to these rows (its writes are fenced by its claim).
        count = issue.deliveries.filter(status=Delivery.Status.UNCERTAIN).update(
            status=Delivery.Status.QUEUED,
            claim=None,
            next_attempt_at=now,
            error=Substr(Concat(Value(note), F("error")), 1, 500),
            updated_at=now,
        )
        counters.move(
            issue_id=issue.pk,
            from_status=Delivery.Status.UNCERTAIN,
            to_status=Delivery.Status.QUEUED,
            count=count,
        )
        if count:
            Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENT).update(
                status=Issue.Status.SENDING, updated_at=now
            )
            transaction.on_commit(lambda: send_issue.enqueue(issue.pk))
    return count
