"""An issue's delivery counts, kept as counters so that no page counts its
deliveries (millions of rows at a real list's size)."""

from django.db import models

from newsletter.models.issues import Issue


class IssueStats(models.Model):
    """What became of one issue's deliveries, counted as it happens.

    Its own row rather than columns of Issue: a worker moving these counters
    never locks the issue staff may be editing, and the rows a send touches
    stay narrow. Each counter moves in the same transaction as the write that
    changed a delivery, and only when that write changed a row
    (newsletter/models/counters.py); a worker's claim collects its batch's
    moves and adds them here once, when the batch ends, so workers sending at
    once do not queue on this row. What is shown is this row plus the claims
    still open (counters.issue_counts).
    """

    issue = models.OneToOneField(
        Issue, primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    queued = models.IntegerField(default=0)
    sending = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    uncertain = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    # Deliveries with at least one such report (DeliveryEvent), each counted once.
    bounced = models.IntegerField(default=0)
    complained = models.IntegerField(default=0)
    unsubscribed = models.IntegerField(default=0)
    # When the roll-up (newsletter/delivery/rollup.py) last removed this issue's
    # per-recipient rows: from then on these counters are the only record of them.
    rolled_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "issue stats"

    def __str__(self) -> str:
        return f"{self.issue_id}: {self.sent} sent"
