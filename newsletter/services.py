"""What subscribers and staff ask for: each change is recorded at once
(subscriptions.py for a subscriber's state) and the emails and sends it needs are
enqueued as background tasks (tasks.py) once the transaction has committed.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from articles.models import Author, Topic
from core.sanitize import sanitize_html
from core.slugs import unique_slug
from newsletter import imports, review
from newsletter.delivery.welcome import check_after
from newsletter.emails import check_greeting
from newsletter.models import (
    Delivery,
    Issue,
    IssueApproval,
    IssueArticle,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
    Verdict,
    WelcomeApproval,
    WelcomeEmail,
)
from newsletter.selectors import (
    digest_articles,
    digest_since,
    recipient_count,
    review_refusal,
    send_refusal,
)
from newsletter.subscriptions import (
    CONSENT_TEXT,
    CONSENT_VERSION,
    confirm,
    normalize_email,
    record_event,
)
from newsletter.tasks import (
    check_subscriber_import,
    queue_welcome_check,
    run_subscriber_import,
    send_confirmation_email,
    send_data_export,
    send_deletion_link,
    send_issue,
    send_test_issue,
    send_test_welcome,
    send_welcome_email,
    start_issue_send,
)

Kind = SubscriberEvent.Kind


# Who may do what ------------------------------------------------------------------

# Permissions on Issue (Meta.permissions); the roles holding them are groups made
# by migrations (articles 0005, newsletter 0009).
SEND_PERMISSION = "newsletter.send_issue"
REVIEW_PERMISSION = "newsletter.review_issue"


def may(user: AbstractBaseUser | None, *permissions: str) -> bool:
    """Whether `user` is active staff holding one of `permissions` (superusers
    hold every one)."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and any(user.has_perm(permission) for permission in permissions)
    )


def _require(user: AbstractBaseUser | None, *permissions: str, refusal: str) -> None:
    if not may(user, *permissions):
        raise PermissionDenied(refusal)


def _record_within_daily_limit(
    subscriber: Subscriber, kind: str, *, ip: str | None
) -> bool:
    """Record one more email of this kind to a subscriber, unless they had
    NEWSLETTER_CONFIRMATIONS_PER_DAY of them in the last 24 hours: a form must not
    be usable to flood someone's inbox. Returns whether it was recorded."""
    since = timezone.now() - timedelta(days=1)
    if (
        subscriber.events.filter(kind=kind, at__gte=since).count()
        >= settings.NEWSLETTER_CONFIRMATIONS_PER_DAY
    ):
        return False
    record_event(subscriber, kind, ip=ip)
    return True


def request_confirmation(*, subscriber: Subscriber, ip: str | None = None) -> bool:
    """Enqueue a confirmation email unless this address had its daily share.

    Returns whether one was enqueued. At most NEWSLETTER_CONFIRMATIONS_PER_DAY per
    address per 24 hours, so nobody can use the form to flood someone's inbox.
    """
    if not _record_within_daily_limit(subscriber, Kind.CONFIRMATION_SENT, ip=ip):
        return False
    transaction.on_commit(lambda: send_confirmation_email.enqueue(subscriber.pk))
    return True


def subscribe(
    *,
    email: str,
    first_name: str = "",
    source: str,
    ip: str | None,
    consent_text: str = CONSENT_TEXT,
    consent_version: str = CONSENT_VERSION,
    topics: Iterable[Topic] = (),
) -> None:
    """Start (or restart) double opt-in for an address.

    Returns nothing on purpose: the caller shows the same page whatever the address's
    state, so the form cannot tell anyone who is subscribed. Topics chosen on the
    form are kept for a new or restarted sign-up, never for a confirmed one (their
    preference page is where that changes).
    """
    email = normalize_email(email)
    topics = list(topics)
    consent = {
        "consent_text": consent_text,
        "consent_version": consent_version,
        "consent_source": source,
        "consent_at": timezone.now(),
        "consent_ip": ip,
    }
    try:
        with transaction.atomic():
            _subscribe(email, first_name.strip(), consent, ip, topics)
    except IntegrityError:
        # Two sign-ups for a new address at once: the other one created it.
        with transaction.atomic():
            _subscribe(email, first_name.strip(), consent, ip, topics)


