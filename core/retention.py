"""Retention: what the site keeps no longer, deleted by steps on a daily schedule.

settings.RETENTION_STEPS names each step by its dotted path ("package.module.
function"), as WORKER_RECOVERY names the workers' recovery functions, so core runs
the apps' steps without importing them. A step is called as `step(dry_run=...)`
and returns how many rows it removed (or, with `dry_run`, would remove). Every step
is safe to run again: a second run finds nothing more to remove.

Each step deletes in batches of BATCH rows, each in its own short transaction, so
no run holds a lock on a large table for long, on SQLite (one writer at a time) as
on PostgreSQL. `manage.py apply_retention` runs them now and starts the daily run
(core.tasks.apply_retention). docs/operations.md ("Retention") says what each step
keeps and why.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

# Rows deleted per statement: small enough that each transaction is short.
BATCH = 1000


@dataclass(frozen=True)
class StepResult:
    """What one step did: rows removed (or that would be), its time, any error."""

    path: str
    rows: int
    seconds: float
    error: str = ""


class RetentionFailed(Exception):
    """One or more steps failed; the others ran. The message names them."""


def steps() -> list[tuple[str, Callable[..., int]]]:
    """The steps of settings.RETENTION_STEPS, imported (the system check core.E012
    refuses a path that does not import)."""
    return [(path, import_string(path)) for path in settings.RETENTION_STEPS]


def apply(*, dry_run: bool) -> list[StepResult]:
    """Run every step in order. A step that fails is logged and recorded in its
    result, and the others still run: one app's problem must not keep another's
    data past its time."""
    results = []
    for path, step in steps():
        started = time.monotonic()
        try:
            rows = step(dry_run=dry_run)
        except Exception as exc:
            logger.exception("Retention step %s failed", path)
            results.append(
                StepResult(
                    path=path,
                    rows=0,
                    seconds=time.monotonic() - started,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
            continue
        seconds = time.monotonic() - started
        logger.info(
            "Retention step %s: %s %d row(s) in %.1f s",
            path,
            "would remove" if dry_run else "removed",
            rows,
            seconds,
        )
        results.append(StepResult(path=path, rows=rows, seconds=seconds))
    return results


def raise_for_failures(results: list[StepResult]) -> None:
    failed = [f"{r.path} ({r.error})" for r in results if r.error]
    if failed:
        raise RetentionFailed("Retention steps failed: " + "; ".join(failed))


def delete_in_batches(
    queryset: QuerySet,
    *,
    dry_run: bool,
    candidates: QuerySet | None = None,
    batch: int | None = None,
) -> int:
    """Delete the rows of `queryset`; how many of its model's rows went (with
    `dry_run`, how many would: its count).

    The rows go BATCH at a time, in primary key order, each batch in its own
    transaction. Each batch is found in two steps: the next BATCH primary keys
    of `candidates` (by default `queryset` itself), a simple filter its indexes
    answer, then the rows of `queryset` in that range of keys. `candidates` must
    hold every row of `queryset`; a costly `queryset` passes a cheaper superset,
    as the revisions do: their whole filter cut by LIMIT was planned by
    PostgreSQL with hashes of every related table and JIT-compiled, 2.5 s a
    batch (2 s of it compiling) against 40 ms for a range of keys, at ten years'
    scale. The filter is read again for each batch, so a row that stopped
    matching meanwhile (a revision a new preview link now names) is left alone."""
    if dry_run:
        return queryset.count()
    batch = batch or BATCH
    label = queryset.model._meta.label
    keys = (
        (queryset if candidates is None else candidates)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    removed = 0
    last = None
    while True:
        pks = list((keys if last is None else keys.filter(pk__gt=last))[:batch])
        if not pks:
            return removed
        first, last = pks[0], pks[-1]
        with transaction.atomic():
            _, per_model = (
                queryset.filter(pk__gte=first, pk__lte=last).only("pk").delete()
            )
        removed += per_model.get(label, 0)


# Core's own step -------------------------------------------------------------------


def forget_finished_tasks(*, dry_run: bool) -> int:
    """Delete the results of background tasks finished more than
    TASK_RESULTS_KEEP_DAYS ago (succeeded or failed). Their arguments name
    subscribers (and test sends name addresses), so they are personal data kept
    for nothing once nobody needs to look into a failure. Tasks waiting or
    running are never touched: the scheduled chains and the workers' recovery
    look only at those."""
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULTS_KEEP_DAYS)
    finished = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff)
    return delete_in_batches(finished, dry_run=dry_run)
