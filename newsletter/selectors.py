"""Reads about subscribers and issues."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone

from articles.public import Article, Correction, published_q
from newsletter.issues import review
from newsletter.models import (
    Delivery,
    Issue,
    IssueApproval,
    IssueArticle,
    LinkClick,
    Subscriber,
    WelcomeApproval,
    WelcomeDelivery,
    WelcomeEmail,
    WelcomeStep,
    WelcomeStepApproval,
    WelcomeStepDelivery,
    counters,
)
from newsletter.models.series import IMPORTED_WITH_CONSENT


def featured_not_live(issue: Issue) -> list[str]:
    """Titles of the issue's featured articles the public cannot see right now."""
    return list(
        issue.issuearticle_set.exclude(published_q("article__"))
        .order_by("position", "pk")
        .values_list("article__title", flat=True)
    )


def featured_refusal(issue: Issue) -> str:
    """Why the issue cannot go out because of its featured articles ("" if it can)."""
    titles = featured_not_live(issue)
    if not titles:
        return ""
    names = ", ".join(f"“{title}”" for title in titles)
    return (
        f"The featured article {names} is not live (a draft, or scheduled for "
        "later), so readers would find no page behind its link. Publish it or "
        "remove it from the issue."
        if len(titles) == 1
        else f"The featured articles {names} are not live (drafts, or scheduled "
        "for later), so readers would find no page behind their links. Publish "
        "them or remove them from the issue."
    )


def audience_refusal(issue: Issue) -> str:
    """Why the issue's audience cannot be sent to ("" if it can)."""
    if issue.audience == Issue.Audience.TOPICS and not issue.topics.exists():
        return (
            "The issue is for subscribers of chosen topics, but no topic is "
            "chosen. Choose at least one topic, or send it to everyone."
        )
    return ""


@dataclass(frozen=True)
class ReviewState:
    """Where a newsletter text stands with medical review."""

    text: dict[str, Any]
    content_hash: str
    # The approval of exactly this text, if any.
    current: IssueApproval | WelcomeApproval | None
    # The last approval of any version of it, and the text it approved.
    latest: IssueApproval | WelcomeApproval | None
    approved_text: dict[str, Any] | None

    @property
    def stale(self) -> bool:
        return self.current is None and self.latest is not None

    @property
    def changed(self) -> list[str]:
        """What differs from the last approved version, in words."""
        if not self.stale or self.approved_text is None:
            return []
        return review.changed_parts(self.approved_text, self.text)

    def differences(self) -> list[review.Difference]:
        if not self.stale or self.approved_text is None:
            return []
        return review.differences(self.approved_text, self.text)


def issue_review(issue: Issue) -> ReviewState:
    """The issue's text as it is now against its approvals (three queries)."""
    text = review.issue_text(issue)
    digest = review.content_hash(text)
    current = issue.approvals.filter(content_hash=digest).first()
    latest = current or issue.approvals.first()
    return ReviewState(
        text=text,
        content_hash=digest,
        current=current,
        latest=latest,
        approved_text=latest.text if latest else None,
    )


def welcome_review(welcome: WelcomeEmail) -> ReviewState:
    """The welcome email's draft against the approved text subscribers get."""
    text = review.welcome_text(welcome)
    digest = review.content_hash(text)
    latest = approved_welcome()
    return ReviewState(
        text=text,
        content_hash=digest,
        current=latest if latest and latest.content_hash == digest else None,
        latest=latest,
        approved_text=review.welcome_text(latest) if latest else None,
    )


@dataclass(frozen=True)
class ReviewQueue:
    """Newsletter text that cannot go out for want of a medical approval of it as
    it is now: the dashboard's list for reviewers and for those who send."""

    issues: list[tuple[Issue, bool]]  # (issue, stale: an earlier text was approved)
    more: bool
    welcome: ReviewState | None  # the welcome email's draft, when not approved


# Issues not yet sent that the dashboard looks at: the most recently changed.
REVIEW_QUEUE_LOOKED_AT = 20


