"""Loading payments and credit notes, and applying them to open instalments.

A document (payment or credit note) may span several rows of the file: one per explicit
allocation; a frame brings all the rows of each of its documents (``arrears.io.whole_records``
holds back a document's rows until its last one is read). For each batch: resolve portfolio,
debtor and named invoices; hash each document; skip unchanged ones; for new and changed ones,
compute the allocations columnar (explicit first, checked, see ``explicit_allocation``; the rest
by the workspace's rule, see ``payment_allocation``); then write everything set-based:
documents, allocation rows, open balances, invoice status and the unallocated remainder (the
debtor's credit).

A changed document that was already applied has its allocations reversed (dated the import's
day) and is applied again from scratch, as if new; its ``<kind>.updated`` activity lists the
changed fields. A credit note that names an invoice is applied to that invoice only; the rest
stays unallocated.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Connection, exists, select

from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.domain.problems import Problem
from arrears.store import bulk, totals
from arrears.store.ledger.payment_allocation import by_rule, remaining_open
from arrears.store.loading import document_writes, lookups, records
from arrears.store.loading.context import LoadContext, LoadResult
from arrears.store.loading.document_spec import SPECS, DocumentSpec
from arrears.store.loading.explicit_allocation import explicit
from arrears.store.schema import debtor, invoice

__all__ = ["SPECS", "load"]

KEY = ["portfolio_id", "external_id"]


def _prepare(
    conn: Connection, rows: pl.DataFrame, ctx: LoadContext, spec: DocumentSpec
) -> tuple[pl.DataFrame, list[Problem]]:
    rows, problems = lookups.with_portfolio_ids(conn, rows, ctx.portfolio)
    rows, unknown = lookups.with_debtor_ids(conn, rows, debtor)
    if spec.kind is Kind.CREDIT_NOTES:
        rows = rows.with_columns(
            pl.lit(None, pl.Int64).alias("instalment"),
            pl.lit(None, pl.Int64).alias("allocated_amount_minor"),
        )
    rows = rows.with_columns(
        pl.col(spec.id_field).alias("external_id"),
        pl.col("currency").fill_null(pl.col("debtor_currency")),
    )
    shared = ("debtor_id", "date", "amount_minor", "currency")
    counts = rows.group_by(KEY).agg(*(pl.col(n).n_unique() for n in shared))
    bad_keys = counts.filter(pl.any_horizontal(*(pl.col(n) > 1 for n in shared))).select(KEY)
    problems += lookups.problems_at(
        rows.join(bad_keys, on=KEY),
        spec.id_field,
        pl.format(
            "the rows of '{}' disagree on its debtor, date, amount or currency", "external_id"
        ),
    )
    return rows.join(bad_keys, on=KEY, how="anti"), problems + unknown


def load(conn: Connection, rows: pl.DataFrame, ctx: LoadContext, spec: DocumentSpec) -> LoadResult:
    rows, problems = _prepare(conn, rows, ctx, spec)
    fields = [
        c
        for c in rows.columns
        if c not in {"source", "row", "portfolio", "debtor_pk", "debtor_currency", "external_id"}
    ]
    hashes = records.group_hashes(
        rows, KEY, fields, ["invoice_id", "instalment", "allocated_amount_minor"]
    )
    existing = lookups.lookup(
        conn, spec.table, _maybe_stored(conn, rows, ctx, spec).select(KEY), _STORED[spec.kind]
    )
    heads = (
        rows.group_by(KEY, maintain_order=True)
        .agg(pl.all().exclude(KEY).first())
        .join(hashes, on=KEY)
        .join(
            existing.rename(
                {n: "old_hash" if n == "row_hash" else f"{n}_stored" for n in _STORED_ONLY},
                strict=False,
            ),
            on=KEY,
            how="left",
        )
    )
    todo = heads.filter(pl.col("id").is_null() | (pl.col("row_hash") != pl.col("old_hash")))
    unchanged = heads.height - todo.height
    todo, too_large = _within_bound(conn, todo, ctx, spec)
    new = todo.filter(pl.col("id").is_null()).drop(_STORED_NAMES, strict=False)
    new = new.with_columns(bulk.reserve_ids(conn, spec.table, new.height))
    changed, kept, refused = _reversed(todo.filter(pl.col("id").is_not_null()), rows, spec)
    todo = pl.concat(
        [new.with_columns(changed=pl.lit(False)), changed.with_columns(changed=pl.lit(True))]
    )
    if spec.kind is Kind.CREDIT_NOTES:  # the invoice a credit note is written against
        todo = _with_invoice_pk(conn, todo)
    named, named_problems = _named_invoices(conn, rows, todo)
    open_lines = _open_instalments(conn, todo, named, _rule_debtors(todo, rows, spec), spec)
    pieces, bad, alloc_problems = _allocate(todo, named, open_lines, ctx, spec)
    alloc_problems = named_problems + alloc_problems
    accepted = todo.filter(~pl.col("id").is_in(bad))
    if kept.height:  # updated, never applied: their allocations stay reversed
        accepted = pl.concat(
            [
                accepted.with_columns(stays_reversed=pl.lit(False)),
                (
                    _with_invoice_pk(conn, kept) if spec.kind is Kind.CREDIT_NOTES else kept
                ).with_columns(changed=pl.lit(True), stays_reversed=pl.lit(True)),
            ],
            how="diagonal_relaxed",
        )
    document_writes.write(conn, accepted, pieces, ctx, spec)
    created = accepted.filter(~pl.col("changed")).height
    return LoadResult(
        created=created,
        updated=accepted.height - created,
        unchanged=unchanged,
        problems=problems + too_large + refused + alloc_problems,
    )


def _maybe_stored(
    conn: Connection, rows: pl.DataFrame, ctx: LoadContext, spec: DocumentSpec
) -> pl.DataFrame:
    """The rows of portfolios that held documents of this kind when this file's first rows of
    them were loaded: only those can name a stored document (a first load looks up nothing)."""
    known = ctx.documents_before
    table = spec.table
    for pid in rows.get_column("portfolio_id").unique().to_list():
        if (table.name, pid) not in known:
            query = select(exists().where(table.c.portfolio_id == pid))
            known[(table.name, pid)] = bool(conn.execute(query).scalar())
    had = [pid for (name, pid), was in known.items() if was and name == table.name]
    return rows.filter(pl.col("portfolio_id").is_in(had))


def _within_bound(
    conn: Connection, todo: pl.DataFrame, ctx: LoadContext, spec: DocumentSpec
) -> tuple[pl.DataFrame, list[Problem]]:
    """The new and changed documents that keep their portfolio's total in their currency
    within ``totals.MAX_TOTAL_MINOR``, and a problem for each of the others."""
    table = spec.table.name
    totals.read_stored(conn, ctx.totals, table, todo.get_column("portfolio_id").unique())
    kept, problems = totals.within_bound(
        ctx.totals,
        table,
        todo.with_columns(
            pl.col("amount_minor_stored").alias("old_amount"),
            pl.col("currency_stored").alias("old_currency"),
        ),
        spec.subject.replace("_", " "),
        "external_id",
    )
    return kept.drop("old_amount", "old_currency"), problems


#: What is read of a stored document: its money (``_within_bound``); a payment's status tells
#: whether a reversed one may take the file's other fields (``_reversed``).
_STORED: dict[Kind, dict[str, pl.DataType | type[pl.DataType]]] = {
    Kind.PAYMENTS: {
        "id": pl.Int64,
        "row_hash": pl.String,
        "status": pl.String,
        "reversed_on": pl.Date,
        "debtor_id": pl.Int64,
        "received_on": pl.Date,
        "amount_minor": pl.Int64,
        "currency": pl.String,
    },
    Kind.CREDIT_NOTES: {
        "id": pl.Int64,
        "row_hash": pl.String,
        "amount_minor": pl.Int64,
        "currency": pl.String,
    },
}
#: The fields of a payment that say what money came in (the file's, the table's).
_MONEY = (
    ("debtor_pk", "debtor_id"),
    ("date", "received_on"),
    ("amount_minor", "amount_minor"),
    ("currency", "currency"),
)
_STORED_ONLY = ("row_hash", "status", "reversed_on", *(table for _, table in _MONEY))
#: The stored fields as joined to a head (the stored hash is ``old_hash``).
_STORED_NAMES = [f"{n}_stored" for n in _STORED_ONLY[1:]]


def _reversed(
    changed: pl.DataFrame, rows: pl.DataFrame, spec: DocumentSpec
) -> tuple[pl.DataFrame, pl.DataFrame, list[Problem]]:
    """Split changed payment heads: (to apply again, reversed ones that only take the file's
    other fields, problems of the reversed ones whose money the file changes).

    A reversed payment (a bounced cheque, a chargeback) stays reversed: only a person brings
    its money back. The bank's next file may still list it, its reference annotated: that is
    noted, nothing is applied. A file that says other money came in under its id (debtor,
    date, amount, currency) is a problem, located at its rows: money received again is a new
    payment with an id of its own."""
    if "status_stored" not in changed.columns:
        changed = changed.drop(_STORED_NAMES, strict=False)
        return changed, changed.head(0), []
    reversed_ = pl.col("status_stored") == "reversed"
    same_money = pl.all_horizontal(
        *(pl.col(f"{table}_stored") == pl.col(file) for file, table in _MONEY)
    )
    refused = changed.filter(reversed_ & ~same_money)
    problems = lookups.problems_at(
        rows.join(refused.select(*KEY, "reversed_on_stored"), on=KEY),
        spec.id_field,
        pl.format(
            "payment '{}' was reversed on {}: a file does not change it or apply it again; "
            "money received again is a new payment: import it under a new payment id",
            "external_id",
            "reversed_on_stored",
        ),
    )
    return (
        changed.filter(~reversed_).drop(_STORED_NAMES, strict=False),
        changed.filter(reversed_ & same_money).drop(_STORED_NAMES, strict=False),
        problems,
    )


def _with_invoice_pk(conn: Connection, todo: pl.DataFrame) -> pl.DataFrame:
    """The id of the invoice a document head names (a credit note's ``invoice_id``)."""
    found = lookups.lookup(
        conn,
        invoice,
        todo.filter(pl.col("invoice_id").is_not_null()).select(
            "portfolio_id", pl.col("invoice_id").alias("external_id")
        ),
        {"id": pl.Int64},
    ).rename({"external_id": "invoice_id", "id": "invoice_pk"})
    return todo.join(found, on=["portfolio_id", "invoice_id"], how="left")


def _rule_debtors(todo: pl.DataFrame, rows: pl.DataFrame, spec: DocumentSpec) -> pl.Series:
    """The debtors of the documents that the allocation rule may serve: all but those whose
    rows name an invoice and an amount each, adding up to the document's amount (they are
    applied in full as the file says, or not at all: a problem), and, for credit notes, all but
    those that name an invoice (what that leaves stays credit)."""
    explicit = pl.col("invoice_id").is_not_null()
    per_doc = rows.group_by(KEY).agg(
        named=explicit.any(),
        full=(explicit & pl.col("allocated_amount_minor").is_not_null()).all(),
        given=pl.col("allocated_amount_minor").sum(),
    )
    heads = todo.join(per_doc, on=KEY, how="left")
    if spec.rule_after_explicit:
        served = pl.col("full") & (pl.col("given") == pl.col("amount_minor"))
    else:
        served = pl.col("named")
    return heads.filter(~served.fill_null(False))["debtor_pk"].unique()


def _open_instalments(
    conn: Connection,
    todo: pl.DataFrame,
    named: pl.DataFrame,
    rule_debtors: pl.Series,
    spec: DocumentSpec,
) -> pl.DataFrame:
    """Open instalments of the invoices the documents name and of every instalment of the
    debtors the rule may serve (``_rule_debtors``), counting the changed documents'
    allocations as already reversed.

    Only those: a batch of a large file names most debtors, and reading every open instalment
    of each for every batch read the whole table again and again (a first load of 4.5M
    payments allocated explicitly read about 5M instalments per 100,000-row batch)."""
    debtors = bulk.stage(conn, "_pay_debtors", pl.DataFrame({"debtor_pk": rule_debtors}))
    invoices = bulk.stage(
        conn,
        "_pay_invoices",
        named.select(pl.col("invoice_pk").drop_nulls().unique()),
    )
    reversed_back = ""  # what a changed document's allocations give back, read only if any
    staged = [debtors, invoices]
    if todo.filter("changed").height:
        staged.append(bulk.stage(conn, "_pay_changed", todo.filter("changed").select("id")))
        reversed_back = (
            "LEFT JOIN (SELECT a.instalment_id, SUM(a.amount_minor) AS back FROM allocation a "
            f'JOIN "{staged[-1]}" c ON c.id = a.source_id WHERE a.source_kind = :kind '
            "AND NOT a.reversed GROUP BY a.instalment_id) r ON r.instalment_id = i.id "
        )
    back = "COALESCE(r.back, 0)" if reversed_back else "0"
    frame = bulk.read_frame(
        conn,
        "SELECT i.id, i.invoice_id, i.debtor_id, i.currency, i.due_date, v.issue_date, "
        f"v.external_id, i.seq, i.open_minor + {back} FROM instalment i "
        "JOIN invoice v ON v.id = i.invoice_id "
        "JOIN (SELECT j.id FROM instalment j "
        f'JOIN "{debtors}" d ON d.debtor_pk = j.debtor_id UNION SELECT j.id FROM instalment j '
        f'JOIN "{invoices}" n ON n.invoice_pk = j.invoice_id) w ON w.id = i.id '
        f"{reversed_back}WHERE i.open_minor + {back} > 0"
        + (" FOR KEY SHARE OF i" if bulk.is_postgres(conn) else ""),
        {
            "instalment_id": pl.Int64,
            "invoice_pk": pl.Int64,
            "debtor_id": pl.Int64,
            "currency": pl.String,
            "due_date": pl.Date,
            "issue_date": pl.Date,
            "invoice": pl.String,
            "seq": pl.Int64,
            "open_minor": pl.Int64,
        },
        {"kind": str(spec.source_kind)},
    )
    for name in staged:
        bulk.drop(conn, name)
    return frame


def _named_invoices(
    conn: Connection, rows: pl.DataFrame, todo: pl.DataFrame
) -> tuple[pl.DataFrame, list[Problem]]:
    """Explicit rows of the documents to apply, with the named invoice checked."""
    heads = todo.select(
        *KEY,
        pl.col("id").alias("source_id"),
        pl.col("date").alias("received_on"),
        pl.col("amount_minor").alias("doc_amount"),
        pl.col("currency").alias("doc_currency"),
        pl.col("debtor_pk").alias("doc_debtor"),
    )
    named = rows.filter(pl.col("invoice_id").is_not_null()).join(heads, on=KEY)
    found = lookups.lookup(
        conn,
        invoice,
        named.select("portfolio_id", pl.col("invoice_id").alias("external_id")),
        {"id": pl.Int64, "debtor_id": pl.Int64, "currency": pl.String},
    ).rename(
        {
            "external_id": "invoice_id",
            "id": "invoice_pk",
            "debtor_id": "inv_debtor",
            "currency": "inv_currency",
        }
    )
    named = named.join(found, on=["portfolio_id", "invoice_id"], how="left")
    unknown = named.filter(pl.col("invoice_pk").is_null())
    other = named.filter(pl.col("inv_debtor") != pl.col("doc_debtor"))
    money = named.filter(
        (pl.col("inv_debtor") == pl.col("doc_debtor"))
        & (pl.col("inv_currency") != pl.col("doc_currency"))
    )
    problems = (
        lookups.problems_at(
            unknown, "invoice_id", pl.format("unknown invoice '{}': import it first", "invoice_id")
        )
        + lookups.problems_at(
            other, "invoice_id", pl.format("invoice '{}' belongs to another debtor", "invoice_id")
        )
        + lookups.problems_at(
            money,
            "invoice_id",
            pl.format(
                "invoice '{}' is in {}, not {}: no conversion",
                "invoice_id",
                "inv_currency",
                "doc_currency",
            ),
        )
    )
    return named, problems


def _allocate(
    todo: pl.DataFrame,
    named: pl.DataFrame,
    lines: pl.DataFrame,
    ctx: LoadContext,
    spec: DocumentSpec,
) -> tuple[pl.DataFrame, list[int], list[Problem]]:
    ok = (
        pl.col("invoice_pk").is_not_null()
        & (pl.col("inv_debtor") == pl.col("doc_debtor"))
        & (pl.col("inv_currency") == pl.col("doc_currency"))
    )
    bad = set(named.filter(~ok)["source_id"].to_list())
    pieces_e, explicit_problems, explicit_bad = explicit(
        named.filter(ok).select(
            "source_id",
            "received_on",
            "external_id",
            "source",
            "row",
            "invoice_id",
            "invoice_pk",
            pl.col("instalment").alias("seq"),
            pl.col("allocated_amount_minor").alias("requested"),
            pl.col("doc_amount").alias("amount_minor"),
            pl.col("doc_currency").alias("currency"),
        ),
        lines,
    )
    bad |= set(explicit_bad)
    pieces_e = pieces_e.filter(~pl.col("source_id").is_in(list(bad)))
    left = remaining_open(lines, pieces_e)
    used = pieces_e.group_by("source_id").agg(pl.col("amount").sum().alias("_used"))
    eligible = todo.filter(~pl.col("id").is_in(list(bad)))
    if not spec.rule_after_explicit:
        eligible = eligible.filter(~pl.col("id").is_in(named["source_id"].unique().to_list()))
    payments = eligible.join(used.rename({"source_id": "id"}), on="id", how="left").select(
        pl.col("id").alias("source_id"),
        pl.col("debtor_pk").alias("debtor_id"),
        "currency",
        pl.col("date").alias("received_on"),
        "external_id",
        (pl.col("amount_minor") - pl.col("_used").fill_null(0)).alias("amount"),
    )
    pieces_r = by_rule(payments, left, AllocationRule(ctx.rule))
    pieces = (
        pl.concat([pieces_e, pieces_r])
        .join(
            todo.select(
                pl.col("id").alias("source_id"),
                pl.col("debtor_pk").alias("debtor_id"),
                "currency",
                pl.col("date").alias("allocated_on"),
            ),
            on="source_id",
        )
        .select(
            pl.lit(str(spec.source_kind)).alias("source_kind"),
            "source_id",
            "instalment_id",
            "debtor_id",
            "currency",
            pl.col("amount").alias("amount_minor"),
            "allocated_on",
        )
    )
    return pieces, sorted(bad), explicit_problems
