"""Writing allocations and keeping open balances true, set-based.

Invariant: ``instalment.open_minor = amount_minor - sum(active allocations to it)`` and an
invoice's status is the one its balances call for (``arrears.store.ledger.balances``):
``open`` while an instalment is open, else ``written_off`` when an active write-off allocation is
on it, else ``paid``. Every function here changes allocations and the balances they affect
together, on the
caller's connection, in a handful of statements whatever the number of rows.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import Connection

from arrears.store import bulk
from arrears.store.ledger.balances import ConcurrentChange
from arrears.store.schema import allocation

#: Columns of the frame ``apply`` takes.
PIECES_SCHEMA = {
    "source_kind": pl.String,
    "source_id": pl.Int64,
    "instalment_id": pl.Int64,
    "debtor_id": pl.Int64,
    "currency": pl.String,
    "amount_minor": pl.Int64,
    "allocated_on": pl.Date,
}


def apply(conn: Connection, pieces: pl.DataFrame, *, references_checked: bool = False) -> int:
    """Insert allocation rows and reduce the instalments' open balances by them.

    ``references_checked``: the instalments and debtors were read and locked in this
    transaction (see ``bulk.insert_frame``)."""
    if pieces.height == 0:
        return 0
    bulk.insert_frame(
        conn,
        allocation,
        pieces.select(list(PIECES_SCHEMA)).with_columns(reversed=pl.lit(False)),
        references_checked=references_checked,
    )
    bulk.keep_statistics(conn, allocation.name, pieces.height)
    per_instalment = pieces.group_by("instalment_id").agg(pl.col("amount_minor").sum())
    _shift_open(conn, per_instalment, sign="-")
    return pieces.height


def reverse(conn: Connection, source_kind: str, source_ids: pl.Series, on: date) -> int:
    """Reverse the active allocations of these sources (dated ``on``) and restore balances."""
    if source_ids.len() == 0:
        return 0
    staged = bulk.stage(conn, "_rev_sources", pl.DataFrame({"source_id": source_ids}))
    active = bulk.read_frame(
        conn,
        f"SELECT a.id, a.instalment_id, a.amount_minor FROM allocation a "
        f'JOIN "{staged}" s ON s.source_id = a.source_id '
        f"WHERE a.source_kind = :kind AND NOT a.reversed",
        {"id": pl.Int64, "instalment_id": pl.Int64, "amount_minor": pl.Int64},
        {"kind": source_kind},
    )
    bulk.drop(conn, staged)
    if active.height == 0:
        return 0
    flags = active.select("id", reversed=pl.lit(True), reversed_on=pl.lit(on, dtype=pl.Date))
    bulk.update_from_frame(conn, allocation, flags)
    per_instalment = active.group_by("instalment_id").agg(pl.col("amount_minor").sum())
    _shift_open(conn, per_instalment, sign="+")
    return active.height


def _shift_open(conn: Connection, per_instalment: pl.DataFrame, *, sign: str) -> None:
    """Move open balances by the staged amounts; only invoices whose status changes are
    rewritten (paid when the last open instalment reaches zero, open again after a reversal).

    The update is guarded (the balance stays within ``[0, amount_minor]``): balances read
    before another transaction spent them (PostgreSQL: a concurrent import or payment on the
    same instalments, committed while this one waited for their rows) are a
    ``ConcurrentChange``, not a broken constraint."""
    staged = bulk.stage(conn, "_open_shift", per_instalment)
    _shift_staged(conn, staged, per_instalment.height, sign=sign)
    bulk.drop(conn, staged)


def _shift_staged(conn: Connection, staged: str, expected: int, *, sign: str) -> None:
    guard = (
        "instalment.open_minor >= s.amount_minor"
        if sign == "-"
        else "instalment.open_minor + s.amount_minor <= instalment.amount_minor"
    )
    with bulk.keyed_joins(conn):  # the staged rows, each instalment by its primary key
        moved = conn.exec_driver_sql(
            f"UPDATE instalment SET open_minor = open_minor {sign} s.amount_minor "
            f'FROM "{staged}" s WHERE instalment.id = s.instalment_id AND {guard}'
        ).rowcount
    if moved != expected:
        raise ConcurrentChange(
            f"the open balance of {expected - moved} instalment(s) changed "
            "meanwhile (another import, or a person, wrote to the same debtors at the same "
            "time): nothing of this import was kept; import the file again"
        )
    touched = f'SELECT i.invoice_id FROM instalment i JOIN "{staged}" s ON s.instalment_id = i.id'
    if sign == "-":
        conn.exec_driver_sql(
            f"UPDATE invoice SET status = {_CLOSED_STATUS} WHERE status = 'open' "
            f"AND id IN ({touched} WHERE i.open_minor = 0) AND NOT EXISTS (SELECT 1 FROM "
            "instalment j WHERE j.invoice_id = invoice.id AND j.open_minor > 0)"
        )
    else:  # a touched instalment is open again, so is its invoice (paid or written off)
        conn.exec_driver_sql(
            f"UPDATE invoice SET status = 'open' WHERE status <> 'open' AND id IN ({touched})"
        )


#: The status of an invoice none of whose instalments is open (SQL, on ``invoice``).
_CLOSED_STATUS = (
    "CASE WHEN EXISTS (SELECT 1 FROM allocation w JOIN instalment k ON k.id = w.instalment_id "
    "WHERE k.invoice_id = invoice.id AND w.source_kind = 'write_off' AND NOT w.reversed) "
    "THEN 'written_off' ELSE 'paid' END"
)
_STATUS = (
    "CASE WHEN EXISTS (SELECT 1 FROM instalment i WHERE i.invoice_id = invoice.id "
    f"AND i.open_minor > 0) THEN 'open' ELSE {_CLOSED_STATUS} END"
)


def refresh_status(conn: Connection, invoice_ids: pl.Series) -> None:
    """Write the status these invoices' balances call for (a written-off invoice whose amount
    was raised is open again; one whose balance is closed again is ``written_off`` again)."""
    if invoice_ids.len() == 0:
        return
    staged = bulk.stage(conn, "_status_inv", pl.DataFrame({"invoice_id": invoice_ids}))
    conn.exec_driver_sql(
        f"UPDATE invoice SET status = {_STATUS} WHERE status <> {_STATUS} "
        f'AND id IN (SELECT invoice_id FROM "{staged}")'
    )
    bulk.drop(conn, staged)


def allocated_per_instalment(conn: Connection, invoice_ids: pl.Series) -> pl.DataFrame:
    """Active allocations per instalment of these invoices: ``instalment_id``, ``invoice_id``,
    ``seq``, ``allocated_minor``."""
    staged = bulk.stage(conn, "_alloc_inv", pl.DataFrame({"invoice_id": invoice_ids}))
    frame = bulk.read_frame(
        conn,
        "SELECT i.id, i.invoice_id, i.seq, COALESCE(SUM(a.amount_minor), 0) FROM instalment i "
        f'JOIN "{staged}" s ON s.invoice_id = i.invoice_id '
        "LEFT JOIN allocation a ON a.instalment_id = i.id AND NOT a.reversed "
        "GROUP BY i.id, i.invoice_id, i.seq",
        {
            "instalment_id": pl.Int64,
            "invoice_id": pl.Int64,
            "seq": pl.Int64,
            "allocated_minor": pl.Int64,
        },
    )
    bulk.drop(conn, staged)
    return frame
