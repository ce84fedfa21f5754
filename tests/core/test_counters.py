"""Counts held in the process and written together (core/counters.py): when they
are written, what a refused write keeps, and forgetting them."""

import time
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from core import counters
from core.counters import HELD_WHILE_REFUSED, BufferedCounts, LocalDay


class Writer:
    """Records each write; refuses them while `refusing`."""

    def __init__(self) -> None:
        self.writes: list[Counter] = []
        self.refusing = False

    def __call__(self, counts: Counter) -> None:
        if self.refusing:
            raise DatabaseError("the database is down")
        self.writes.append(Counter(counts))


def buffer(writer: Writer, *, seconds: float = 3600, max_keys: int = 100):
    return BufferedCounts(
        name="Test counts",
        write=writer,
        seconds=lambda: seconds,
        max_keys=lambda: max_keys,
    )


def test_counts_wait_until_the_interval_is_over_then_are_written_together():
    writer = Writer()
    counts = buffer(writer, seconds=0.2)
    counts.add("a")
    counts.add("b")
    counts.add("a")
    assert writer.writes == []
    time.sleep(0.25)
    counts.add("b")
    assert writer.writes == [Counter({"a": 2, "b": 2})]
    assert counts.flush() == 0


def test_counts_are_written_once_max_keys_wait_whatever_the_time():
    writer = Writer()
    counts = buffer(writer, max_keys=3)
    for key in ("a", "b", "a", "a"):
        counts.add(key)
    assert writer.writes == []
    counts.add("c")
    assert writer.writes == [Counter({"a": 3, "b": 1, "c": 1})]


def test_no_interval_writes_each_count_at_once():
    writer = Writer()
    counts = buffer(writer, seconds=0)
    counts.add("a")
    counts.add("a")
    assert writer.writes == [Counter({"a": 1}), Counter({"a": 1})]


def test_a_flush_writes_what_is_held_and_says_how_many():
    writer = Writer()
    counts = buffer(writer)
    for key in ("a", "b", "a"):
        counts.add(key)
    assert counts.flush() == 3
    assert writer.writes == [Counter({"a": 2, "b": 1})]
    assert counts.flush() == 0
    assert len(writer.writes) == 1


def test_a_refused_write_keeps_the_counts_for_the_next_try(caplog):
    writer = Writer()
    counts = buffer(writer)
    counts.add("a")
    writer.refusing = True
    assert counts.flush() == 0
    assert "Test counts could not be written yet." in caplog.text
    counts.add("a")
    writer.refusing = False
    assert counts.flush() == 2
    assert writer.writes == [Counter({"a": 2})]


@pytest.mark.django_db
def test_a_refused_write_inside_a_transaction_is_raised_and_kept():
    writer = Writer()
    counts = buffer(writer)
    counts.add("a")
    writer.refusing = True
    with pytest.raises(DatabaseError), transaction.atomic():
        counts.flush()
    writer.refusing = False
    assert counts.flush() == 1


def test_while_writes_are_refused_new_keys_stop_being_held_known_ones_add_up():
    writer = Writer()
    writer.refusing = True
    counts = buffer(writer, max_keys=2)
    for n in range(2 * HELD_WHILE_REFUSED + 5):
        counts.add(f"key {n}")
    counts.add("key 0")
    writer.refusing = False
    assert counts.flush() == 2 * HELD_WHILE_REFUSED + 1
    (written,) = writer.writes
    assert len(written) == 2 * HELD_WHILE_REFUSED
    assert written["key 0"] == 2


def test_discarded_counts_are_never_written():
    writer = Writer()
    counts = buffer(writer)
    counts.add("a")
    counts.discard()
    assert counts.flush() == 0
    counts._flush_at_exit()
    assert writer.writes == []


def test_what_is_held_is_written_at_exit_and_a_failure_then_is_silent():
    writer = Writer()
    counts = buffer(writer)
    counts.add("a")
    writer.refusing = True
    counts._flush_at_exit()
    writer.refusing = False
    counts._flush_at_exit()
    assert writer.writes == [Counter({"a": 1})]


def test_the_local_day_is_worked_out_again_only_at_local_midnight(
    settings, monkeypatch
):
    settings.TIME_ZONE = "Europe/Amsterdam"
    late = timezone.make_aware(datetime(2026, 3, 1, 23, 59))
    clock = {"now": late}
    monkeypatch.setattr(counters.timezone, "localtime", lambda: clock["now"])
    monkeypatch.setattr(counters.time, "time", lambda: clock["now"].timestamp())
    today = LocalDay()
    assert today() == date(2026, 3, 1)
    # Asked again before midnight, it does not ask the time zone again.
    clock["now"] = late + timedelta(seconds=59)
    monkeypatch.setattr(counters.timezone, "localtime", None)
    assert today() == date(2026, 3, 1)
    monkeypatch.setattr(counters.timezone, "localtime", lambda: clock["now"])
    clock["now"] = late + timedelta(seconds=60)
    assert today() == date(2026, 3, 2)
