"""Bounds on totals of money, so that no sum of stored amounts wraps a 64-bit integer.

Amounts are stored as 64-bit integer minor units and summed as such, in SQL and in Polars
(aging, the snapshot, scores): Polars' ``sum`` of an ``Int64`` column wraps silently past
9,223,372,036,854,775,807. One amount is bounded by the reader (15 digits before the
decimals), but ten thousand of them are not: the invoices of one debtor could add up to a
negative balance.

So the invoices of one portfolio in one currency may total at most ``MAX_TOTAL_MINOR`` minor
units (10^17: 1,000,000,000,000,000.00 USD, ninety times below the wrap), and so may its
payments, and its credit notes; a debtor's total is part of its portfolio's. An import that
would take a total above it is refused at the first record that crosses it and every later
one of that portfolio and currency (a problem each, at its ``amount``), counting what the store
already holds; ``arrears ledger check`` reports a total above it (a store filled before the
bound existed).

Totals are read exactly on both databases: the sum of ``amount_minor / 10^9`` and the sum of
``amount_minor % 10^9`` each fit a 64-bit integer whatever the number of rows (SQLite's ``SUM``
fails on an overflow, PostgreSQL's returns a numeric).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
from sqlalchemy import Connection, text

from arrears.domain.money import from_minor
from arrears.domain.problems import Problem, ProblemsFound
from arrears.store.loading import lookups

#: The most the amounts of one table (invoices, payments, credit notes) may total in one
#: portfolio and currency, in minor units.
MAX_TOTAL_MINOR = 10**17
_SPLIT = 10**9


def totals_sql(table: str, where: str = "") -> str:
    """``portfolio_id, currency, high, low`` of ``table``: its total per portfolio and currency
    is ``high * 10^9 + low`` (see the module docstring)."""
    return (
        f"SELECT portfolio_id, currency, SUM(amount_minor / {_SPLIT}), "
        f"SUM(amount_minor % {_SPLIT}) FROM {table} {where} GROUP BY portfolio_id, currency"
    )


def read_stored(
    conn: Connection,
    known: dict[tuple[str, int], dict[str, int]],
    table: str,
    portfolios: Iterable[int],
    *,
    empty: Iterable[int] = (),
) -> None:
    """Add to ``known`` the stored totals per currency of the ``portfolios`` it lacks, keyed by
    (``table``, portfolio id); ``empty`` portfolios are known to hold none (no query)."""
    empty = set(empty)
    wanted = sorted({int(p) for p in portfolios if (table, int(p)) not in known})
    for pid in wanted:
        known[(table, pid)] = {}
    queried = [pid for pid in wanted if pid not in empty]
    if not queried:
        return
    ids = ", ".join(str(pid) for pid in queried)
    for pid, currency, high, low in conn.execute(
        text(totals_sql(table, f"WHERE portfolio_id IN ({ids})"))
    ):
        known[(table, int(pid))][str(currency)] = int(high) * _SPLIT + int(low)


def within_bound(
    known: dict[tuple[str, int], dict[str, int]],
    table: str,
    heads: pl.DataFrame,
    what: str,
    id_column: str,
) -> tuple[pl.DataFrame, list[Problem]]:
    """The ``heads`` to write (records, taken in the order of their first ``row`` in the file:
    ``portfolio_id``, ``currency``, ``amount_minor``, ``old_amount`` and ``old_currency``
    (null for a new one), ``source``, ``row``, ``id_column``), without those that take their
    portfolio's total in their currency above ``MAX_TOTAL_MINOR``, and a problem for each of
    those. ``known`` holds the totals before (``read_stored``) and is moved on by what is
    written."""
    if heads.height == 0:
        return heads, []
    pairs = ["portfolio_id", "currency"]
    before = pl.DataFrame(
        [
            (pid, currency, total)
            for (name, pid), by_currency in known.items()
            if name == table
            for currency, total in by_currency.items()
        ],
        schema={"portfolio_id": pl.Int64, "currency": pl.String, "_before": pl.Int128},
        orient="row",
    )
    same = pl.col("old_currency") == pl.col("currency")
    delta = pl.col("amount_minor") - pl.when(same).then(pl.col("old_amount")).otherwise(0)
    deltas = heads.select(*pairs, delta.fill_null(pl.col("amount_minor")).alias("_delta"))
    # sums in 128 bits: a batch of large amounts may go far past Int64
    wide = pl.col("_delta").cast(pl.Int128)
    added = (
        deltas.group_by(pairs)
        .agg(wide.sum().alias("_added"), wide.clip(lower_bound=0).sum().alias("_up"))
        .join(before, on=pairs, how="left")
        .with_columns(pl.col("_before").fill_null(0))
    )
    if added.filter(pl.col("_before") + pl.col("_up") > MAX_TOTAL_MINOR).height == 0:
        _move(known, table, added)  # the usual case: every total stays far below the bound
        return heads, []
    running = pl.col("_delta").cast(pl.Int128).cum_sum().over(pairs)
    frame = (
        heads.with_columns(deltas.get_column("_delta"))
        .join(before, on=pairs, how="left")
        .sort("row", nulls_last=True)
        .with_columns((pl.col("_before").fill_null(0) + running).alias("_total"))
    )
    over = pl.col("_total") > MAX_TOTAL_MINOR
    refused = frame.filter(over)
    kept = frame.filter(~over)
    _move(known, table, kept.group_by(pairs).agg(wide.sum().alias("_added")))
    bound = {c: bound_text(c) for c in refused.get_column("currency").unique().to_list()}
    problems = lookups.problems_at(
        refused.with_columns(pl.col("currency").replace_strict(bound).alias("_bound")),
        "amount",
        pl.format(
            what + " '{}' takes the total of its portfolio in {} above {}, the most arrears "
            "keeps (larger sums would overflow): check the amounts (a misplaced decimal "
            "separator?) or split the portfolio",
            id_column,
            "currency",
            "_bound",
        ),
    )
    return kept.select(heads.columns), problems


def _move(known: dict[tuple[str, int], dict[str, int]], table: str, added: pl.DataFrame) -> None:
    """Add ``_added`` per ``portfolio_id`` and ``currency`` to the ``known`` totals."""
    for pid, currency, amount in added.select("portfolio_id", "currency", "_added").rows():
        by_currency = known.setdefault((table, int(pid)), {})
        by_currency[currency] = by_currency.get(currency, 0) + int(amount)


def bound_text(currency: str) -> str:
    """``MAX_TOTAL_MINOR`` in ``currency``, e.g. ``1,000,000,000,000,000.00 USD``."""
    return f"{from_minor(MAX_TOTAL_MINOR, currency):,} {currency}"


def check_posting(
    conn: Connection, table: str, pid: int, currency: str, amount_minor: int, source: str
) -> None:
    """One new document of a ledger use case (``arrears payment add``...): a problem when it
    takes its portfolio's total of ``table`` in ``currency`` above ``MAX_TOTAL_MINOR``."""
    known: dict[tuple[str, int], dict[str, int]] = {}
    if amount_minor <= MAX_TOTAL_MINOR:
        read_stored(conn, known, table, [pid])
        total = known[(table, pid)].get(currency, 0) + amount_minor
        if total <= MAX_TOTAL_MINOR:
            return
    raise ProblemsFound(
        [
            Problem(
                source,
                None,
                None,
                f"takes the total of its portfolio's {table.replace('_', ' ')}s in {currency} "
                f"above {bound_text(currency)}, the most arrears keeps (larger sums would "
                "overflow): check the amount",
            )
        ]
    )
