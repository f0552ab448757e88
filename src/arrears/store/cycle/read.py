"""The daily cycle's read side: a portfolio as of a date, as the engine's :class:`CycleInput`.

``instalments`` and ``debtors`` are the snapshot's frames (:func:`arrears.store.cycle.snapshot.
read_snapshot`); every other frame is one set-based query per frame, read into Polars over ADBC
side by side with the snapshot's queries (one pool of readers), typed to the schemas of
:mod:`arrears.cycle.frames`. The large ones (``settled``, ``last_payments``, ``consents``) are
read as plain rows by primary-key ranges (SQLite: rowid scans) and reduced in Polars: moving a
row across ADBC costs less than SQLite sorting it for a GROUP BY or a window, and far less than
walking an index with a random table access per row.

Point in time: nothing dated after ``as_of`` influences any frame. Allocations, payments, promises
(``made_on``, ``cancelled_on``), holds (``starts_on``, ``released_on``), contacts, steps
(``done_on``), approvals (``approved_on``) and cases (``opened_on``) are read as of ``as_of``. A
case closed after ``as_of`` is shown open (``closed_on`` and ``close_reason`` null); its other
columns are as the last run left them (the store keeps no history of a case's columns).

Dates and ids in the SQL are rendered by this module from ``date`` and ``int`` values: no
injection is possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl
from sqlalchemy import Engine, text

from arrears.contact.frames import CONSENT_SCHEMA, HISTORY_SCHEMA
from arrears.cycle.features import months_before
from arrears.cycle.frames import (
    APPROVAL_SCHEMA,
    CASE_SCHEMA,
    CONTACT_SCHEMA,
    HOLD_SCHEMA,
    LAST_CONTACT_SCHEMA,
    LAST_PAYMENT_SCHEMA,
    PROMISE_SCHEMA,
    SETTLED_SCHEMA,
    STEP_DONE_SCHEMA,
    CycleInput,
)
from arrears.domain.ledger import CONTACT_KIND_OF_CHANNEL
from arrears.store.cycle.snapshot import (
    EVERY_ID,
    READERS,
    Task,
    _conform,
    _id_ranges,
    _read_all,
    id_range,
    snapshot_reads,
    sql_ids,
)
from arrears.store.portfolios import portfolio_id

#: A case closed with this reason may be reopened within the policy's reopen window.
CURED = "cured"
#: Settled instalments and promises the engine sees: the 12 calendar months up to ``as_of``.
HISTORY_DAYS = 366  # at most: 12 calendar months (see months_before)
#: Days of contact attempts the engine sees (``as_of - 29 .. as_of``).
CONTACT_DAYS = 30
#: SQLite: a NULL date is read as this day number (ADBC SQLite infers a column's type from its
#: first rows, and NULLs there break that); it is turned back into a null.
_NULL_DAY = -999_999

#: Outcomes of a logged call that mean the debtor was reached: a telephone conversation (US
#: Regulation F's 7-day quiet period starts from it).
CONVERSATION_OUTCOMES = ("reached", "conversation", "spoke", "promise", "right_party_contact")


def read_cycle_input(
    engine: Engine,
    *,
    portfolio: str,
    as_of: date,
    reopen_within_days: int,
    promise_grace_days: int = 0,
    debtor_ids: Sequence[int] | None = None,
) -> CycleInput:
    """Everything the engine reads for ``portfolio`` as of ``as_of`` (see ``arrears.cycle.frames``).

    ``debtor_ids``: only those debtors' rows (the same frames as the whole portfolio's read
    restricted to them, each found through the debtor's indexes): what one debtor's page reads
    (``explain``, "may I call now?") in milliseconds instead of the portfolio's seconds.

    ``promise_grace_days``: the policy's grace for promises; a promise's payments are counted
    until its date plus its own grace or this one, whichever is longer (as the engine does).

    Raises :class:`arrears.store.portfolios.UnknownPortfolio` for a code that does not exist.
    """
    # The snapshot's queries and the frames' run in one pool: the readers finish together.
    snapshot_tasks, snapshot = snapshot_reads(
        engine, portfolio=portfolio, as_of=as_of, debtor_ids=debtor_ids
    )
    with engine.connect() as conn:
        pid = portfolio_id(conn, portfolio)
        # (one debtor's rows are found by index: no ranges, and MIN/MAX of four tables cost
        # more than reading them)
        bounds = conn.execute(text(_ID_BOUNDS)).one() if debtor_ids is None else None
    q = _Queries(
        pid,
        as_of,
        reopen_within_days,
        postgres=engine.dialect.name == "postgresql",
        promise_grace_days=promise_grace_days,
        only=None if debtor_ids is None else sql_ids(debtor_ids),
    )
    # The large frames are read as rows (by primary-key range, one range per reader) and
    # reduced in Polars: what costs is moving rows across ADBC, not the reduction, and a grouped
    # or windowed query would sort them first. Largest first, so that the readers finish
    # together.
    ranges = {
        table: _id_ranges(bounds[2 * n], bounds[2 * n + 1], READERS)
        if bounds is not None
        else [EVERY_ID]
        for n, table in enumerate(_RANGED)
    }
    parts: list[tuple[str, Task]] = [
        *(
            ("payment", (q.payment_rows(ids), lambda raw: _typed(raw, LAST_PAYMENT_SCHEMA)))
            for ids in ranges["payment"]
        ),
        *(
            ("allocation", (q.allocation_rows(ids), lambda raw: _typed(raw, _SETTLED_ON)))
            for ids in ranges["allocation"]
        ),
        *(
            ("consent", (q.consent_rows(ids), lambda raw: _conform(raw, _PACKED)))
            for ids in ranges["consent"]
        ),
        *(
            ("point", (q.contact_points(ids), lambda raw: _conform(raw, _POINT)))
            for ids in ranges["contact_point"]
        ),
        ("cases", (q.cases(), lambda raw: _typed(raw, CASE_SCHEMA))),
        ("steps_done", (q.steps_done(), lambda raw: _typed(raw, STEP_DONE_SCHEMA))),
        ("last_contacts", (q.last_contacts(), lambda raw: _typed(raw, LAST_CONTACT_SCHEMA))),
        ("contacts", (q.contacts(), lambda raw: _typed(raw, CONTACT_SCHEMA))),
        ("history", (q.history(), lambda raw: _typed(raw, HISTORY_SCHEMA))),
        ("promises", (q.promises(), lambda raw: _typed(raw, PROMISE_SCHEMA))),
        ("holds", (q.holds(), lambda raw: _typed(raw, HOLD_SCHEMA))),
        ("approvals", (q.approvals(), lambda raw: _typed(raw, APPROVAL_SCHEMA))),
    ]
    parts = [("snapshot", task) for task in snapshot_tasks] + parts
    read: dict[str, list[pl.DataFrame]] = {}
    frames = _read_all(engine, [task for _, task in parts], pooled=debtor_ids is None)
    for (name, _), frame in zip(parts, frames, strict=True):
        read.setdefault(name, []).append(frame)
    snap = snapshot(read["snapshot"])

    def one(name: str) -> pl.DataFrame:
        return read[name][0]

    return CycleInput(
        instalments=snap.instalments,
        debtors=snap.debtors,
        settled=_settled(snap.instalments, _settled_on(pl.concat(read["allocation"]))),
        last_payments=_last_payments(pl.concat(read["payment"])),
        promises=one("promises"),
        holds=one("holds"),
        contacts=one("contacts"),
        last_contacts=one("last_contacts"),
        cases=one("cases"),
        steps_done=one("steps_done"),
        approvals=one("approvals"),
        consents=_consents(pl.concat(read["point"]), pl.concat(read["consent"])),
        history=one("history"),
    )


#: Tables read by primary-key ranges, in the order of their bounds in ``_ID_BOUNDS``.
_RANGED = ("payment", "allocation", "contact_point", "consent")
_ID_BOUNDS = "SELECT " + ", ".join(
    f"(SELECT MIN(id) FROM {table}), (SELECT MAX(id) FROM {table})" for table in _RANGED
)

#: Channels in name order (their codes sort as their names do), and the kind of contact point
#: each one uses.
_CHANNELS = ("call", "email", "letter", "sms", "whatsapp")
_CHANNEL_KIND = {str(c): str(k) for c, k in CONTACT_KIND_OF_CHANNEL.items()}
_KINDS = ("email", "phone", "postal")
#: A consent's status as read: its code orders them (granted wins, then unknown or no record).
_DENIED, _GRANTED = 1, 2


_POINT: dict[str, pl.DataType] = {"id": pl.Int64(), "debtor_id": pl.Int64(), "kind": pl.Int64()}
_PACKED: dict[str, pl.DataType] = {"k": pl.Int64()}


_SETTLED_ON: dict[str, pl.DataType] = {"instalment_id": pl.Int64(), "settled_on": pl.Date()}


def _settled(instalments: pl.DataFrame, settled_on: pl.DataFrame) -> pl.DataFrame:
    """Instalments with no balance as of ``as_of`` whose last allocation is in the window."""
    return (
        instalments.filter(pl.col("open_minor") == 0)
        .select("instalment_id", "debtor_id", "currency", "due_date")
        .join(settled_on, on="instalment_id", how="inner", maintain_order="left")
        .select(list(SETTLED_SCHEMA))
    )


def _settled_on(rows: pl.DataFrame) -> pl.DataFrame:
    """Per instalment, its last allocation in force in the window (rows: one per allocation)."""
    last = rows.sort("instalment_id", "settled_on")
    key = pl.col("instalment_id")
    # in instalment order, as the snapshot's instalments are: _settled joins them by merging
    return last.filter(key != key.shift(-1, fill_value=-1))


def _last_payments(rows: pl.DataFrame) -> pl.DataFrame:
    """Per debtor and currency, the latest live payment; on a tie of days the largest.

    (Payments tied on day and amount are the same row of the frame: the id breaks no tie.)
    Sorted by integers only (the currency as a code), the last row of each group is taken.
    """
    code = pl.col("currency").cast(pl.Categorical).to_physical().alias("code")
    frame = rows.with_columns(code).sort(
        "debtor_id", "code", "last_payment_on", "last_payment_minor"
    )
    debtor, code = pl.col("debtor_id"), pl.col("code")
    after = debtor.shift(-1)
    last = frame.filter(after.is_null() | (debtor != after) | (code != code.shift(-1)))
    return last.sort("debtor_id", "currency").select(list(LAST_PAYMENT_SCHEMA))


def _consents(points: pl.DataFrame, consents: pl.DataFrame) -> pl.DataFrame:
    """Per debtor and channel, over its usable contact points: granted if any point has
    consent granted, denied if every point denied it, else unknown (no row: no point).

    ``points``: the portfolio's usable contact points (``id``, ``debtor_id``, ``kind`` as its
    index in ``_KINDS``). ``consents``: every recorded consent as one integer ``k``:
    ``(contact_point_id * 8 + channel) * 4 + status`` (the indexes in ``_CHANNELS`` and the
    status codes), which crosses ADBC as one column.
    """
    channels = pl.DataFrame(
        {
            "kind": [_KINDS.index(_CHANNEL_KIND[c]) for c in _CHANNELS],
            "channel": list(range(len(_CHANNELS))),
        },
        schema={"kind": pl.Int64(), "channel": pl.Int64()},
    )
    recorded = consents.select(
        (pl.col("k") // 4).alias("key"), (pl.col("k") % 4).alias("code")
    ).sort("key")
    # one row per usable point and channel: (debtor_id * 8 + channel, the consent's code)
    rows = (
        points.join(channels, on="kind", how="inner")
        .select(
            group=pl.col("debtor_id") * 8 + pl.col("channel"),
            key=pl.col("id") * 8 + pl.col("channel"),
        )
        .sort("key")  # both sides sorted: a merge join, several times faster than hashing
        .join(recorded, on="key", how="left")
        .select("group", pl.col("code").fill_null(0))
        .sort("group")
    )
    if rows["group"].n_unique() == rows.height:  # one point per debtor and channel
        best = worst = pl.col("code")
    else:
        rows = (
            rows.group_by("group")
            .agg(pl.col("code").max().alias("best"), pl.col("code").min().alias("worst"))
            .sort("group")
        )
        best, worst = pl.col("best"), pl.col("worst")
    status = (
        pl.when(best == _GRANTED)
        .then(pl.lit("granted"))
        .when(worst == _DENIED)
        .then(pl.lit("denied"))
        .otherwise(pl.lit("unknown"))
    )
    frame = rows.select(
        (pl.col("group") // 8).alias("debtor_id"),
        (pl.col("group") % 8)
        .replace_strict(list(range(len(_CHANNELS))), list(_CHANNELS), return_dtype=pl.String())
        .alias("channel"),
        status.alias("status"),
    )
    return _conform(frame, CONSENT_SCHEMA)


def _typed(raw: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``raw`` with the schema's types; SQLite's placeholders for NULL turned back into nulls."""
    fixed = []
    for name, dtype in schema.items():
        have = raw.schema[name]
        col = pl.col(name)
        if dtype == pl.Date() and have.is_integer():
            col = pl.when(col == _NULL_DAY).then(None).otherwise(col)
        elif isinstance(dtype, pl.Datetime) and have.is_integer():  # SQLite: microseconds
            col = pl.from_epoch(col, time_unit="us").dt.replace_time_zone("UTC")
        elif dtype == pl.String() and have == pl.String():
            col = pl.when(col == "").then(None).otherwise(col)
        fixed.append(col.alias(name))
    return _conform(raw.select(fixed), schema)


