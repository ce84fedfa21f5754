"""Source health: what the background check (articles/sources/) knows about the
sources articles cite.

An article's Reference rows are deleted and written afresh on every save
(articles/editorial/revisions.write_sources), so nothing here points at one: a
checked source is a SourceTarget, keyed by what is checked (a URL, a DOI or a
PMID, normalised), and its history survives any edit of the articles citing it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from articles.models.content import Article

# What a target's value may hold: more than the longest URL checked (URL_MAX in
# articles/sources/targets.py), so a longer one is kept long enough to be refused.
VALUE_MAX = 2048


class TargetKind(models.TextChoices):
    URL = "url", "URL"
    DOI = "doi", "DOI"
    PMID = "pmid", "PMID"


class Outcome(models.TextChoices):
    OK = "ok", "Fine"
    # Fine in the end, through a permanent move (301/308): cite the new address.
    MOVED = "moved", "Moved permanently"
    BROKEN = "broken", "Broken"
    RETRACTED = "retracted", "Retracted"
    # Refused without a request: not a fetchable public address.
    UNUSABLE = "unusable", "Not checkable"
    # The service asked (the DOI resolver, Crossref, PubMed) did not answer: says
    # nothing about the source, so it neither counts as a failure nor clears one.
    UNKNOWN = "unknown", "Could not tell"


class ProblemKind(models.TextChoices):
    FAILING = "failing", "Failed twice in a row"
    MOVED = "moved", "Moved permanently"
    RETRACTED = "retracted", "Retracted"
    UNUSABLE = "unusable", "Not checkable"


class SourceTarget(models.Model):
    """One thing sources point at, whatever article cites it, with the state of
    its last check."""

    kind = models.CharField(max_length=4, choices=TargetKind.choices)
    value = models.CharField(max_length=VALUE_MAX)
    seen_at = models.DateTimeField(
        default=timezone.now,
        help_text="When a run last found a live article citing it.",
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["kind", "value"]
        verbose_name = "checked source"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"], name="sourcetarget_unique_target"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TargetKind.values), name="sourcetarget_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class SourceCitation(models.Model):
    """A live article citing a target, as the last run found it (rebuilt by each
    run, so it follows edits)."""

    target = models.ForeignKey(
        SourceTarget, on_delete=models.CASCADE, related_name="citations"
    )
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="source_citations"
    )
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target", "article"], name="sourcecitation_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} cites {self.target_id}"


class SourceCheck(models.Model):
    """One check of one target: the history."""

    target = models.ForeignKey(
        SourceTarget, on_delete=models.CASCADE, related_name="checks"
    )
    checked_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    final_url = models.CharField(max_length=VALUE_MAX, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-checked_at", "-pk"]
        indexes = [
            models.Index(
                fields=["target", "-checked_at"], name="sourcecheck_target_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=Outcome.values),
                name="sourcecheck_outcome_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.checked_at:%Y-%m-%d %H:%M}"


class SourceProblem(models.Model):
    """A source of an article the desk should look at. Open until an editor marks
    it checked and fine (dismissed) or the check finds it fixed (resolved: the
    link works again, or the article no longer cites it)."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="source_problems"
    )
    target = models.ForeignKey(
        SourceTarget, on_delete=models.CASCADE, related_name="problems"
    )
    kind = models.CharField(max_length=10, choices=ProblemKind.choices)
    reason = models.CharField(max_length=500)
    final_url = models.CharField(max_length=VALUE_MAX, blank=True)
    found_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["found_at", "pk"]
        constraints = [
            # One unresolved problem of a kind per article and target: a dismissed
            # one stays until resolved, so the next run does not raise it again.
            models.UniqueConstraint(
                fields=["article", "target", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="sourceproblem_one_unresolved",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ProblemKind.values),
                name="sourceproblem_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.target}"


class SourceCheckState(models.Model):
    """The switch and the progress of the source check: one row, id 1, made by
    the first run or the first look at it in the admin. Not a SingleRowModel:
    no text staff write, and nobody adds it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    paused = models.BooleanField(
        default=False,
        help_text="Tick to stop checking sources: a run stops at the next source "
        "and carries on from there once this is unticked.",
    )
    run_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    run_finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    total = models.PositiveIntegerField(default=0, editable=False)
    checked = models.PositiveIntegerField(default=0, editable=False)
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "source check"
        verbose_name_plural = "source check"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1), name="sourcecheckstate_single_row"
            )
        ]

    def __str__(self) -> str:
        return "Source check"

    @property
    def running(self) -> bool:
        """A run has started and not finished (it may be paused midway)."""
        return self.run_started_at is not None and self.run_finished_at is None
