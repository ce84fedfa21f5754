"""The newsletter's entries on the editorial calendar (core.calendar): sends,
scheduled ones ahead and those started or done. One query for any period."""

from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from core.calendar.grid import local_days, on_days
from core.calendar.sources import Choice, Entry, url_maker
from newsletter.models import Issue

SEND = "send"


class IssueSource:
    permission = "newsletter.view_issue"

    def entries(
        self,
        *,
        user: AbstractBaseUser,
        start: date,
        end: date,
        topic: str = "",
        person: str = "",
    ) -> list[Entry]:
        # A send is nobody's: narrowed to a person, the calendar shows none.
        if person:
            return []
        issues = self._issues(start, end)
        if topic:
            # The issues sent to a topic's subscribers (chosen topics).
            issues = issues.filter(audience=Issue.Audience.TOPICS, topics__id=topic)
        return self._entries(issues, start, end)

    def feed_entries(
        self, *, user: AbstractBaseUser, start: date, end: date
    ) -> list[Entry]:
        """Every send, for those who may see issues."""
        if not user.has_perm(self.permission):
            return []
        return self._entries(self._issues(start, end), start, end)

    def topics(self) -> list[Choice]:
        return []

    def _issues(self, start: date, end: date):
        return (
            Issue.objects.filter(
                (Q(status=Issue.Status.SCHEDULED) & on_days("scheduled_at", start, end))
                | (Q(sent_at__isnull=True) & on_days("send_started_at", start, end))
                | on_days("sent_at", start, end)
            )
            .only(
                "pk", "subject", "status", "scheduled_at", "send_started_at", "sent_at"
            )
            .order_by()
        )

    def _entries(self, issues, start: date, end: date) -> list[Entry]:
        change_url = url_maker("admin:newsletter_issue_change")
        now = timezone.now()
        local_day = local_days()
        found = []
        for issue in issues:
            if issue.status == Issue.Status.SCHEDULED and issue.scheduled_at:
                at = issue.scheduled_at
                label = "Send scheduled" if at > now else "Send due"
            else:
                at = issue.sent_at or issue.send_started_at
                label = "Sent" if issue.sent_at else "Sending"
            if at is None or not start <= (day := local_day(at)) <= end:
                continue
            found.append(
                Entry(
                    uid=f"issue-{issue.pk}-send",
                    day=day,
                    kind=SEND,
                    kind_label=label,
                    title=issue.subject,
                    url=change_url(issue.pk),
                    at=at,
                )
            )
        return found