class _Queries:
    """The SQL of each frame, for one portfolio and day, in the backend's dialect."""

    def __init__(
        self,
        pid: int,
        as_of: date,
        reopen_within_days: int,
        *,
        postgres: bool,
        promise_grace_days: int = 0,
        only: str | None = None,
    ) -> None:
        self.pid = int(pid)
        self.only = only  # only these debtors (a SQL list of ids), else the whole portfolio
        self.grace = int(promise_grace_days)
        self.as_of = as_of
        self.pg = postgres
        self.day = _lit(as_of)
        # the engine's 12-month windows are calendar months (366 days across a 29 February)
        self.history_from = _lit(months_before(as_of, 12) + timedelta(days=1))
        self.contacts_from = _lit(as_of - timedelta(days=CONTACT_DAYS - 1))
        self.reopen_from = _lit(as_of - timedelta(days=int(reopen_within_days)))

    # Dialect helpers -----------------------------------------------------------------------

    def d(self, column: str) -> str:
        """A NOT NULL date column as read (PostgreSQL: native; SQLite: days since 1970)."""
        return column if self.pg else f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"

    def nd(self, column: str) -> str:
        """A nullable date column as read (SQLite: a placeholder day for NULL)."""
        return column if self.pg else f"COALESCE({self.d(column)}, {_NULL_DAY})"

    def nt(self, column: str) -> str:
        """A nullable text column as read (SQLite: '' for NULL, see ``_NULL_DAY``)."""
        return column if self.pg else f"COALESCE({column}, '')"

    def field(self, column: str, key: str) -> str:
        """A text field of a JSON column."""
        return f"({column} ->> '{key}')" if self.pg else f"json_extract({column}, '$.{key}')"

    def ts(self, column: str) -> str:
        """A timestamp column as read (PostgreSQL: native; SQLite: microseconds since 1970)."""
        if self.pg:
            return column
        return f"CAST(strftime('%s', {column}) AS INTEGER) * 1000000"  # whole seconds

    def _of(self, column: str) -> str:
        """`` AND column IN (the debtors)`` when the read is restricted to some, else nothing."""
        return "" if self.only is None else f" AND {column} IN ({self.only})"

    def _not_indexed(self) -> str:
        """SQLite: scan the table by rowid instead of walking an index (a random access per
        row)."""
        return "" if self.pg else " NOT INDEXED"

    def consents(self) -> str:
        """Per debtor and channel, over its usable contact points: granted if any point has
        consent granted, denied if every point denied it, else unknown (no row: no point).

        One grouped query (the compliance report reads it on its connection);
        ``read_cycle_input`` reads the same frame faster as rows (``contact_points``,
        ``consent_rows``, reduced by ``_consents``)."""
        channels = " UNION ALL ".join(
            f"SELECT '{kind}' AS kind, '{channel}' AS channel"
            for kind, channel in (
                ("email", "email"),
                ("phone", "sms"),
                ("phone", "whatsapp"),
                ("phone", "call"),
                ("postal", "letter"),
            )
        )
        return f"""
            SELECT cp.debtor_id, ch.channel,
                   CASE WHEN SUM(CASE WHEN c.status = 'granted' THEN 1 ELSE 0 END) > 0
                        THEN 'granted'
                        WHEN SUM(CASE WHEN c.status = 'denied' THEN 0 ELSE 1 END) = 0
                        THEN 'denied'
                        ELSE 'unknown' END AS status
            FROM contact_point cp
            JOIN debtor d ON d.id = cp.debtor_id AND d.portfolio_id = {self.pid}
            JOIN ({channels}) ch ON ch.kind = cp.kind
            LEFT JOIN consent c ON c.contact_point_id = cp.id AND c.channel = ch.channel
            WHERE cp.status = 'valid'
            GROUP BY cp.debtor_id, ch.channel"""

    def contact_points(self, ids: tuple[int, int], debtors: str | None = None) -> str:
        """One id range of the portfolio's usable contact points (kind: index in ``_KINDS``);
        ``debtors``: only those (a SQL list of ids; read through the debtor index)."""
        kind = " ".join(f"WHEN '{k}' THEN {n}" for n, k in enumerate(_KINDS))
        debtors = debtors if debtors is not None else self.only
        scan = self._not_indexed() if debtors is None else ""
        only = "" if debtors is None else f" AND cp.debtor_id IN ({debtors})"
        return f"""
            SELECT cp.id, cp.debtor_id, CASE cp.kind {kind} END AS kind
            FROM contact_point cp{scan} CROSS JOIN debtor d
            WHERE {id_range("cp.id", ids)} AND cp.status = 'valid'
              AND d.id = cp.debtor_id AND d.portfolio_id = {self.pid}{only}"""

    def consent_rows(self, ids: tuple[int, int], points: str | None = None) -> str:
        """One id range of every recorded consent, packed in one integer (see ``_consents``);
        ``points``: only those contact points' (a SQL list of ids; read through the index)."""
        channel = " ".join(f"WHEN '{c}' THEN {n}" for n, c in enumerate(_CHANNELS))
        if points is None and self.only is not None:
            points = f"SELECT p.id FROM contact_point p WHERE p.debtor_id IN ({self.only})"
        scan = self._not_indexed() if points is None else ""
        only = "" if points is None else f" AND c.contact_point_id IN ({points})"
        return f"""
            SELECT (c.contact_point_id * 8 + CASE c.channel {channel} END) * 4
                   + CASE c.status WHEN 'granted' THEN {_GRANTED}
                                   WHEN 'denied' THEN {_DENIED} ELSE 0 END AS k
            FROM consent c{scan}
            WHERE {id_range("c.id", ids)}{only}"""

    def history(self) -> str:
        """Contact attempts with their times in the 30 days up to the end of ``as_of``: every
        outbox message (at its send time, else its creation) and every contact logged by hand;
        a logged call whose outcome says the debtor was reached is also a conversation."""
        end = f"'{(self.as_of + timedelta(days=1)).isoformat()}'"
        start = f"'{(self.as_of - timedelta(days=CONTACT_DAYS - 1)).isoformat()}'"
        when = "COALESCE(o.send_at, o.created_at)"
        outcome = self.field("a.payload", "outcome")
        reached = ", ".join(f"'{o}'" for o in CONVERSATION_OUTCOMES)
        return f"""
            SELECT o.debtor_id, o.channel, {self.ts(when)} AS at, 'attempt' AS kind
            FROM outbox o
            WHERE o.portfolio_id = {self.pid} AND {when} >= {start} AND {when} < {end}
              {self._of("o.debtor_id")}
            UNION ALL
            SELECT a.debtor_id, {self.field("a.payload", "channel")} AS channel,
                   {self.ts("a.occurred_at")} AS at, 'attempt' AS kind
            FROM activity a
            WHERE a.kind = 'contact' AND a.portfolio_id = {self.pid}
              AND a.occurred_at >= {start} AND a.occurred_at < {end}{self._of("a.debtor_id")}
            UNION ALL
            SELECT a.debtor_id, 'call' AS channel, {self.ts("a.occurred_at")} AS at,
                   'conversation' AS kind
            FROM activity a
            WHERE a.kind = 'contact' AND a.portfolio_id = {self.pid}
              AND {self.field("a.payload", "channel")} = 'call' AND {outcome} IN ({reached})
              AND a.occurred_at >= {start} AND a.occurred_at < {end}{self._of("a.debtor_id")}"""

    def payload_day(self, column: str, key: str) -> str:
        """A date stored as ISO text in a JSON field, as read."""
        value = self.field(column, key)
        return f"CAST({value} AS DATE)" if self.pg else self.d(value)

    # Frames ---------------------------------------------------------------------------------

    def _case_filter(self, alias: str) -> str:
        a = alias
        return f"""{a}.portfolio_id = {self.pid} AND {a}.opened_on <= {self.day}
            {self._of(f"{a}.debtor_id")}
            AND ({a}.closed_on IS NULL OR {a}.closed_on > {self.day}
                 OR ({a}.close_reason = '{CURED}' AND {a}.closed_on >= {self.reopen_from}))"""

    def cases(self) -> str:
        closed = f"c.closed_on <= {self.day}"
        return f"""
            SELECT c.id AS case_id, c.debtor_id, c.currency, {self.d("c.opened_on")} AS opened_on,
                   {self.nd(f"CASE WHEN {closed} THEN c.closed_on END")} AS closed_on,
                   {self.nt(f"CASE WHEN {closed} THEN c.close_reason END")} AS close_reason,
                   c.stage, {self.d("c.stage_entered_on")} AS stage_entered_on,
                   {self.nt("c.stage_floor")} AS stage_floor, c.segment,
                   {self.nt("c.arm")} AS arm, {self.nt("c.agency")} AS agency,
                   {self.nt("c.paused_by")} AS paused_by,
                   {self.nd("c.paused_until")} AS paused_until,
                   {self.nt("c.awaiting_approval")} AS awaiting_approval
            FROM collection_case c
            WHERE {self._case_filter("c")}"""

    def steps_done(self) -> str:
        return f"""
            SELECT s.case_id, s.step_id, s.occurrence, s.status, {self.d("s.done_on")} AS "on"
            FROM case_step s JOIN collection_case c ON c.id = s.case_id
            WHERE {self._case_filter("c")} AND s.done_on <= {self.day}"""

    def approvals(self) -> str:
        return f"""
            SELECT a.case_id, a.stage, {self.d("a.approved_on")} AS approved_on
            FROM approval a JOIN collection_case c ON c.id = a.case_id
            WHERE {self._case_filter("c")} AND a.approved_on <= {self.day}"""

    def _all_contacts(self, since: str | None) -> str:
        """Outbox messages and logged contacts on or before ``as_of`` (and since a day).

        A logged contact's day is the ISO text in its payload's ``on``: compared as text.
        """
        on = self.field("a.payload", "on")
        window = "" if since is None else f" AND o.created_on >= {since}"
        logged_window = "" if since is None else f" AND {on} >= {since}"
        return f"""
            SELECT o.debtor_id, o.channel, {self.d("o.created_on")} AS occurred_on,
                   o.status AS outcome, 0 AS source, o.id AS id
            FROM outbox o
            WHERE o.portfolio_id = {self.pid} AND o.created_on <= {self.day}{window}
              {self._of("o.debtor_id")}
            UNION ALL
            SELECT a.debtor_id, {self.field("a.payload", "channel")} AS channel,
                   {self.payload_day("a.payload", "on")} AS occurred_on,
                   {self.field("a.payload", "outcome")} AS outcome, 1 AS source, a.id AS id
            FROM activity a
            WHERE a.kind = 'contact' AND a.portfolio_id = {self.pid}
              AND {on} <= {self.day}{logged_window}{self._of("a.debtor_id")}"""

    def contacts(self) -> str:
        return f"""
            SELECT debtor_id, channel, occurred_on, outcome
            FROM ({self._all_contacts(self.contacts_from)}) t"""

    def last_contacts(self) -> str:
        return f"""
            SELECT debtor_id, occurred_on AS last_contact_on, outcome AS last_contact_outcome
            FROM (SELECT t.*, ROW_NUMBER() OVER (
                      PARTITION BY debtor_id ORDER BY occurred_on DESC, source DESC, id DESC) AS n
                  FROM ({self._all_contacts(None)}) t) r
            WHERE n = 1"""

    def _live_payment(self, alias: str) -> str:
        """A payment received by ``as_of`` and not reversed on or before it."""
        a = alias
        return f"""{a}.received_on <= {self.day}
            AND ({a}.reversed_on IS NULL OR {a}.reversed_on > {self.day})"""

    def payment_rows(self, ids: tuple[int, int]) -> str:
        """One id range of the payments in force as of ``as_of`` (see ``_last_payments``)."""
        return f"""
            SELECT p.debtor_id, p.currency, {self.d("p.received_on")} AS last_payment_on,
                   p.amount_minor AS last_payment_minor
            FROM payment p{"" if self.only else self._not_indexed()}
            WHERE {id_range("p.id", ids)} AND p.portfolio_id = {self.pid}
              AND {self._live_payment("p")}{self._of("p.debtor_id")}"""

    def allocation_rows(self, ids: tuple[int, int]) -> str:
        """One id range of the allocations in force as of ``as_of`` dated in the window.

        Their last day per instalment (``_settled_on``) is joined with the snapshot's
        instalments whose balance as of ``as_of`` is zero.
        """
        only = (
            ""
            if self.only is None
            else f" AND a.instalment_id IN (SELECT i.id FROM instalment i"
            f" WHERE i.debtor_id IN ({self.only}))"
        )
        return f"""
            SELECT a.instalment_id, {self.d("a.allocated_on")} AS settled_on
            FROM allocation a{"" if self.only else self._not_indexed()}
            WHERE {id_range("a.id", ids)}
              AND a.allocated_on <= {self.day} AND a.allocated_on >= {self.history_from}
              AND (a.reversed_on IS NULL OR a.reversed_on > {self.day}){only}"""

    def promises(self) -> str:
        grace = (
            f"GREATEST(pr.grace_days, {self.grace})"
            if self.pg
            else f"MAX(pr.grace_days, {self.grace})"
        )
        until = (
            f"LEAST(pr.due_on + {grace}, {self.day})"
            if self.pg
            else f"MIN(date(pr.due_on, '+' || {grace} || ' days'), {self.day})"
        )
        return f"""
            SELECT pr.id AS promise_id, pr.debtor_id, pr.currency,
                   {self.d("pr.made_on")} AS made_on, {self.d("pr.due_on")} AS due_on,
                   pr.amount_minor, pr.grace_days,
                   CAST(COALESCE((SELECT SUM(p.amount_minor) FROM payment p
                                  WHERE p.debtor_id = pr.debtor_id AND p.currency = pr.currency
                                    AND p.received_on >= pr.made_on AND p.received_on <= {until}
                                    AND (p.reversed_on IS NULL OR p.reversed_on > {self.day})),
                                 0) AS BIGINT) AS paid_minor
            FROM promise pr
            WHERE pr.portfolio_id = {self.pid} AND pr.made_on <= {self.day}
              AND pr.made_on >= {self.history_from}{self._of("pr.debtor_id")}
              AND (pr.cancelled_on IS NULL OR pr.cancelled_on > {self.day})"""

    def holds(self) -> str:
        return f"""
            SELECT h.id AS hold_id, h.debtor_id, {self.d("h.starts_on")} AS starts_on,
                   {self.d("h.ends_on")} AS ends_on, h.reason
            FROM hold h
            WHERE h.portfolio_id = {self.pid} AND h.starts_on <= {self.day}
              AND h.ends_on > {self.day}{self._of("h.debtor_id")}
              AND (h.released_on IS NULL OR h.released_on > {self.day})"""


def _lit(day: date) -> str:
    """A date literal both backends compare with a DATE column (SQLite stores ISO text)."""
    return f"'{day.isoformat()}'"
