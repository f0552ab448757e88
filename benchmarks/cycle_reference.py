"""Two DuckDB references for the daily cycle's feature table (benchmarks/cycle.py, the tests).

* :func:`reference_minimal` (reference (a)): the least work any engine must do, per debtor and
  currency, the oldest open instalment's days past due and the open balance, as one bare query.
* :func:`reference_features` (reference (b)): every public catalogue feature
  (``arrears.policy.features.CATALOGUE``) per debtor and currency, computed a second time with
  ONE hand-written SQL query over the Polars frames of a :class:`CycleInput`, independently of
  the engine's ``arrears.cycle.features`` (derived from the catalogue's meaning and the frame
  contract in ``arrears.cycle.frames``). ``tests/test_cycle_reference.py`` checks that it equals
  the engine's ``feature_table``; the benchmark compares the engine's speed with it.

DuckDB reads the Polars frames directly (Arrow, no copy) and returns a Polars frame.
Where the feature's meaning leaves a choice, the engine's documented convention is followed and
marked ``CONVENTION`` in the query below.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import duckdb
import polars as pl

from arrears.cycle.frames import CycleInput
from arrears.domain.money import exponent

#: The frames of a CycleInput the references read.
_FRAMES = (
    "instalments",
    "debtors",
    "settled",
    "last_payments",
    "promises",
    "contacts",
    "last_contacts",
    "cases",
    "scores",
    "rates",
)
#: Catalogue order of the output (after debtor_id, currency).
CHANNELS = ("email", "sms", "whatsapp", "call", "letter")
WINDOW_MONTHS = {"3m": 3, "6m": 6, "12m": 12}


_DATABASE: list[duckdb.DuckDBPyConnection] = []


def _connect(data: CycleInput, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A connection (a cursor of one in-memory database per process: opening a database costs
    more than a small query) with the frames registered as views."""
    if not _DATABASE:
        _DATABASE.append(duckdb.connect())
    if threads is not None:
        _DATABASE[0].execute(f"SET threads = {int(threads)}").fetchall()
    con = _DATABASE[0].cursor()
    for name in _FRAMES:
        con.register(name, getattr(data, name))
    return con


def _units(data: CycleInput) -> pl.DataFrame:
    """Each currency's minor unit (10 ** -digits): a handful of rows, from the money module."""
    codes: set[str] = set()
    for frame in (data.instalments, data.debtors, data.cases, data.last_payments):
        codes.update(c for c in frame["currency"].unique().to_list() if c is not None)
    return pl.DataFrame(
        {"currency": sorted(codes), "digits": [exponent(c) for c in sorted(codes)]},
        schema={"currency": pl.String(), "digits": pl.Int32()},
    )


def _bucket_case(buckets: list[int]) -> str:
    """CASE expression naming the aging bucket of ``dpd``: current (<= 0), '1-30', ..., '120+'."""
    edges = [0, *sorted(b for b in set(buckets) if b > 0)]
    parts = ["WHEN dpd <= 0 THEN 'current'"]
    for low, high in pairwise(edges):
        parts.append(f"WHEN dpd <= {high} THEN '{low + 1}-{high}'")
    parts.append(f"ELSE '{edges[-1]}+'")
    return "CASE WHEN dpd IS NULL THEN NULL " + " ".join(parts) + " END"


def reference_minimal(data: CycleInput, as_of: date, threads: int | None = None) -> pl.DataFrame:
    """Reference (a): per debtor and currency with an open balance, the days past due of the
    oldest open instalment and the open balance (minor units)."""
    con = _connect(data, threads)
    try:
        result: pl.DataFrame = con.sql(
            """
            SELECT debtor_id, currency,
                   CAST($as_of - min(due_date) AS INTEGER) AS days_past_due,
                   CAST(sum(open_minor) AS BIGINT) AS balance_minor
            FROM instalments
            WHERE open_minor > 0 AND issue_date <= $as_of
            GROUP BY debtor_id, currency
            """,
            params={"as_of": as_of},
        ).pl()
        return result
    finally:
        con.close()