def texts_awaiting_review() -> ReviewQueue:
    """Drafts and scheduled issues whose text has no current approval, newest
    change first, and the welcome email when it is on and its draft is not the
    approved text. A fixed number of queries, however many issues."""
    looked_at = list(
        Issue.objects.filter(status__in=[Issue.Status.DRAFT, Issue.Status.SCHEDULED])
        .order_by("-updated_at", "-pk")
        .prefetch_related(
            Prefetch(
                "issuearticle_set",
                queryset=IssueArticle.objects.select_related(
                    *review.FEATURED_RELATED
                ).order_by(*review.FEATURED_ORDER),
                to_attr="featured_items",
            ),
            Prefetch(
                "corrections",
                queryset=Correction.objects.select_related(
                    *review.CORRECTIONS_RELATED
                ).order_by(*review.CORRECTIONS_ORDER),
                to_attr="correction_items",
            ),
            Prefetch(
                "approvals",
                queryset=IssueApproval.objects.only("issue_id", "content_hash"),
                to_attr="approval_rows",
            ),
        )[: REVIEW_QUEUE_LOOKED_AT + 1]
    )
    waiting = []
    for issue in looked_at[:REVIEW_QUEUE_LOOKED_AT]:
        hashes = {approval.content_hash for approval in issue.approval_rows}
        if review.issue_hash(issue) not in hashes:
            waiting.append((issue, bool(hashes)))
    welcome = welcome_email()
    welcome_state = None
    if welcome is not None and welcome.enabled:
        state = welcome_review(welcome)
        welcome_state = None if state.current is not None else state
    return ReviewQueue(
        issues=waiting,
        more=len(looked_at) > REVIEW_QUEUE_LOOKED_AT,
        welcome=welcome_state,
    )


def approved_welcome() -> WelcomeApproval | None:
    """The welcome email's text as last approved: what subscribers get."""
    return WelcomeApproval.objects.first()


def _since(approval: IssueApproval | WelcomeApproval) -> str:
    return (
        f"{approval.reviewer_name} approved it on "
        f"{timezone.localtime(approval.approved_at):%-d %B %Y at %H:%M}"
    )


def review_refusal(issue: Issue) -> str:
    """Why the issue's text may not go out for want of a medical approval of
    exactly this text ("" if it has one)."""
    state = issue_review(issue)
    if state.current is not None:
        return ""
    if state.latest is None:
        return (
            "No medical reviewer has approved this issue's text yet. A medical "
            "reviewer approves it, or records that it has no medical content, on "
            "the issue's page."
        )
    changed = f" (changed: {', '.join(state.changed)})" if state.changed else ""
    return (
        f"The issue's text changed after {_since(state.latest)}{changed}. A "
        "medical reviewer must approve the text as it is now."
    )


def send_refusal(issue: Issue) -> str:
    """Why the issue cannot go out now ("" if it can)."""
    return (
        featured_refusal(issue)
        or audience_refusal(issue)
        or corrections_refusal(issue)
        or review_refusal(issue)
    )


def recipient_count(issue: Issue) -> int:
    """How many would receive the issue if its send started now."""
    return Subscriber.objects.audience_of(issue).count()


def audience_label(issue: Issue) -> str:
    """Who an issue goes to, in words: its kind's subscribers, and its topics."""
    who = {
        Issue.Kind.DIGEST: "monthly-digest subscribers",
        Issue.Kind.NOTICE: "subscribers who asked to hear when advice changed",
    }.get(issue.kind, "every-issue subscribers")
    if issue.audience == Issue.Audience.TOPICS:
        names = ", ".join(issue.topics.order_by("name").values_list("name", flat=True))
        who += f" who chose {names or '(no topic chosen)'} or no topic at all"
    return f"Confirmed {who}, not paused"


# How far back the first digest looks, when no digest has been sent yet.
FIRST_DIGEST_SPAN = timedelta(days=31)


