"""The importer reads the next batch while the current one loads: order, errors, one ahead."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.read_ahead import ReadAhead


def test_batches_come_out_in_order_and_at_most_one_ahead() -> None:
    read: list[int] = []
    lock = threading.Lock()

    def batches() -> Iterator[int]:
        for n in range(5):
            with lock:
                read.append(n)
            yield n

    taken = []
    with ReadAhead(batches()) as ahead:
        for batch in ahead:
            with lock:
                assert max(read) <= batch + 1  # the reader is never two batches ahead
            taken.append(batch)
    assert taken == [0, 1, 2, 3, 4]


def test_a_file_problem_is_raised_where_the_batch_would_come() -> None:
    def batches() -> Iterator[int]:
        yield 1
        raise ProblemsFound([Problem("f.csv", None, None, "no header")])

    taken = []
    with pytest.raises(ProblemsFound) as found, ReadAhead(batches()) as ahead:
        for batch in ahead:
            taken.append(batch)
    assert taken == [1]
    assert found.value.problems[0].message == "no header"


def test_a_consumer_that_stops_early_stops_the_reader() -> None:
    closed = threading.Event()

    def batches() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            closed.set()

    with pytest.raises(RuntimeError), ReadAhead(batches()) as ahead:
        for _ in ahead:
            raise RuntimeError("load failed")
    assert closed.is_set()
