"""Remembering the first row of every id across batches: the same answer as a plain dict, also
when hashes collide."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.io import seen
from arrears.io.seen import FirstRows, RunningTotals

keys_strategy = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", None]), max_size=40)


def reference(batches: list[list[str | None]]) -> list[int | None]:
    first: dict[str, int] = {}
    answer: list[int | None] = []
    row = 2
    for batch in batches:
        for k in batch:
            if k is not None:
                first.setdefault(k, row)
            answer.append(None if k is None else first[k])
            row += 1
    return answer


def run(batches: list[list[str | None]]) -> list[int | None]:
    memory = FirstRows(extras=("x",))
    got: list[int | None] = []
    row = 2
    for batch in batches:
        rows = list(range(row, row + len(batch)))
        frame = pl.DataFrame(
            {"key": batch, "row": rows, "x": [str(r) for r in rows]},
            schema={"key": pl.String, "row": pl.Int64, "x": pl.String},
        )
        result = memory.first(frame)
        assert result.height == len(batch)
        assert (
            result.filter(pl.col("first_row").is_not_null())
            .select((pl.col("first_x") == pl.col("first_row").cast(pl.String)).all())
            .item()
        )
        got += result["first_row"].to_list()
        row += len(batch)
    assert len(memory) == len({k for b in batches for k in b if k is not None})
    return got


@settings(max_examples=100, deadline=None)
@given(st.lists(keys_strategy, max_size=6))
def test_first_rows_match_a_dict(batches: list[list[str | None]]) -> None:
    assert run(batches) == reference(batches)


@settings(max_examples=50, deadline=None)
@given(st.lists(keys_strategy, max_size=6))
def test_first_rows_survive_first_hash_collisions(batches: list[list[str | None]]) -> None:
    original = seen.hash_keys

    def colliding(keys: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        _, h2 = original(keys)
        return np.zeros(len(keys), dtype=np.uint64), h2

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seen, "hash_keys", colliding)
        assert run(batches) == reference(batches)


def test_running_totals_carry_over_batches() -> None:
    totals = RunningTotals()
    first = pl.DataFrame({"position": [0, 1, 0], "amount": [5, 7, None]})
    second = pl.DataFrame({"position": [1, None, 0, 2], "amount": [3, 9, 1, 4]})
    assert totals.cumulative(first).to_list() == [5, 7, 5]
    assert totals.cumulative(second).to_list() == [10, None, 6, 4]