def digest_since() -> datetime:
    """Where the next digest starts: when the last digest was sent.

    The last digest rather than the last issue of any kind: digest readers get no
    regular issues, so articles a regular issue featured are still news to them.
    """
    last = (
        Issue.objects.archived()
        .filter(kind=Issue.Kind.DIGEST)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    return last or timezone.now() - FIRST_DIGEST_SPAN


def digest_articles(since: datetime):
    """Articles live now and published after `since`, by topic, newest first."""
    return (
        Article.objects.published()
        .filter(published_at__gt=since)
        .select_related("topic")
        .order_by("topic__name", "-published_at", "pk")
    )


def digest_corrections():
    """Corrections that changed the advice, to be told in the next digest: of
    articles live now, not told at once in a notice, and in no digest sending or
    sent (each is told once). Oldest first."""
    told = Issue.objects.filter(
        kind=Issue.Kind.DIGEST,
        status__in=[Issue.Status.SENDING, Issue.Status.SENT],
        corrections=OuterRef("pk"),
    )
    return (
        Correction.objects.filter(
            published_q("article__"),
            changes_advice=True,
            tell_readers=Correction.TellReaders.NEXT_DIGEST,
        )
        .exclude(Exists(told))
        .select_related(*review.CORRECTIONS_RELATED)
        .order_by(*review.CORRECTIONS_ORDER)
    )


def corrections_refusal(issue: Issue) -> str:
    """Why a digest's "What changed" cannot go out ("" if it can): a correction
    another digest already told (each reader hears of it once), or one of an
    article readers cannot see."""
    if issue.kind != Issue.Kind.DIGEST:
        return ""
    told = (
        Issue.objects.filter(
            kind=Issue.Kind.DIGEST,
            status__in=[Issue.Status.SENDING, Issue.Status.SENT],
            corrections__in=issue.corrections.all(),
        )
        .exclude(pk=issue.pk)
        .values_list("subject", flat=True)
        .first()
    )
    if told:
        return (
            f"A correction in “What changed” was already told in the digest "
            f"“{told}”. Remove it from this digest (or build the digest again)."
        )
    hidden = issue.corrections.exclude(published_q("article__")).first()
    if hidden:
        return (
            f"The correction “{hidden}” is of an article that is not live: readers "
            "would find no page behind its link. Remove it from the digest."
        )
    return ""


def subscriber_data(subscriber: Subscriber) -> dict:
    """Everything we hold about a subscriber, for their data request."""
    return {
        "email": subscriber.email,
        "first_name": subscriber.first_name,
        "status": subscriber.get_status_display(),
        "signed_up_from": subscriber.get_consent_source_display(),
        "consent_text": subscriber.consent_text,
        "consent_version": subscriber.consent_version,
        "consent_at": subscriber.consent_at,
        "consent_ip": subscriber.consent_ip,
        "lawful_basis": subscriber.lawful_basis,
        "confirmed_at": subscriber.confirmed_at,
        "topics": list(subscriber.topics.values_list("name", flat=True)),
        "frequency": subscriber.get_frequency_display(),
        "told_when_advice_changes": subscriber.advice_changes,
        "paused_until": subscriber.paused_until,
        "left_at": subscriber.left_at,
        "left_how": subscriber.get_left_how_display() if subscriber.left_how else "",
        "history": [
            {"at": e.at, "event": e.get_kind_display(), "ip": e.ip, "detail": e.detail}
            for e in subscriber.events.all()
        ],
        "issues_sent": list(
            subscriber.deliveries.filter(status=Delivery.Status.SENT)
            .order_by("sent_at")
            .values_list("issue__subject", "sent_at")
        ),
    }


def archive_paths(issue: Issue) -> set[str]:
    """Public pages that list or show a sent issue: the archive, the issue's own
    page and the sign-up page (it lists recent issues)."""
    paths = {reverse("newsletter:archive"), reverse("newsletter:subscribe")}
    if issue.slug:
        paths.add(issue.get_absolute_url())
    return paths


@dataclass(frozen=True)
class DeliveryStats:
    """What became of an issue's messages: counts only, nobody's reading."""

    sent: int
    delivered: int
    failed: int
    bounced: int
    complained: int
    unsubscribed: int


def issue_delivery_stats(
    issue: Issue, *, counts: dict[str, int] | None = None
) -> DeliveryStats:
    """From the issue's counters (newsletter/models/counters.py): two queries,
    none when given the counts already read (counters.issue_counts).

    - sent: accepted by our mail server or the provider;
    - delivered: sent, and not reported bounced since;
    - failed: refused when sent, or given up on after retries;
    - bounced: sent, then reported as a permanent bounce by the provider;
    - complained: reported as spam by the reader's mailbox provider;
    - unsubscribed: readers who left through this issue's unsubscribe link (or
      their mail client's one-click button), or at the provider, from it.
    """
    if counts is None:
        counts = counters.issue_counts(issue)
    # Only a sent delivery has the message id a bounce report finds it by, and
    # a sent delivery stays sent: every bounced delivery is a sent one.
    return DeliveryStats(
        sent=counts["sent"],
        delivered=max(counts["sent"] - counts["bounced"], 0),
        failed=counts["failed"],
        bounced=counts["bounced"],
        complained=counts["complained"],
        unsubscribed=counts["unsubscribed"],
    )


def welcome_email() -> WelcomeEmail | None:
    """The one welcome email (made by a migration; None only if deleted by hand)."""
    return WelcomeEmail.current()


def link_clicks(issue: Issue) -> dict:
    """The issue's links by clicks, most clicked first, and the total (one query)."""
    links = [
        {
            "url": link.url,
            # Shorter to read; the link itself keeps the whole address.
            "label": link.url.split("://", 1)[-1],
            "clicks": link.clicks,
            "first_at": link.first_at,
            "last_at": link.last_at,
        }
        for link in LinkClick.objects.filter(issue=issue).most_clicked()
    ]
    return {"links": links, "total": sum(link["clicks"] for link in links)}


@dataclass(frozen=True)
class MonthCount:
    start: date
    joined: int
    left: int
    # Confirmed subscribers at the end of the month (now, for this month).
    total: int


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def subscriber_growth(
    *, months: int = 12, now: datetime | None = None
) -> list[MonthCount]:
    """Confirmed subscribers joining and leaving per month, the last `months`
    (this one included), and how many there were at each month's end. Three
    queries, however many subscribers.

    From what each subscriber's row holds now: someone who left and confirmed
    again counts from their latest confirmation, and deleted addresses are gone
    from the past too.
    """
    today = timezone.localtime(now or timezone.now()).date()
    starts = [_month_start(today, back) for back in range(months - 1, -1, -1)]
    since = timezone.make_aware(datetime(starts[0].year, starts[0].month, 1))
    ever = Subscriber.objects.filter(confirmed_at__isnull=False).order_by()
    # A left_at before confirmed_at is from an earlier subscription (they signed
    # up and confirmed again since): they are here now.
    left = Q(left_at__gte=F("confirmed_at"))
    before = ever.aggregate(
        joined=Count("pk", filter=Q(confirmed_at__lt=since)),
        left=Count("pk", filter=left & Q(left_at__lt=since)),
    )

    def per_month(field: str, rows) -> dict[tuple[int, int], int]:
        counted = (
            rows.filter(**{f"{field}__gte": since})
            .annotate(month=TruncMonth(field))
            .values("month")
            .annotate(n=Count("pk"))
            .values_list("month", "n")
        )
        return {(month.year, month.month): n for month, n in counted}

    joined = per_month("confirmed_at", ever)
    gone = per_month("left_at", ever.filter(left))
    total = before["joined"] - before["left"]
    result = []
    for start in starts:
        key = (start.year, start.month)
        total += joined.get(key, 0) - gone.get(key, 0)
        result.append(
            MonthCount(
                start=start,
                joined=joined.get(key, 0),
                left=gone.get(key, 0),
                total=total,
            )
        )
    return result


# The welcome series ----------------------------------------------------------------


def welcome_steps_awaiting_review() -> list[tuple[WelcomeStep, bool]]:
    """The series' steps switched on whose text as it is now has no decision
    (switching a step on asks for it to go out, as for the welcome email), in
    order, with whether an earlier text was approved. Two queries however many
    steps."""
    steps = WelcomeStep.objects.filter(enabled=True).prefetch_related(
        Prefetch(
            "approvals",
            queryset=WelcomeStepApproval.objects.only("step_id", "content_hash"),
            to_attr="approval_rows",
        )
    )
    waiting = []
    for step in steps:
        hashes = {approval.content_hash for approval in step.approval_rows}
        if review.welcome_hash(step) not in hashes:
            waiting.append((step, bool(hashes)))
    return waiting


def welcome_step_review(step: WelcomeStep) -> ReviewState:
    """A series step's draft against the approved text subscribers get."""
    text = review.welcome_text(step)
    digest = review.content_hash(text)
    latest = step.approvals.first()
    return ReviewState(
        text=text,
        content_hash=digest,
        current=latest if latest and latest.content_hash == digest else None,
        latest=latest,
        approved_text=review.welcome_text(latest) if latest else None,
    )


@dataclass(frozen=True)
class StepCounts:
    """One step of the welcome series, by what became of it for subscribers."""

    sent: int = 0
    # Confirmed subscribers whose day for it is still to come, and sends under way
    # (claimed, or queued to try again).
    waiting: int = 0
    # Failed, or uncertain (the worker died during sending).
    failed: int = 0
    # Paused on the day it was due.
    skipped: int = 0


WAITING_STATUSES = {"queued", "claimed", "sending"}
FAILED_STATUSES = {"failed", "uncertain"}


def _counted(rows) -> dict[str, int]:
    counts = {"sent": 0, "waiting": 0, "failed": 0, "skipped": 0}
    for status, number in rows:
        if status in WAITING_STATUSES:
            counts["waiting"] += number
        elif status in FAILED_STATUSES:
            counts["failed"] += number
        elif status in counts:
            counts[status] += number
    return counts


def welcome_series_counts(steps: list[WelcomeStep]) -> dict[int, StepCounts]:
    """Per position (1 is the welcome email): sent, waiting, failed, skipped.
    Three queries however many steps and subscribers."""
    now = timezone.now()
    # Only those confirmed within the longest delay can be waiting: a range on
    # the (status, confirmed_at) index instead of counting every subscriber.
    longest = max((step.delay_days for step in steps), default=0)
    confirmed = Subscriber.objects.filter(
        status=Subscriber.Status.CONFIRMED,
        confirmed_at__gt=now - timedelta(days=longest),
    ).exclude(IMPORTED_WITH_CONSENT)
    to_come = (
        confirmed.aggregate(
            **{
                f"step{step.pk}": Count(
                    "pk",
                    filter=Q(confirmed_at__gt=now - timedelta(days=step.delay_days)),
                )
                for step in steps
            }
        )
        if steps
        else {}
    )
    by_step: dict[int, list[tuple[str, int]]] = {step.pk: [] for step in steps}
    for step_id, status, number in (
        WelcomeStepDelivery.objects.values_list("step_id", "status")
        .annotate(number=Count("pk"))
        .order_by()
    ):
        by_step.setdefault(step_id, []).append((status, number))
    welcome_rows = (
        WelcomeDelivery.objects.values_list("status")
        .annotate(number=Count("pk"))
        .order_by()
    )
    counts = {1: StepCounts(**_counted(welcome_rows))}
    for step in steps:
        numbers = _counted(by_step[step.pk])
        numbers["waiting"] += to_come[f"step{step.pk}"]
        counts[step.position] = StepCounts(**numbers)
    return counts