def _money(minor: str, unit: str) -> str:
    """Exact minor units -> major units as DECIMAL(38,4) (DuckDB's decimal division would give a
    double, so multiply by the unit, 10 ** -digits, which is exact at scale 4)."""
    return (
        f"CAST(CAST({minor} AS DECIMAL(20,0)) * CAST(power(10, -{unit}) AS DECIMAL(5,4)) "
        "AS DECIMAL(38,4))"
    )


def _ref(minor: str) -> str:
    """Minor units -> units of 10 ** -4 of the common unit, at ``r.rate_nano`` (billionths)."""
    return f"CAST({minor} AS HUGEINT) * r.rate_nano // CAST(power(10, u.digits + 5) AS HUGEINT)"


def _feature_sql(buckets: list[int], with_window: bool, disputes: str = "invoices") -> str:
    # CONVENTION (the policy's disputes.pause): "invoices", a disputed instalment counts in no
    # balance, invoice count or due date; "case", it counts like the others
    collected = "AND NOT disputed" if disputes == "invoices" else ""
    history = []
    for name, months in WINDOW_MONTHS.items():
        inside = f"settled_on > CAST($as_of - INTERVAL {months} MONTH AS DATE)"
        history += [
            f"avg(CASE WHEN late_days > 0 THEN 1.0 ELSE 0.0 END::DOUBLE) FILTER (WHERE {inside})"
            f" AS share_paid_late_{name}",
            f"avg(late_days::DOUBLE) FILTER (WHERE {inside}) AS avg_days_late_{name}",
        ]
    channels = []
    for ch in CHANNELS:
        channels += [
            f"count(*) FILTER (WHERE channel = '{ch}' AND occurred_on > $as_of - 7)"
            f" AS {ch}_contacts_7d",
            f"count(*) FILTER (WHERE channel = '{ch}') AS {ch}_contacts_30d",
        ]
    channel_out = [
        f"CAST(coalesce(ct.{ch}_contacts_{w}, 0) AS INTEGER) AS {ch}_contacts_{w}"
        for ch in CHANNELS
        for w in ("7d", "30d")
    ]
    window = (
        "AND (closed_on IS NULL OR (close_reason = 'cured' AND closed_on >= $as_of - $reopen))"
        if with_window
        else ""
    )
    nl = ",\n            "
    return f"""
        WITH
        -- instalments issued by as_of; "open" means open_minor > 0 as of as_of
        issued AS (SELECT * FROM instalments WHERE issue_date <= $as_of),
        open_balance AS (
            SELECT debtor_id, currency,
                   sum(open_minor) AS balance_minor,
                   coalesce(sum(open_minor) FILTER (WHERE due_date < $as_of), 0) AS overdue_minor,
                   min(due_date) AS oldest_due,
                   -- CONVENTION: an instalment due today is not past due; it is "next due"
                   -- in 0 days (past due: due_date < as_of).
                   min(due_date) FILTER (WHERE due_date >= $as_of) AS next_due,
                   count(DISTINCT invoice_id) AS open_invoices,
                   count(DISTINCT invoice_id) FILTER (WHERE due_date < $as_of) AS overdue_invoices,
                   bool_or(disputed) AS disputed
            FROM issued WHERE open_minor > 0 {collected}
            GROUP BY debtor_id, currency
        ),
        -- CONVENTION: tenure is per debtor, from its first invoice in any currency, settled
        -- or not.
        first_issue AS (
            SELECT debtor_id, min(issue_date) AS first_issue FROM issued GROUP BY debtor_id
        ),
        -- the case the engine looks at per debtor and currency: the open one, else the most
        -- recent one closed as cured (the store gives only those within the reopen window;
        -- with $reopen given, that window is applied here too)
        ranked_cases AS (
            SELECT *, row_number() OVER (
                PARTITION BY debtor_id, currency
                ORDER BY (closed_on IS NULL) DESC, opened_on DESC) AS rank
            FROM cases WHERE opened_on <= $as_of {window}
        ),
        the_case AS (SELECT * FROM ranked_cases WHERE rank = 1),
        keys AS (
            SELECT debtor_id, currency FROM open_balance
            UNION
            SELECT debtor_id, currency FROM the_case
        ),
        -- payment history. CONVENTION: per debtor across all its currencies (it describes how
        -- the debtor pays); windows are calendar months (settled_on after the same day N months
        -- before as_of, clamped to the month's end); days late = max(settled_on - due_date, 0).
        settled_late AS (
            SELECT debtor_id, settled_on, greatest(settled_on - due_date, 0) AS late_days
            FROM settled WHERE settled_on <= $as_of
        ),
        history AS (
            SELECT debtor_id,
                   {nl.join(history)}
            FROM settled_late GROUP BY debtor_id
        ),
        last_paid AS (
            SELECT debtor_id, currency, last_payment_on, last_payment_minor
            FROM last_payments WHERE last_payment_on <= $as_of
        ),
        -- promises made in the last 12 calendar months (made_on after as_of - 12 months):
        -- kept when paid in full (paid_minor counts payments up to due_on + grace), broken when
        -- due_on + grace_days has passed without that, else open.
        promise_state AS (
            SELECT debtor_id, currency,
                   CASE WHEN paid_minor >= amount_minor THEN 'kept'
                        WHEN due_on + grace_days < $as_of THEN 'broken'
                        ELSE 'open' END AS state
            FROM promises
            WHERE made_on <= $as_of AND made_on > CAST($as_of - INTERVAL 12 MONTH AS DATE)
        ),
        promise_counts AS (
            SELECT debtor_id, currency,
                   count(*) AS made,
                   count(*) FILTER (WHERE state = 'kept') AS kept,
                   count(*) FILTER (WHERE state = 'broken') AS broken,
                   bool_or(state = 'open') AS open
            FROM promise_state GROUP BY debtor_id, currency
        ),
        -- CONVENTION: contacts are per debtor (a contact reaches the person, whatever the
        -- currency); the last 30 days are as_of - 29 .. as_of, the last 7 as_of - 6 .. as_of.
        contact_counts AS (
            SELECT debtor_id,
                   count(*) AS contacts_30d,
                   count(*) FILTER (WHERE occurred_on > $as_of - 7) AS contacts_7d,
                   {nl.join(channels)}
            FROM contacts WHERE occurred_on BETWEEN $as_of - 29 AND $as_of
            GROUP BY debtor_id
        ),
        last_contact AS (
            SELECT debtor_id, last_contact_on, last_contact_outcome
            FROM last_contacts WHERE last_contact_on <= $as_of
        ),
        base AS (
            SELECT k.debtor_id, k.currency,
                   CAST($as_of - b.oldest_due AS INTEGER) AS dpd,
                   b.*  EXCLUDE (debtor_id, currency),
                   d.kind, d.country, d.region, d.tags, d.credit_status,
                   d.credit_limit_minor, d.currency AS debtor_currency,
                   c.stage AS case_stage, c.stage_entered_on, c.segment AS case_segment,
                   f.first_issue
            FROM keys k
            JOIN debtors d ON d.debtor_id = k.debtor_id
            LEFT JOIN open_balance b ON b.debtor_id = k.debtor_id AND b.currency = k.currency
            LEFT JOIN the_case c ON c.debtor_id = k.debtor_id AND c.currency = k.currency
            LEFT JOIN first_issue f ON f.debtor_id = k.debtor_id
        )
        SELECT
            x.debtor_id, x.currency,
            x.dpd AS days_past_due,
            CAST(x.next_due - $as_of AS INTEGER) AS days_to_due,
            -- CONVENTION: money in major units of the balance's currency as DECIMAL(38,4)
            {_money("coalesce(x.balance_minor, 0)", "u.digits")} AS balance,
            {_money("coalesce(x.overdue_minor, 0)", "u.digits")} AS overdue_balance,
            CAST(coalesce(x.open_invoices, 0) AS INTEGER) AS open_invoices,
            CAST(coalesce(x.overdue_invoices, 0) AS INTEGER) AS overdue_invoices,
            {_bucket_case(buckets).replace("dpd", "x.dpd")} AS bucket,
            coalesce(x.case_stage, 'clear') AS stage,
            CAST($as_of - x.stage_entered_on AS INTEGER) AS days_in_stage,
            x.case_segment AS segment,
            CAST($as_of - x.first_issue AS INTEGER) AS tenure_days,
            x.kind, x.country, x.region, x.tags,
            h.share_paid_late_3m, h.avg_days_late_3m,
            h.share_paid_late_6m, h.avg_days_late_6m,
            h.share_paid_late_12m, h.avg_days_late_12m,
            CAST($as_of - lp.last_payment_on AS INTEGER) AS last_payment_days_ago,
            {_money("lp.last_payment_minor", "u.digits")} AS last_payment_amount,
            CAST(coalesce(pc.made, 0) AS INTEGER) AS promises_made,
            CAST(coalesce(pc.kept, 0) AS INTEGER) AS promises_kept,
            CAST(coalesce(pc.broken, 0) AS INTEGER) AS promises_broken,
            coalesce(pc.open, false) AS promise_open,
            false AS plan_active,  -- no payment plans yet: never in good standing
            -- any open instalment disputed (counted in the balances or not)
            coalesce((SELECT bool_or(i.disputed) FROM issued i WHERE i.open_minor > 0
                      AND i.debtor_id = x.debtor_id AND i.currency = x.currency), false)
                AS disputed,
            CAST(coalesce(ct.contacts_7d, 0) AS INTEGER) AS contacts_7d,
            CAST(coalesce(ct.contacts_30d, 0) AS INTEGER) AS contacts_30d,
            {nl.join(channel_out)},
            CAST($as_of - lc.last_contact_on AS INTEGER) AS last_contact_days_ago,
            lc.last_contact_outcome,
            x.credit_status,
            -- the credit limit is in the debtor's own currency
            {_money("x.credit_limit_minor", "du.digits")} AS credit_limit,
            -- the propensity features are an input of the engine (the scoring job's frame)
            sc.score,
            {_money("sc.expected_recovery_minor", "u.digits")} AS expected_recovery,
            sc.expected_days_to_pay,
            -- at the workspace's rate to a common unit (billionths): exact integers, rounded
            -- toward zero at 4 digits; no rate: null
            {_money(_ref("coalesce(x.overdue_minor, 0)"), "4")} AS overdue_balance_ref,
            {_money(_ref("sc.expected_recovery_minor"), "4")} AS expected_recovery_ref,
            {_money(_ref("coalesce(x.balance_minor, 0)"), "4")} AS balance_ref
        FROM base x
        LEFT JOIN units u ON u.currency = x.currency
        LEFT JOIN rates r ON r.currency = x.currency
        LEFT JOIN units du ON du.currency = x.debtor_currency
        LEFT JOIN history h ON h.debtor_id = x.debtor_id
        LEFT JOIN last_paid lp ON lp.debtor_id = x.debtor_id AND lp.currency = x.currency
        LEFT JOIN promise_counts pc ON pc.debtor_id = x.debtor_id AND pc.currency = x.currency
        LEFT JOIN contact_counts ct ON ct.debtor_id = x.debtor_id
        LEFT JOIN last_contact lc ON lc.debtor_id = x.debtor_id
        LEFT JOIN scores sc ON sc.debtor_id = x.debtor_id AND sc.currency = x.currency
        ORDER BY x.debtor_id, x.currency
    """


def reference_features(
    data: CycleInput,
    as_of: date,
    buckets: list[int],
    *,
    reopen_within_days: int | None = None,
    threads: int | None = None,
    disputes: str = "invoices",
) -> pl.DataFrame:
    """Reference (b): every public catalogue feature per (debtor_id, currency) as of ``as_of``,
    one row per debtor and currency with an open instalment or a case, sorted by the key.

    ``reopen_within_days``: also keep only the cases the store would give the engine (open, or
    closed as cured in that many days before ``as_of``); by default ``data.cases`` is taken as
    the store gives it (``arrears.cycle.frames.CASE_SCHEMA``).
    """
    con = _connect(data, threads)
    try:
        con.register("units", _units(data))
        params: dict[str, object] = {"as_of": as_of}
        if reopen_within_days is not None:
            params["reopen"] = reopen_within_days
        sql = _feature_sql(buckets, with_window=reopen_within_days is not None, disputes=disputes)
        result: pl.DataFrame = con.sql(sql, params=params).pl()
        return result
    finally:
        con.close()
