"""A run of the source check: find the sources of live articles, check each once
(a few hosts at a time, each at its polite pace), keep each result in the
history, and tell the desk (problems.py) about a source that failed twice in a
row, moved for good, is retracted or cannot be checked.

A run is resumable: the state row (SourceCheckState) says when it started, and a
source checked since then is not checked again, so a run stopped by the pause
switch, or killed with its worker, carries on where it was. Sources are read in
chunks of CHUNK by primary key, so memory stays flat however many there are.
"""

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from articles.models import (
    Article,
    Outcome,
    ProblemKind,
    Reference,
    SourceCheck,
    SourceCheckState,
    SourceCitation,
    SourceTarget,
    TargetKind,
)
from articles.sources import problems
from articles.sources.fetch import Fetcher, Result
from articles.sources.targets import Target, targets_of

CHUNK = 200
FAILURES_FOR_PROBLEM = 2


@dataclass(frozen=True)
class RunOutcome:
    checked: int
    total: int
    finished: bool
    paused: bool
    problems: int


def state() -> SourceCheckState:
    row, _ = SourceCheckState.objects.get_or_create(pk=1)
    return row


def is_paused() -> bool:
    """Read afresh: an editor may tick the switch while a run goes on."""
    return SourceCheckState.objects.filter(pk=1, paused=True).exists()


def live_references() -> QuerySet:
    return Reference.objects.filter(
        article__in=Article.objects.published().values("pk")
    ).order_by("pk")


def planned() -> dict[Target, int]:
    """What a run would check now: each target with how many live sources cite
    it (a dry run: writes nothing)."""
    found: dict[Target, int] = {}
    for reference in live_references().iterator(chunk_size=CHUNK):
        for target in targets_of(reference):
            found[target] = found.get(target, 0) + 1
    return found


def sync_targets(*, now: datetime) -> int:
    """Record which targets live articles cite now (SourceTarget, SourceCitation
    stamped `now`), forget citations no longer made, and close the problems of
    sources no longer cited. Returns the number of targets to check."""
    batch: list[tuple[int, Target]] = []
    for reference in (
        live_references()
        .only("pk", "article_id", "url", "doi", "pmid")
        .iterator(chunk_size=CHUNK)
    ):
        batch += [(reference.article_id, t) for t in targets_of(reference)]
        if len(batch) >= CHUNK:
            save_citations(batch, now=now)
            batch = []
    if batch:
        save_citations(batch, now=now)
    SourceCitation.objects.filter(seen_at__lt=now).delete()
    problems.resolve_uncited()
    return SourceTarget.objects.filter(seen_at__gte=now).count()


def save_citations(batch: list[tuple[int, Target]], *, now: datetime) -> None:
    targets = {target for _, target in batch}
    SourceTarget.objects.bulk_create(
        [SourceTarget(kind=t.kind, value=t.value, seen_at=now) for t in targets],
        update_conflicts=True,
        unique_fields=["kind", "value"],
        update_fields=["seen_at"],
    )
    wanted = Q(pk__in=[])
    for kind in {t.kind for t in targets}:
        wanted |= Q(kind=kind, value__in=[t.value for t in targets if t.kind == kind])
    ids = {
        Target(kind, value): pk
        for pk, kind, value in SourceTarget.objects.filter(wanted).values_list(
            "pk", "kind", "value"
        )
    }
    SourceCitation.objects.bulk_create(
        [
            SourceCitation(target_id=ids[target], article_id=article_id, seen_at=now)
            for article_id, target in {(a, t) for a, t in batch}
        ],
        update_conflicts=True,
        unique_fields=["target", "article"],
        update_fields=["seen_at"],
    )


def pending(*, started: datetime, after: int) -> QuerySet:
    """Targets this run has still to check, by key from `after` on."""
    return (
        SourceTarget.objects.filter(seen_at__gte=started, pk__gt=after)
        .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=started))
        .order_by("pk")
    )


