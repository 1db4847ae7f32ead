"""Reading ahead in threads: order kept, errors where they belong, bounded memory."""

from __future__ import annotations

import threading
import time

import pytest

from seedlens.errors import ConfigError, ReadError
from seedlens.io.prefetch import read_ahead


def test_results_come_in_order_whatever_finishes_first():
    def slow_then_fast(i: int) -> int:
        time.sleep(0.05 if i % 2 == 0 else 0.0)
        return i * i

    assert [r for _, r in read_ahead(range(9), slow_then_fast, workers=3)] == [i * i for i in range(9)]
    assert list(read_ahead([], slow_then_fast, workers=2)) == []


def test_reads_overlap_the_callers_work():
    def read(i: int) -> int:
        time.sleep(0.1)
        return i

    started = time.perf_counter()
    for _ in read_ahead(range(6), read, workers=2):
        time.sleep(0.1)  # the caller's computation
    overlapped = time.perf_counter() - started
    started = time.perf_counter()
    for _ in read_ahead(range(6), read, workers=0):
        time.sleep(0.1)
    serial = time.perf_counter() - started
    assert overlapped < 0.8 * serial, (overlapped, serial)


def test_a_failed_read_raises_at_its_turn_after_the_results_before_it():
    def read(i: int) -> int:
        if i == 3:
            raise ReadError(f"file{i}.png", "truncated")
        return i

    seen = []
    with pytest.raises(ReadError, match=r"file3\.png"):
        for item, _ in read_ahead(range(8), read, workers=2):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_no_more_than_workers_plus_one_results_are_held():
    alive, peak, lock = [0], [0], threading.Lock()

    class Held:
        def __init__(self) -> None:
            with lock:
                alive[0] += 1
                peak[0] = max(peak[0], alive[0])

        def release(self) -> None:
            with lock:
                alive[0] -= 1

    for _, held in read_ahead(range(20), lambda i: Held(), workers=2):
        time.sleep(0.005)
        held.release()
    assert peak[0] <= 3


def test_negative_workers_are_refused():
    with pytest.raises(ConfigError, match="workers must be >= 0"):
        list(read_ahead(range(3), lambda i: i, workers=-1))
