from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PageVersion(models.Model):
    """The version of everything the public pages show (core/pagecache.py).

    One row. Cached pages and their ETags are keyed by `version`, so bumping it in
    the same transaction as a change makes every process on every machine render
    afresh on the very next request, whatever cache each one keeps pages in.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=1)
    changed_at = models.DateTimeField(
        default=timezone.now,
        help_text="When public pages last changed: their Last-Modified.",
    )
    next_change_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When pages change by themselves next (a scheduled article's publish "
            "time): no cached page is served past it."
        ),
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="core_pageversion_one_row")
        ]

    def __str__(self) -> str:
        return f"Public pages, version {self.version}"


class WorkerHeartbeat(models.Model):
    """A running `manage.py db_worker` process, and when it was last heard from.

    Written by the worker itself at start and every WORKER_HEARTBEAT_SECONDS after
    (core/workers.py); deleted when it stops cleanly. One silent for longer than
    WORKER_DEAD_AFTER_SECONDS is dead: the tasks it was running go back in the queue.
    """

    worker_id = models.CharField(
        max_length=64,
        unique=True,
        help_text="The id task results name the worker by (their worker ids).",
    )
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"Worker {self.worker_id} (process {self.pid} on {self.host})"


class SingleRowModel(models.Model):
    """Site-wide words staff edit in one place (the home page's, the editorial
    policy, the welcome email): one row, id 1. The database refuses a second one,
    and `current()` reads it, so no caller guesses which row is meant."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)

    class Meta:
        abstract = True
        constraints = [
            # "%(class)s" keeps each table's constraint name as it was before the
            # models shared this base: no migration.
            models.CheckConstraint(condition=Q(id=1), name="%(class)s_single_row")
        ]

    @classmethod
    def current(cls):
        """The row, or None before anyone has saved it."""
        return cls._default_manager.filter(pk=1).first()


class CalendarFeedToken(models.Model):
    """A staff member's secret calendar feed address (core/calendar/feed.py).

    Only the SHA-256 of the token is kept: the address is shown once, when made,
    and someone who reads the database cannot subscribe to anyone's calendar.
    Revoking deletes the row, so the old address stops working at once; a new
    link is a new row with a new token.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="calendar_feed_token",
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"