@transaction.atomic
def record(*, target_id: int, result: Result) -> int:
    """Keep one check in the history, update the target, tell the desk: one
    transaction (one commit a source, which PostgreSQL makes wait for the disk).
    Returns the number of problems raised."""
    now = timezone.now()
    SourceCheck.objects.create(
        target_id=target_id,
        checked_at=now,
        outcome=result.outcome,
        http_status=result.http_status,
        final_url=result.final_url[:2048],
        reason=result.reason[:500],
        duration_ms=result.duration_ms,
    )
    target = SourceTarget.objects.get(pk=target_id)
    was_fine = target.last_outcome == Outcome.OK
    if result.outcome == Outcome.BROKEN:
        target.consecutive_failures += 1
    elif result.outcome != Outcome.UNKNOWN:
        target.consecutive_failures = 0
    target.last_checked_at = now
    target.last_outcome = result.outcome
    target.save(
        update_fields=["consecutive_failures", "last_checked_at", "last_outcome"]
    )
    SourceCheckState.objects.filter(pk=1).update(checked=F("checked") + 1)
    if result.outcome == Outcome.OK:
        if was_fine:
            # Fine last time too: whatever was wrong was resolved then.
            return 0
        problems.resolve(
            target=target,
            kinds=[ProblemKind.FAILING, ProblemKind.MOVED, ProblemKind.UNUSABLE],
        )
        return 0
    if result.outcome == Outcome.BROKEN:
        if target.consecutive_failures < FAILURES_FOR_PROBLEM:
            return 0
        return problems.raise_problem(
            target=target,
            kind=ProblemKind.FAILING,
            reason=f"Failed {target.consecutive_failures} checks in a row: "
            f"{result.reason}",
            final_url=result.final_url,
        )
    kind = {
        Outcome.MOVED: ProblemKind.MOVED,
        Outcome.RETRACTED: ProblemKind.RETRACTED,
        Outcome.UNUSABLE: ProblemKind.UNUSABLE,
    }.get(result.outcome)
    if kind is None:
        return 0
    if kind == ProblemKind.MOVED:
        problems.resolve(target=target, kinds=[ProblemKind.FAILING])
    return problems.raise_problem(
        target=target, kind=kind, reason=result.reason, final_url=result.final_url
    )


def host_of(kind: str, value: str) -> str:
    """Who a target's check asks first: its host, or the service for an id."""
    if kind == TargetKind.URL:
        try:
            return urlsplit(value).netloc.lower()
        except ValueError:
            return ""
    return kind


def interleaved(chunk: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """One target of each host in turn: threads waiting for one host's turn
    would leave the others idle."""
    by_host: dict[str, list[tuple[int, str, str]]] = {}
    for row in chunk:
        by_host.setdefault(host_of(row[1], row[2]), []).append(row)
    return [
        row
        for round_ in zip_longest(*by_host.values())
        for row in round_
        if row is not None
    ]


def check_one(
    fetcher: Fetcher, stop: threading.Event, kind: str, value: str
) -> Result | None:
    """In a worker thread: None once the run is stopping (the source is left for
    the resumed run)."""
    if stop.is_set():
        return None
    return fetcher.check(kind, value)


def run() -> RunOutcome:
    """Check every source of every live article once (or what is left of the
    run in progress). Never called in a web request: the task check_sources
    (articles/tasks.py) runs it in the worker."""
    current = state()
    if current.paused:
        return RunOutcome(current.checked, current.total, False, True, 0)
    if not current.running:
        started = timezone.now()
        SourceCheckState.objects.filter(pk=1).update(
            run_started_at=started, run_finished_at=None, checked=0, total=0
        )
        total = sync_targets(now=started)
        SourceCheckState.objects.filter(pk=1).update(total=total)
    else:
        started = current.run_started_at
    raised = 0
    stop = threading.Event()
    fetcher = Fetcher()
    threads = max(1, settings.SOURCE_CHECK_THREADS)
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            after = 0
            while not stop.is_set():
                chunk = list(
                    pending(started=started, after=after).values_list(
                        "pk", "kind", "value"
                    )[:CHUNK]
                )
                if not chunk:
                    break
                after = chunk[-1][0]
                rows = iter(interleaved(chunk))
                # No more sources asked than threads: the workers never run
                # ahead of what is recorded, so a pause stops at the next one.
                in_flight: dict[Future, int] = {}
                while True:
                    while len(in_flight) < threads and not stop.is_set():
                        row = next(rows, None)
                        if row is None:
                            break
                        pk, kind, value = row
                        in_flight[
                            pool.submit(check_one, fetcher, stop, kind, value)
                        ] = pk
                    if not in_flight:
                        break
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        target_id = in_flight.pop(future)
                        result = future.result()
                        if result is not None:
                            raised += record(target_id=target_id, result=result)
                        if is_paused():
                            stop.set()
    finally:
        fetcher.close()
    current = state()
    if stop.is_set():
        return RunOutcome(current.checked, current.total, False, True, raised)
    SourceCheckState.objects.filter(pk=1).update(run_finished_at=timezone.now())
    return RunOutcome(current.checked, current.total, True, False, raised)