def _subscribe(
    email: str, first_name: str, consent: dict, ip: str | None, topics: list[Topic]
) -> None:
    subscriber = Subscriber.objects.select_for_update().by_email(email).first()
    if subscriber is None:
        subscriber = Subscriber.objects.create(
            email=email, first_name=first_name, **consent
        )
        if topics:
            subscriber.topics.set(topics)
        record_event(
            subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"]
        )
        request_confirmation(subscriber=subscriber, ip=ip)
        return
    if subscriber.status == Subscriber.Status.CONFIRMED:
        return  # Already receiving the newsletter; nothing to send.
    # Pending, or had left: a new, explicit sign-up goes through double opt-in again.
    for name, value in consent.items():
        setattr(subscriber, name, value)
    if first_name:
        subscriber.first_name = first_name
    subscriber.status = Subscriber.Status.PENDING
    subscriber.save()
    if topics:
        subscriber.topics.set(topics)
    record_event(subscriber, Kind.SIGNED_UP, ip=ip, detail=consent["consent_source"])
    request_confirmation(subscriber=subscriber, ip=ip)


def confirm_subscription(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Confirm a pending subscription and queue its welcome email.

    The task is queued in the confirmation's own transaction (the database task
    backend stores it there): it exists if and only if the confirmation was saved,
    even if this process dies right after. Confirming again queues nothing.
    Imported subscribers who had already consented are not welcomed: they were
    subscribers elsewhere before.
    """
    return confirm(subscriber=subscriber, ip=ip, then=_queue_welcome)


def _queue_welcome(subscriber: Subscriber) -> None:
    send_welcome_email.enqueue(subscriber.pk)
    # A worker killed before it took the welcome's row left no follow-up of its own.
    queue_welcome_check(subscriber.pk, check_after(timezone.now()))


def save_welcome_email(
    *, welcome: WelcomeEmail, user: AbstractBaseUser
) -> WelcomeEmail:
    """Save the welcome email's draft, its body sanitised like an issue's.
    Subscribers keep getting the last approved text until a medical reviewer
    approves this one (approve_welcome)."""
    _require(
        user,
        "newsletter.change_welcomeemail",
        refusal="You cannot change the welcome email.",
    )
    welcome.body = sanitize_html(html=welcome.body)
    welcome.greeting = welcome.greeting.strip()
    check_greeting(welcome.greeting)
    welcome.full_clean()
    welcome.save()
    return welcome


def send_welcome_test(*, to: str, user: AbstractBaseUser) -> None:
    """The saved welcome email (its draft) to a staff address, by the worker."""
    _require(
        user,
        "newsletter.view_welcomeemail",
        "newsletter.change_welcomeemail",
        refusal="You cannot see the welcome email.",
    )
    transaction.on_commit(lambda: send_test_welcome.enqueue(to))


def request_data_export(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Email a subscriber everything we hold about them (at most 3 a day)."""
    if not _record_within_daily_limit(subscriber, Kind.DATA_EXPORTED, ip=ip):
        return False
    transaction.on_commit(lambda: send_data_export.enqueue(subscriber.pk))
    return True


def request_deletion(*, subscriber: Subscriber, ip: str | None) -> bool:
    """Email the subscriber's current address a link that deletes their data.

    Deleting takes that link, not the data page: the data page is reached from
    unsubscribe links, which travel in headers and forwarded emails. At most
    NEWSLETTER_CONFIRMATIONS_PER_DAY a day, like the data export.
    """
    if not _record_within_daily_limit(subscriber, Kind.DELETION_REQUESTED, ip=ip):
        return False
    transaction.on_commit(lambda: send_deletion_link.enqueue(subscriber.pk))
    return True


# Imports ------------------------------------------------------------------------


class ImportRefused(Exception):
    pass


