"""The sending rate shared by all workers (newsletter/delivery/pacing.py)."""

import itertools
import threading
import time

import pytest
from django.db import connection

from newsletter.delivery import pacing
from newsletter.models import SendPace


@pytest.mark.django_db(transaction=True)
def test_slots_taken_by_two_workers_at_once_are_never_closer_than_the_rate_allows():
    # Each thread has its own database connection and no state in common with the
    # other but the database, as two worker processes (or machines) would.
    interval, each = 0.05, 40
    taken: list[list[float]] = [[], []]
    start = threading.Barrier(2)

    def worker(slots: list[float]) -> None:
        try:
            start.wait()
            for _ in range(each):
                slots.append(pacing.take_slot(interval=interval).at)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(s,)) for s in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(len(slots) == each for slots in taken)
    moments = sorted(taken[0] + taken[1])
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert min(gaps) >= interval - 1e-6
    # So no second, wherever it starts, holds more than 1/interval of them.
    assert max_in_window(moments, 1.0) <= round(1 / interval) + 1


@pytest.mark.django_db
def test_the_first_slot_is_now_and_the_next_one_an_interval_later():
    first = pacing.take_slot(interval=0.5)
    second = pacing.take_slot(interval=0.5)
    assert abs(first.wait) < 0.05
    assert second.at - first.at == pytest.approx(0.5, abs=1e-6)
    assert 0.4 < second.wait <= 0.5


@pytest.mark.django_db
def test_a_clock_stepped_back_holds_sending_back_a_minute_at_most():
    first = pacing.take_slot(interval=0.1)
    SendPace.objects.filter(name=pacing.NAME).update(next_at=first.at + 3600)
    slot = pacing.take_slot(interval=0.1)
    assert slot.wait <= pacing.MAX_AHEAD_SECONDS + 0.1


@pytest.mark.django_db
def test_without_a_rate_nobody_waits_and_the_database_is_not_asked(
    django_assert_num_queries,
):
    with django_assert_num_queries(0):
        pacing.wait_for_slot(rate=0)
    assert not SendPace.objects.exists()


@pytest.mark.django_db
def test_a_worker_waits_for_its_slot(monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    pacing.wait_for_slot(rate=2)
    pacing.wait_for_slot(rate=2)
    # The first goes at once; the second waits its turn, half a second on.
    waits = [seconds for seconds in slept if seconds > 0.001]
    assert len(waits) == 1 and 0.4 < waits[0] <= 0.5


def max_in_window(moments: list[float], width: float) -> int:
    """The most of the sorted `moments` that fall within any `width` (closed)."""
    most, first = 0, 0
    for last, moment in enumerate(moments):
        while moment - moments[first] > width:
            first += 1
        most = max(most, last - first + 1)
    return most
