"""What the issue page shows of a send, and polls for while it runs."""

from datetime import datetime

from django.utils import timezone

from newsletter import sending
from newsletter.models import Delivery, Issue

PROGRESS_POLL_STATUSES = {Issue.Status.SENDING}

COUNT_ORDER = [
    Delivery.Status.QUEUED,
    Delivery.Status.SENDING,
    Delivery.Status.SENT,
    Delivery.Status.FAILED,
    Delivery.Status.UNCERTAIN,
    Delivery.Status.SKIPPED,
]


def progress_data(issue: Issue) -> dict:
    """sending.progress, plus what the page needs to show and to keep polling."""
    data = sending.progress(issue=issue)
    counts = data["counts"]
    done = sum(
        counts[status]
        for status in [
            Delivery.Status.SENT,
            Delivery.Status.FAILED,
            Delivery.Status.UNCERTAIN,
            Delivery.Status.SKIPPED,
        ]
    )
    labels = dict(Delivery.Status.choices)
    return {
        **data,
        "done": done,
        "rows": [
            {"status": status, "label": labels[status], "count": counts[status]}
            for status in COUNT_ORDER
        ],
        "problems": [
            {
                "status": problem["status"],
                "status_label": labels[problem["status"]],
                "email": problem["subscriber__email"] or "(deleted subscriber)",
                "smtp_code": problem["smtp_code"],
                "error": problem["error"],
            }
            for problem in data["problems"]
        ],
        "poll": issue.status in PROGRESS_POLL_STATUSES
        or (
            issue.status == Issue.Status.SCHEDULED
            and issue.scheduled_at is not None
            and issue.scheduled_at <= timezone.now()
        ),
        "scheduled_at": _iso(issue.scheduled_at),
        "send_started_at": _iso(issue.send_started_at),
        "sent_at": _iso(issue.sent_at),
        "recipient_count": issue.recipient_count,
    }


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None