def create_import(
    *,
    file_name: str,
    text: str,
    basis: str,
    evidence: str,
    total_rows: int,
    user: AbstractBaseUser | None,
) -> SubscriberImport:
    """Keep an uploaded CSV (already readable: see imports.read_import_csv) and have
    a worker check every row once this transaction has committed."""
    subscriber_import = SubscriberImport.objects.create(
        file_name=file_name[:255],
        data=text,
        fingerprint=imports.fingerprint(text=text, basis=basis, evidence=evidence),
        basis=basis,
        evidence=evidence,
        status=SubscriberImport.Status.CHECKING,
        total_rows=total_rows,
        created_by=user,
    )
    transaction.on_commit(lambda: check_subscriber_import.enqueue(subscriber_import.pk))
    return subscriber_import


def start_import(*, subscriber_import: SubscriberImport) -> None:
    """Import a checked file's new addresses, in a worker; its rows with errors
    are left out.

    One conditional UPDATE: a second press, a refresh or two staff members at once
    start it once, and a refused file (imports.file_refusal) can never be imported.
    """
    started = SubscriberImport.objects.filter(
        pk=subscriber_import.pk,
        status=SubscriberImport.Status.CHECKED,
        added__gt=0,
    ).update(status=SubscriberImport.Status.IMPORTING, started_at=timezone.now())
    if not started:
        subscriber_import.refresh_from_db()
        raise ImportRefused(
            "This import cannot be started: it is "
            f"“{subscriber_import.get_status_display()}”"
            + (
                " with no new addresses."
                if subscriber_import.status == SubscriberImport.Status.CHECKED
                else "."
            )
        )
    transaction.on_commit(lambda: run_subscriber_import.enqueue(subscriber_import.pk))
    subscriber_import.refresh_from_db()


# Medical review of newsletter text ------------------------------------------------


class ReviewRefused(Exception):
    """An approval that cannot be recorded; the message says why."""


def _reviewer_name(user: AbstractBaseUser) -> str:
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


def _check_verdict(verdict: str) -> None:
    if verdict not in Verdict.values:
        raise ReviewRefused(f"Unknown decision “{verdict}”. Nothing was recorded.")


def approve_issue(
    *, issue: Issue, user: AbstractBaseUser, verdict: str, seen_hash: str
) -> IssueApproval:
    """Record a medical reviewer's decision on the issue's text exactly as it is
    now: approved, or no medical content. `seen_hash` is the hash of the text the
    reviewer was shown; a change since is refused, so nobody approves unread text.
    """
    _require(
        user,
        REVIEW_PERMISSION,
        refusal="Only a medical reviewer can approve newsletter text.",
    )
    _check_verdict(verdict)
    name = _reviewer_name(user)
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
    _require(
        user,
        REVIEW_PERMISSION,
        refusal="Only a medical reviewer can approve newsletter text.",
    )
    _check_verdict(verdict)
    name = _reviewer_name(user)
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
            _require(user, "newsletter.add_issue", refusal="You cannot add issues.")
            issue.full_clean()
            issue.save()
            return issue
        saved = Issue.objects.select_for_update().get(pk=issue.pk)
        if saved.is_locked:
            raise ValidationError(
                "This issue is starting, sending or sent and can no longer change."
            )
        _require(user, "newsletter.change_issue", refusal="You cannot change issues.")
        if saved.status == Issue.Status.SCHEDULED:
            _require(
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
    no topic). NothingToDigest when no article went live since.
    """
    _require(user, "newsletter.add_issue", refusal="You cannot add issues.")
    since = digest_since()
    articles = list(digest_articles(since))
    if not articles:
        raise NothingToDigest(
            f"No article has been published since "
            f"{timezone.localtime(since):%-d %B %Y, %H:%M}: there is nothing to put "
            "in a digest."
        )
    topics = list({a.topic_id: a.topic for a in articles}.values())
    names = [t.name for t in topics]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    count = len(articles)
    preheader = f"{count} new article{'s' if count != 1 else ''} on {listed}."
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
    _require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
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
    _require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
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
    _require(
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
    _require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
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
    _require(user, SEND_PERMISSION, refusal=SEND_REFUSAL)
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
        if count:
            Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENT).update(
                status=Issue.Status.SENDING, updated_at=now
            )
            transaction.on_commit(lambda: send_issue.enqueue(issue.pk))
    return count
