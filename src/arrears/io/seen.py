"""What a file has shown so far: the first row of every key, and running totals per key.

A 5-million-row file is read in batches, and each batch must be checked against every key of the
batches before it without the cost or the memory growing with the key's text. A key is therefore
remembered by two independent 64-bit hashes (a false match needs both to collide: about one
chance in 10^26 for a file of that size) in NumPy arrays: ``h1`` sorted, for a binary search, and
per *position* (the key's number in order of first appearance) ``h2``, its first row and a few
small values of that row. A batch costs one search per distinct key and a gather per key seen
before; memory is about 40 bytes per distinct key plus the extras.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_SEED_1, _SEED_2 = 0x5EED, 0xA11CE
_EMPTY_U64 = np.empty(0, dtype=np.uint64)
_EMPTY_I64 = np.empty(0, dtype=np.int64)


def hash_keys(keys: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of text keys (stable within a process)."""
    return keys.hash(seed=_SEED_1).to_numpy(), keys.hash(seed=_SEED_2).to_numpy()


class FirstRows:
    """The first row of each key seen so far in a file, with small values (``extras``) of it."""

    def __init__(self, extras: tuple[str, ...] = ()) -> None:
        self._extras_names = extras
        self._h1 = _EMPTY_U64  # sorted
        self._h1_position = _EMPTY_I64  # position of each entry of _h1
        self._h2 = _EMPTY_U64  # by position
        self._first_row = _EMPTY_I64  # by position
        self._extras: pl.DataFrame | None = None  # by position

    def __len__(self) -> int:
        return len(self._h2)

    def first(self, keys: pl.DataFrame) -> pl.DataFrame:
        """``keys`` (``key``, ``row``, extras) with ``first_row``, ``first_<extra>`` and
        ``position`` added (null where the key is null)."""
        h1, h2 = hash_keys(keys.get_column("key"))
        hashed = keys.with_columns(
            pl.Series("__h1", h1, dtype=pl.UInt64), pl.Series("__h2", h2, dtype=pl.UInt64)
        )
        firsts = (
            hashed.filter(pl.col("key").is_not_null())
            .group_by("__h1", "__h2", maintain_order=True)
            .first()
        )
        positions = self._positions(firsts)
        new = positions < 0
        positions[new] = self._add(firsts.filter(pl.Series(new)))
        lookup = firsts.select("__h1", "__h2").with_columns(
            pl.Series("first_row", self._first_row[positions], dtype=pl.Int64),
            pl.Series("position", positions, dtype=pl.Int64),
        )
        if self._extras is not None:
            gathered = self._extras[positions].select(pl.all().name.prefix("first_"))
            lookup = lookup.hstack(gathered)
        joined = hashed.join(lookup, on=["__h1", "__h2"], how="left", maintain_order="left")
        return joined.with_columns(
            pl.when(pl.col("key").is_not_null()).then(pl.col(c)).alias(c)
            for c in lookup.columns[2:]
        ).drop("__h1", "__h2")

    def _positions(self, firsts: pl.DataFrame) -> np.ndarray:
        """The position of each key of ``firsts`` seen before, -1 for the others."""
        h1 = firsts.get_column("__h1").to_numpy()
        h2 = firsts.get_column("__h2").to_numpy()
        positions = np.full(len(h1), -1, dtype=np.int64)
        if not len(self._h1) or not len(h1):
            return positions
        at = _search(self._h1, h1)
        for step in range(len(self._h1)):  # more than one step only when h1 collides
            inside = at + step < len(self._h1)
            candidate = np.where(inside, at + step, 0)
            same_h1 = inside & (self._h1[candidate] == h1)
            if not same_h1.any():
                break
            position = self._h1_position[candidate]
            match = same_h1 & (positions < 0) & (self._h2[position] == h2)
            positions[match] = position[match]
            if not (same_h1 & (positions < 0)).any():
                break
        return positions

    def _add(self, new: pl.DataFrame) -> np.ndarray:
        start = len(self._h2)
        positions = np.arange(start, start + new.height, dtype=np.int64)
        h1 = new.get_column("__h1").to_numpy()
        order = np.argsort(h1, kind="stable")
        at = np.searchsorted(self._h1, h1[order])
        self._h1 = np.insert(self._h1, at, h1[order])
        self._h1_position = np.insert(self._h1_position, at, positions[order])
        self._h2 = np.concatenate([self._h2, new.get_column("__h2").to_numpy()])
        self._first_row = np.concatenate([self._first_row, new.get_column("row").to_numpy()])
        if self._extras_names:
            extras = new.select(self._extras_names)
            self._extras = extras if self._extras is None else self._extras.vstack(extras)
            if self._extras.n_chunks() > 32:
                self._extras = self._extras.rechunk()
        return positions


def _search(sorted_hashes: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """``np.searchsorted`` of unsorted probes, made in sorted order (cache-friendly)."""
    order = np.argsort(hashes)
    at = np.empty(len(hashes), dtype=np.int64)
    at[order] = np.searchsorted(sorted_hashes, hashes[order])
    return at


class RunningTotals:
    """Running sum of an amount per key position (from :class:`FirstRows`) across batches."""

    def __init__(self) -> None:
        self._totals = np.zeros(0, dtype=np.int64)

    def cumulative(self, frame: pl.DataFrame) -> pl.Series:
        """Per row of ``frame`` (``position``, ``amount``): the total of its position up to and
        including that row (null where the position is null)."""
        positions = frame.get_column("position")
        size = int(positions.max() or 0) + 1  # type: ignore[arg-type]
        if size > len(self._totals):
            grown = max(size, 2 * len(self._totals))
            self._totals = np.concatenate(
                [self._totals, np.zeros(grown - len(self._totals), np.int64)]
            )
        before = pl.Series(self._totals).gather(positions.fill_null(0))
        amount = pl.col("amount").fill_null(0)
        running = frame.with_columns(before=before).select(
            pl.when(pl.col("position").is_not_null()).then(
                pl.col("before") + amount.cum_sum().over("position")
            )
        )
        known = frame.filter(pl.col("position").is_not_null())
        np.add.at(
            self._totals,
            known.get_column("position").to_numpy(),
            known.get_column("amount").fill_null(0).to_numpy(),
        )
        return running.to_series()
