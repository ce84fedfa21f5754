"""What the issue page shows of a send, and polls for while it runs."""

from datetime import datetime

from django.utils import timezone

from newsletter.delivery import issues
from newsletter.issues import services as issue_services
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


# What the page calls each moment of a send. A due scheduled issue is "starting"
# until a worker creates its deliveries, and "not started" once START_GRACE passed.
PHASE_LABELS = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "starting": "Starting",
    "not_started": "Not started",
    "sending": "Sending",
    "sent": "Sent",
}


def send_phase(issue: Issue) -> str:
    if issue.status != Issue.Status.SCHEDULED:
        return issue.status
    if issue.scheduled_at is not None and issue.scheduled_at > timezone.now():
        return "scheduled"
    return "not_started" if issue_services.start_overdue(issue) else "starting"


def progress_data(issue: Issue) -> dict:
    """issues.progress, plus what the page needs to show and to keep polling."""
    data = issues.progress(issue=issue)
    phase = send_phase(issue)
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
        "phase": phase,
        "status_label": PHASE_LABELS[phase],
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
        or phase in {"starting", "not_started"},
        "scheduled_at": _iso(issue.scheduled_at),
        "send_started_at": _iso(issue.send_started_at),
        "sent_at": _iso(issue.sent_at),
        "recipient_count": issue.recipient_count,
    }


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None
