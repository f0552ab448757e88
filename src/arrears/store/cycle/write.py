"""The daily cycle's write side: the engine's :class:`Decisions` applied in ONE transaction.

The decisions are first turned into their effects (:func:`arrears.cycle.effects.effects`: typed
frames, one per kind, keyed by business ids); this module only writes those effects. Data flow
(see ``docs/cycle-store.md``):

1. lock the portfolio's cycle (PostgreSQL ``pg_try_advisory_xact_lock``: a second run fails at
   once with :class:`CycleBusy`; SQLite ``BEGIN IMMEDIATE``: a second run waits for the busy
   timeout, then fails the same way);
2. stage the case effects in a temporary table; refuse stale decisions (:class:`StaleDecisions`);
3. cases: insert the opened ones if absent (natural key), resolve every case id, update the
   changed ones where a column differs, write one ``case.*`` activity each (insert-if-absent);
4. stage the recorded steps with their actions' effects, resolve case ids, drop the steps
   already recorded (by case, step and occurrence); insert the rest into ``case_step`` with
   their ``step.*`` activity, and apply the executed ones' effects set-based (outbox, tasks,
   offers, credit status, stage floor, agency; late fees through
   :func:`arrears.store.ledger.receivables.add_invoice`);
5. promises come to term: their outcome (kept, partial, broken) recorded on the promise where it
   differs, with a ``promise.<outcome>`` activity (insert-if-absent, business key);
6. the ``cycle_run`` row (insert-if-absent on portfolio, ``as_of`` and policy hash).

Every write is insert-if-absent or update-where-different, keyed by the case's natural key, the
step occurrence and the effects' keys, so committing the same decisions again writes nothing
(``RunSummary.written`` is false), also in a store that logged them under the keys of before
(row ids; ``docs/cycle-store.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import OperationalError

from arrears.cycle.effects import CASE_COLUMNS, CREDIT_CHANGES, DEBTOR_ID_SCHEMA, Effects, effects
from arrears.cycle.frames import Decisions
from arrears.domain.actor import system
from arrears.domain.ledger import Instalment, Invoice
from arrears.domain.money import Money
from arrears.store import bulk
from arrears.store.ledger.balances import ConcurrentChange
from arrears.store.ledger.receivables import add_invoice
from arrears.store.portfolios import portfolio_id
from arrears.store.schema import cycle_run, debtor, invoice

#: Who records a promise's outcome: the cycle found it from the payments, whoever ran the day.
CYCLE_ACTOR = system("cycle").name

#: Staged rows above which a day is large (PostgreSQL joins without nested loops: see
#: ``_Writer._no_nested_loops``).
LARGE_DAY = 20_000

#: PostgreSQL advisory lock class of the cycle (``pg_try_advisory_xact_lock(class, portfolio)``).
LOCK_CLASS = 0x61727265  # "arre"


class CycleBusy(ConcurrentChange):
    """Another cycle run for the same portfolio is writing; try again when it has finished."""

    def __init__(self, portfolio: str) -> None:
        super().__init__(
            f"another cycle run for portfolio {portfolio!r} is writing; "
            "try again when it has finished"
        )


class StaleDecisions(ConcurrentChange):
    """The cases changed since the decisions were computed; read and decide again."""


class RunOutOfOrder(ConcurrentChange):
    """The cycle already ran for a later day: runs go forward in time (plan any day)."""

    def __init__(self, portfolio: str, as_of: date, latest: date) -> None:
        super().__init__(
            f"the cycle of portfolio {portfolio!r} has already run for {latest}, after {as_of}: "
            "runs go forward in time; use `arrears plan --as-of` to see an earlier day"
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a commit wrote (all zero and ``written=False`` when it was committed before)."""

    cases_opened: int = 0
    cases_reopened: int = 0
    stage_changes: int = 0
    cases_closed: int = 0
    cases_updated: int = 0
    steps_executed: int = 0
    steps_skipped: int = 0
    steps_blocked: int = 0
    outbox: int = 0
    tasks: int = 0
    offers: int = 0
    holds: int = 0
    releases: int = 0
    fees: int = 0
    promises: int = 0  # promise outcomes recorded (kept, partial, broken)
    tasks_closed: int = 0  # open call tasks of cases closed or paused, closed by the cycle
    tasks_reprioritised: int = 0  # open call tasks whose priority (score) changed
    activities: int = 0
    run_recorded: bool = False

    @property
    def written(self) -> bool:
        return any(v for k, v in asdict(self).items() if k != "run_recorded") or self.run_recorded

    def as_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in asdict(self).items() if k != "run_recorded"}


def commit_decisions(
    engine: Engine,
    *,
    portfolio: str,
    as_of: date,
    policy_name: str,
    policy_sha256: str,
    decisions: Decisions,
    actor: str,
    at: datetime,
    debtors: pl.DataFrame | None = None,
    also: Callable[[Connection], object] | None = None,
) -> RunSummary:
    """Write ``decisions`` for ``portfolio`` as of ``as_of`` in one transaction; see the module.
    ``also`` writes more in that same transaction, last (the day's scores, issue 18): if it
    fails, nothing of the run is kept.

    The decisions are applied as their :func:`arrears.cycle.effects.effects`; ``debtors``
    (``debtor_id``, ``debtor_external_id``) names their debtors (read from the store if absent).

    Raises :class:`CycleBusy` when another run holds the portfolio's cycle lock and
    :class:`StaleDecisions` when the stored cases no longer match what was decided from.
    """
    with engine.connect() as conn:
        try:
            tx = conn.begin()  # SQLite: BEGIN IMMEDIATE (store.database), waits busy_timeout
        except OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                raise CycleBusy(portfolio) from exc
            raise
        with tx:
            _large_cache(conn)
            pid = portfolio_id(conn, portfolio)
            if bulk.is_postgres(conn):
                locked = conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:c, :p)"),
                    {"c": LOCK_CLASS, "p": pid},
                ).scalar_one()
                if not locked:
                    raise CycleBusy(portfolio)
            latest = conn.execute(
                select(func.max(cycle_run.c.as_of)).where(cycle_run.c.portfolio_id == pid)
            ).scalar_one()
            if latest is not None and latest > as_of:
                raise RunOutOfOrder(portfolio, as_of, latest)
            if debtors is None:
                debtors = _debtor_names(conn, pid, decisions)
            done = effects(decisions, portfolio=portfolio, as_of=as_of, debtors=debtors)
            writer = _Writer(conn, pid, portfolio, as_of, policy_name, actor, at)
            counts: dict[str, Any] = writer.cases(done)
            for part in (
                writer.steps(done),
                writer.promises(done),
                writer.worklist(decisions.features),
            ):
                for name, count in part.items():
                    counts[name] = counts.get(name, 0) + count
            summary = replace(RunSummary(), **counts)
            recorded = writer.run(policy_name, policy_sha256, summary)
            if also is not None:
                also(conn)
            return replace(summary, run_recorded=recorded)


def _distinct(pg: bool) -> str:
    return "IS DISTINCT FROM" if pg else "IS NOT"


class _Writer:
    def __init__(
        self,
        conn: Connection,
        pid: int,
        portfolio: str,
        as_of: date,
        policy_name: str,
        actor: str,
        at: datetime,
    ) -> None:
        self.conn = conn
        self.policy_name = policy_name
        self.pid = int(pid)
        self.portfolio = portfolio
        self.as_of = as_of
        self.actor = actor
        self.at = at
        self.pg = bulk.is_postgres(conn)
        self.references_locked = False
        self.large = False  # set by the stagings: more than LARGE_DAY rows
        self.day = f"'{as_of.isoformat()}'"

    def exec(self, sql: str, params: dict[str, Any] | None = None) -> int:
        result = self.conn.execute(text(sql), params or {})
        return max(int(result.rowcount or 0), 0)

    def cast(self, column: str, sql_type: str) -> str:
        return f"CAST({column} AS {sql_type})" if self.pg else column

    # Cases ------------------------------------------------------------------------------------

    def cases(self, done: Effects) -> dict[str, int]:
        frame = pl.concat([done.open_case, done.change_case]).with_columns(
            _legacy_case_key(self.as_of).alias("legacy_key")
        )
        self.large = frame.height > LARGE_DAY
        staged = _stage(self.conn, "_cycle_cases", frame)
        self._refuse_stale(staged)
        opened = self._open_cases(staged)
        self.exec(f"""
            UPDATE {staged} SET case_id = (
                SELECT c.id FROM collection_case c WHERE c.debtor_id = {staged}.debtor_id
                  AND c.currency = {staged}.currency AND c.opened_on = {staged}.opened_on)
            WHERE case_id IS NULL""")
        counts = {"cases_opened": opened}
        # a case that stays in its stage is written only where a column changed (a pause, an
        # approval awaited, a new segment or arm): one case.updated activity for those
        differs = " OR ".join(self._differences("c", "s"))
        self.exec(f"""
            UPDATE {staged} SET event = 'case.updated', change = 'update'
            WHERE change = 'stay' AND EXISTS (
                SELECT 1 FROM collection_case c, {staged} s
                WHERE s.case_id = {staged}.case_id AND c.id = s.case_id AND ({differs}))""")
        for change, name in (
            ("reopen", "cases_reopened"),
            ("stage", "stage_changes"),
            ("update", "cases_updated"),
            ("close", "cases_closed"),
        ):
            counts[name] = self._update_cases(staged, change)
        counts["activities"] = self._activities(
            staged, "s.event", "'case'", "s.key", "s.key", "s.event IS NOT NULL", "s.legacy_key"
        )
        bulk.drop(self.conn, staged)
        return counts

    def _open_cases(self, staged: str) -> int:
        return self.exec(
            f"""
            INSERT INTO collection_case (portfolio_id, debtor_id, currency, opened_on, stage,
                stage_entered_on, stage_floor, segment, arm, agency, awaiting_approval, paused_by,
                paused_until, policy, updated_on)
            SELECT {self.pid}, s.debtor_id, s.currency, s.opened_on, s.stage, s.stage_entered_on,
                   s.stage_floor, s.segment, s.arm, s.agency, s.awaiting_approval, s.paused_by,
                   s.paused_until, :policy, {self.day}
            FROM {staged} s
            WHERE s.change = 'open'
            ON CONFLICT (debtor_id, currency, opened_on) DO NOTHING""",
            {"policy": self.policy_name},
        )

    def _refuse_stale(self, staged: str) -> None:
        """Decisions made from cases that have changed since (another run committed) fail."""
        moved = self.conn.execute(
            text(f"""
            SELECT count(*) FROM {staged} s LEFT JOIN collection_case c ON c.id = s.case_id
            WHERE s.case_id IS NOT NULL AND (
                c.id IS NULL OR c.portfolio_id <> {self.pid} OR c.debtor_id <> s.debtor_id
                OR c.currency <> s.currency OR c.opened_on <> s.opened_on
                OR (c.stage <> s.stage_before AND c.stage <> s.stage))""")
        ).scalar_one()
        doubled = self.conn.execute(
            text(f"""
            SELECT count(*) FROM {staged} s JOIN collection_case c
              ON c.debtor_id = s.debtor_id AND c.currency = s.currency
            WHERE s.change = 'open' AND c.closed_on IS NULL AND c.opened_on <> s.opened_on""")
        ).scalar_one()
        if moved or doubled:
            raise StaleDecisions(
                f"{moved + doubled} case(s) of portfolio {self.portfolio!r} changed since these "
                "decisions were made (another cycle run committed?); run the cycle again"
            )

    def _differences(self, case: str, staged: str) -> list[str]:
        differs = _distinct(self.pg)
        return [f"{case}.{c} {differs} {staged}.{c}" for c in CASE_COLUMNS]

    def _update_cases(self, staged: str, change: str) -> int:
        differs = _distinct(self.pg)
        sets = [f"{c} = s.{c}" for c in CASE_COLUMNS]
        checks = self._differences("collection_case", "s")
        if change == "close":
            sets += [f"closed_on = {self.day}", "close_reason = s.close_reason"]
            checks += [
                f"collection_case.closed_on {differs} {self.cast(self.day, 'DATE')}",
                f"collection_case.close_reason {differs} s.close_reason",
            ]
        elif change == "reopen":
            sets += ["closed_on = NULL", "close_reason = NULL"]
            checks += ["collection_case.closed_on IS NOT NULL"]
        return self.exec(f"""
            UPDATE collection_case SET {", ".join(sets)}, updated_on = {self.day}
            FROM {staged} s
            WHERE collection_case.id = s.case_id AND s.change = '{change}'
              AND ({" OR ".join(checks)})""")

    def _activities(
        self,
        staged: str,
        kind: str,
        subject_kind: str,
        subject_id: str,
        key: str,
        where: str,
        legacy_key: str | None = None,
        actor: str | None = None,
    ) -> int:
        """One activity per staged row, unless its key (or its ``legacy_key``: the same
        activity as a store from before business keys logged it) is already in the log. The key
        is checked by the insert itself (``ON CONFLICT DO NOTHING`` on its unique index): a
        quarter less work than looking it up first (0.5 CPU s of 2.1 for 485,000 steps)."""
        if legacy_key is not None:
            where += (
                f" AND NOT EXISTS (SELECT 1 FROM activity a WHERE a.idempotency_key = {legacy_key})"
            )
        with self._no_nested_loops():  # the legacy key's NOT EXISTS looks in the activity log
            return self.exec(
                f"""
            INSERT INTO activity (occurred_at, kind, actor, portfolio_id, debtor_id,
                                  subject_kind, subject_id, payload, idempotency_key)
            SELECT :at, {kind}, :actor, {self.pid}, s.debtor_id, {subject_kind}, {subject_id},
                   {self.cast("s.payload", "JSON")}, {key}
            FROM {staged} s
            WHERE {where}
            ON CONFLICT (idempotency_key) DO NOTHING""",
                {"at": self.at if self.pg else _sqlite_time(self.at), "actor": actor or self.actor},
            )

    # Steps ------------------------------------------------------------------------------------

    def steps(self, done: Effects) -> dict[str, int]:
        frame = _step_frame(done)
        self.large = frame.height > LARGE_DAY
        staged = _stage(self.conn, "_cycle_steps", frame)
        self.exec(f"""
            UPDATE {staged} SET case_id = (
                SELECT c.id FROM collection_case c WHERE c.debtor_id = {staged}.debtor_id
                  AND c.currency = {staged}.currency AND c.opened_on = {staged}.opened_on)
            WHERE case_id IS NULL""")
        missing = self.conn.execute(
            text(f"SELECT count(*) FROM {staged} WHERE case_id IS NULL")
        ).scalar_one()
        if missing:
            raise StaleDecisions(f"{missing} step(s) name a case that is neither stored nor opened")
        # a step occurrence is recorded once: guarded by the case, step and occurrence (the
        # business columns), not by the key, so steps logged under an older key stay done
        self.exec(f"""
            DELETE FROM {staged} WHERE EXISTS (
                SELECT 1 FROM case_step c WHERE c.case_id = {staged}.case_id
                  AND c.step_id = {staged}.step_id AND c.occurrence = {staged}.occurrence)""")
        self._check_references(staged)
        counts: dict[str, int] = {}
        with self._trusted("case_step"):
            inserted = self.exec(f"""
            INSERT INTO case_step (case_id, step_id, occurrence, action, status, reason, rule,
                                   due_on, done_on, key)
                SELECT s.case_id, s.step_id, s.occurrence, s.action, s.status, s.reason, s.rule,
                       s.due_on, {self.day}, s.key
                FROM {staged} s""")
        executed, blocked = self.conn.execute(
            text(
                f"SELECT SUM(CASE WHEN status = 'executed' THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN status = 'blocked' THEN 1 ELSE 0 END) FROM {staged}"
            )
        ).one()
        counts["steps_executed"] = int(executed or 0)
        counts["steps_blocked"] = int(blocked or 0)
        counts["steps_skipped"] = inserted - counts["steps_executed"] - counts["steps_blocked"]
        activities = self._activities(staged, "s.event", "'case_step'", "s.key", "s.key", "1 = 1")
        with self._trusted("outbox"), self._no_nested_loops():
            counts["outbox"] = self._outbox(staged)
        with self._trusted("task"), self._no_nested_loops():
            counts["tasks"] = self._tasks(staged)
        with self._trusted("offer"):
            counts["offers"] = self._offers(staged)
        counts["holds"], counts["releases"] = self._credit(staged)
        activities += self._case_columns(staged)
        counts["fees"] = self._fees(staged, done.post_fee)
        counts["activities"] = activities
        bulk.drop(self.conn, staged)
        return counts

    def _check_references(self, staged: str) -> None:
        """Every staged step belongs to a case of this portfolio and of the step's debtor; the
        cases and their debtors are locked against deletion (PostgreSQL ``FOR KEY SHARE``), so
        the step's rows may be written without per-row foreign-key checks (see
        ``bulk.insert_frame``'s ``references_checked``)."""
        wrong = self.conn.execute(
            text(f"""
            SELECT count(*) FROM {staged} s JOIN collection_case c ON c.id = s.case_id
            WHERE c.debtor_id <> s.debtor_id OR c.portfolio_id <> {self.pid}""")
        ).scalar_one()
        if wrong:
            raise StaleDecisions(f"{wrong} step(s) name a case of another debtor or portfolio")
        if self.pg:
            self.exec(f"SELECT id FROM portfolio WHERE id = {self.pid} FOR KEY SHARE")
            for table, column in (("collection_case", "case_id"), ("debtor", "debtor_id")):
                self.exec(
                    f"SELECT t.id FROM {table} t WHERE t.id IN "
                    f"(SELECT DISTINCT {column} FROM {staged}) FOR KEY SHARE OF t"
                )
            self.references_locked = True

    @contextmanager
    def _no_nested_loops(self) -> Iterator[None]:
        """PostgreSQL: no nested-loop join for a statement that inserts into a table while
        looking in it for the same rows (``NOT EXISTS``). On a first day the table is empty,
        the planner believes it stays so and scans it once per staged row while the insert
        grows it: quadratic (a 200,000-debtor backlog's cases took over 17 minutes). Each
        insert-if-absent by a unique key is an ``ON CONFLICT ... DO NOTHING`` instead. Only on a
        large day (:data:`LARGE_DAY` staged rows): on a small one a nested loop probing an index
        is the right plan, and a hash join would read the whole table."""
        off = self.pg and self.large
        if off:
            self.conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
        yield
        if off:
            self.conn.exec_driver_sql("SET LOCAL enable_nestloop = on")

    @contextmanager
    def _trusted(self, table: str) -> Iterator[None]:
        """PostgreSQL: insert into ``table`` without its per-row foreign-key triggers, once
        ``_check_references`` has checked and locked every parent (where the role may)."""
        trusted = (
            self.pg and self.references_locked and bulk._may_skip_fk_triggers(self.conn, table)
        )
        if trusted:
            self.conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield  # on an error the transaction rolls back, and the SET LOCAL with it
        if trusted:
            self.conn.exec_driver_sql("SET LOCAL session_replication_role = origin")

    def _outbox(self, staged: str) -> int:
        """The executed steps' messages; a second guard after the engine's rules: a case's
        message (channel and template) is queued at most once a day, in one commit or in two
        (the step is recorded all the same)."""
        return self.exec(
            f"""
            INSERT INTO outbox (key, portfolio_id, debtor_id, case_id, channel, template, params,
                                created_on, status, attempts, created_at, send_at, rule_pack)
            SELECT s.key, {self.pid}, s.debtor_id, s.case_id, s.out_channel, s.template,
                   {self.cast("s.params", "JSON")}, {self.day}, 'queued', 0, :at, s.send_at,
                   s.rule_pack
            FROM {staged} s
            WHERE s.out_channel IS NOT NULL
              AND NOT EXISTS (
                SELECT 1 FROM outbox o WHERE o.debtor_id = s.debtor_id
                  AND o.created_on = {self.day} AND o.case_id = s.case_id
                  AND o.channel = s.out_channel AND o.template = s.template)
            ON CONFLICT (key) DO NOTHING""",
            {"at": self.at if self.pg else _sqlite_time(self.at)},
        )

    def _tasks(self, staged: str) -> int:
        """One open task per debtor and kind: a step whose kind of task is open for the debtor
        creates none, and makes the open one as urgent as itself (its task priority)."""
        open_same = (
            "t.debtor_id = s.debtor_id AND t.kind = s.task_kind AND t.status = 'open' "
            f"AND t.portfolio_id = {self.pid}"
        )
        self.exec(f"""
            UPDATE task SET task_priority = (
                SELECT MIN(s.task_priority) FROM {staged} s
                WHERE s.debtor_id = task.debtor_id AND s.task_kind = task.kind)
            WHERE task.portfolio_id = {self.pid} AND task.status = 'open'
              AND task.task_priority > (
                SELECT MIN(s.task_priority) FROM {staged} s
                WHERE s.debtor_id = task.debtor_id AND s.task_kind = task.kind
                  AND s.key <> task.key)""")
        return self.exec(f"""
            INSERT INTO task (key, portfolio_id, debtor_id, case_id, kind, step_id, task_priority,
                              score, queue, status, created_on, note, not_before)
            SELECT s.key, {self.pid}, s.debtor_id, s.case_id, s.task_kind, s.step_id,
                   s.task_priority, {self.cast("s.score", "DOUBLE PRECISION")}, s.queue, 'open',
                   {self.day}, s.note, s.not_before
            FROM {staged} s
            WHERE s.task_kind IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM task t WHERE {open_same})
            ON CONFLICT (key) DO NOTHING""")

    def _offers(self, staged: str) -> int:
        return self.exec(f"""
            INSERT INTO offer (key, case_id, debtor_id, kind, terms, made_on, expires_on, status)
            SELECT s.key, s.case_id, s.debtor_id, s.offer_kind, {self.cast("s.terms", "JSON")},
                   {self.day}, s.expires_on, 'open'
            FROM {staged} s
            WHERE s.offer_kind IS NOT NULL
            ON CONFLICT (key) DO NOTHING""")

    def _credit(self, staged: str) -> tuple[int, int]:
        at = {"at": self.at if self.pg else _sqlite_time(self.at)}
        counts = []
        for before, after in CREDIT_CHANGES.values():
            counts.append(
                self.exec(
                    f"""
                UPDATE debtor SET credit_status = '{after}', updated_at = :at
                WHERE credit_status = '{before}' AND id IN (
                    SELECT s.debtor_id FROM {staged} s
                    WHERE s.credit_from = '{before}' AND s.credit_to = '{after}')""",
                    at,
                )
            )
        return counts[0], counts[1]

    def _case_columns(self, staged: str) -> int:
        """Stage floors and agencies set by executed steps (already in the case decisions, so
        this only writes for cases that stayed). Returns 0: no activity of its own."""
        differs = _distinct(self.pg)
        for column in ("stage_floor", "agency"):
            self.exec(f"""
                UPDATE collection_case SET {column} = s.{column}_to, updated_on = {self.day}
                FROM {staged} s
                WHERE collection_case.id = s.case_id AND s.{column}_set = 1
                  AND collection_case.{column} {differs} s.{column}_to""")
        return 0

    def _fees(self, staged: str, fees: pl.DataFrame) -> int:
        """The late fees of the steps recorded now, one invoice each through ``add_invoice``
        (its external id is the fee's key: a fee is posted once)."""
        if fees.is_empty():
            return 0
        recorded = {k for (k,) in self.conn.execute(text(f"SELECT key FROM {staged}"))}
        written = 0
        for row in fees.filter(pl.col("step_key").is_in(list(recorded))).iter_rows(named=True):
            exists = self.conn.execute(
                select(invoice.c.id).where(
                    invoice.c.portfolio_id == self.pid, invoice.c.external_id == row["key"]
                )
            ).first()
            if exists is not None:
                continue
            amount = Money.from_minor(int(row["amount_minor"]), row["currency"])
            number, reference = self._fee_label(row["number"]), self._fee_label(row["reference"])
            fee = Invoice(
                row["key"],
                row["debtor_external_id"],
                number if len(number) <= 200 else number[:197] + "...",
                self.as_of,
                (Instalment(1, self.as_of, amount, amount),),
                reference=reference,
                portfolio=self.portfolio,
            )
            add_invoice(self.conn, fee, actor=self.actor, at=self.at)
            written += 1
        return written

    def _fee_label(self, label: str) -> str:
        """A fee's text with each ``{invoice:ID}`` (cycle.decide.eu_interest) written as that
        invoice's number."""
        ids = {int(m) for m in re.findall(r"\{invoice:(\d+)\}", label)}
        if not ids:
            return label
        numbers = dict(
            self.conn.execute(
                select(invoice.c.id, invoice.c.number).where(invoice.c.id.in_(ids))
            ).all()
        )
        return re.sub(r"\{invoice:(\d+)\}", lambda m: str(numbers.get(int(m[1]), m[1])), label)

    # The worklist ------------------------------------------------------------------------------

    def worklist(self, features: pl.DataFrame) -> dict[str, int]:
        """The open call tasks after the day's cases: a task whose case is closed (paid) or
        paused closes by itself (``cancelled``, with the reason; ``task.closed`` by
        ``system:cycle``, once); the others get today's priority (``score``) where it
        changed."""
        reason = (
            "CASE WHEN c.closed_on IS NOT NULL THEN 'closed by the cycle: the case is closed' "
            "ELSE 'closed by the cycle: the case is paused by ' || c.paused_by END"
        )
        ended = (
            f"t.portfolio_id = {self.pid} AND t.status = 'open' AND t.kind = 'call' "
            "AND (c.closed_on IS NOT NULL OR c.paused_by IS NOT NULL)"
        )
        payload = (
            f"json_build_object('kind', t.kind, 'on', {self.day}, 'note', {reason}, "
            "'reason', 'cycle')"
            if self.pg
            else f"json_object('kind', t.kind, 'on', {self.day}, 'note', {reason}, "
            "'reason', 'cycle')"
        )
        key = "'task.closed:' || t.key"
        logged = self.exec(
            f"""
            INSERT INTO activity (occurred_at, kind, actor, portfolio_id, debtor_id,
                                  subject_kind, subject_id, payload, idempotency_key)
            SELECT :at, 'task.closed', :actor, {self.pid}, t.debtor_id, 'task',
                   CAST(t.id AS TEXT), {payload}, {key}
            FROM task t JOIN collection_case c ON c.id = t.case_id
            WHERE {ended} AND NOT EXISTS (
                SELECT 1 FROM activity a WHERE a.idempotency_key = {key})""",
            {"at": self.at if self.pg else _sqlite_time(self.at), "actor": CYCLE_ACTOR},
        )
        closed = self.exec(f"""
            UPDATE task SET status = 'cancelled', closed_on = {self.day}, note = (
                SELECT {reason} FROM collection_case c WHERE c.id = task.case_id)
            WHERE task.portfolio_id = {self.pid} AND task.status = 'open' AND task.kind = 'call'
              AND EXISTS (SELECT 1 FROM collection_case c WHERE c.id = task.case_id
                          AND (c.closed_on IS NOT NULL OR c.paused_by IS NOT NULL))""")
        return {
            "tasks_closed": closed,
            "tasks_reprioritised": self._reprioritise(features),
            "activities": logged,
        }

    def _reprioritise(self, features: pl.DataFrame) -> int:
        """Each open call task gets its case's priority of the day (the policy's ``priority``,
        the worklist's order), where it differs: read the open tasks (a few per cent of the
        cases), join them with the day's priorities, write the changed ones."""
        if features.is_empty() or "priority" not in features.columns:
            return 0
        tasks = bulk.read_frame(
            self.conn,
            f"""SELECT t.id, t.debtor_id, c.currency, t.score
                FROM task t JOIN collection_case c ON c.id = t.case_id
                WHERE t.portfolio_id = {self.pid} AND t.status = 'open' AND t.kind = 'call'""",
            {"task_id": pl.Int64(), "debtor_id": pl.Int64(), "currency": pl.String(),
             "score": pl.Float64()},
            {},
        )  # fmt: skip
        priorities = features.select(
            pl.col("debtor_id").cast(pl.Int64()),
            "currency",
            pl.col("priority").cast(pl.Float64()).fill_null(0.0).alias("new_score"),
        )
        changed = tasks.join(priorities, on=["debtor_id", "currency"], how="inner").filter(
            pl.col("score") != pl.col("new_score")
        )
        if changed.is_empty():
            return 0
        staged = bulk.stage(self.conn, "_cycle_scores", changed.select("task_id", "new_score"))
        count = self.exec(f"""
            UPDATE task SET score = s.new_score FROM {staged} s
            WHERE task.id = s.task_id AND task.status = 'open'""")
        bulk.drop(self.conn, staged)
        return count

    # Promises ---------------------------------------------------------------------------------

    def promises(self, done: Effects) -> dict[str, int]:
        """Each promise come to term gets its outcome (kept, partial, broken), the share kept
        and the day it was found, where they differ (so once), and its activity once."""
        if done.settle_promise.is_empty():
            return {}
        staged = bulk.stage(self.conn, "_cycle_promises", done.settle_promise)
        differs = _distinct(self.pg)
        recorded = self.exec(f"""
            UPDATE promise SET outcome = s.outcome, kept_minor = s.kept_minor,
                               outcome_on = s.found_on
            FROM {staged} s
            WHERE promise.id = s.promise_id AND promise.portfolio_id = {self.pid}
              AND promise.debtor_id = s.debtor_id AND promise.status = 'open'
              AND (promise.outcome {differs} s.outcome
                   OR promise.kept_minor {differs} s.kept_minor)""")
        logged = self._activities(
            staged,
            "s.event",
            "'promise'",
            self.cast("s.promise_id", "TEXT") if self.pg else "CAST(s.promise_id AS TEXT)",
            "s.key",
            f"EXISTS (SELECT 1 FROM promise p WHERE p.id = s.promise_id "
            f"AND p.portfolio_id = {self.pid} AND p.status = 'open')",
            actor=CYCLE_ACTOR,
        )
        bulk.drop(self.conn, staged)
        return {"promises": recorded, "activities": logged}

    # The run ----------------------------------------------------------------------------------

    def run(self, policy_name: str, policy_sha256: str, summary: RunSummary) -> bool:
        found = self.conn.execute(
            select(cycle_run.c.id).where(
                cycle_run.c.portfolio_id == self.pid,
                cycle_run.c.as_of == self.as_of,
                cycle_run.c.policy_sha256 == policy_sha256,
            )
        ).first()
        if found is not None:
            return False
        self.conn.execute(
            insert(cycle_run).values(
                portfolio_id=self.pid,
                as_of=self.as_of,
                policy=policy_name,
                policy_sha256=policy_sha256,
                started_at=self.at,
                finished_at=self.at,
                summary=summary.as_dict(),
            )
        )
        return True


#: SQLite's page cache of the commit's connection, main and temporary schemas, in KiB.
SQLITE_CACHE_KIB = 512 * 1024
#: How much of the SQLite file the commit reads through a memory map (``PRAGMA mmap_size``).
SQLITE_MMAP_BYTES = 8 * 2**30


def _large_cache(conn: Connection) -> None:
    """Give the commit's SQLite connection a page cache in proportion to a first day.

    SQLite's default page cache is 2 MiB: a first day writing a million cases, their steps and
    two million activities into indexed tables (and staging them in temporary tables) went to
    the operating system for a page at every index insert, and spilled dirty pages into the
    WAL again and again. These settings are of this connection only, memory is taken as pages
    are used, and they change no guarantee (the transaction and its journal are the same)."""
    if bulk.is_postgres(conn) or conn.info.get("arrears.cycle_cache"):
        return
    for schema in ("main", "temp"):
        conn.exec_driver_sql(f"PRAGMA {schema}.cache_size = -{SQLITE_CACHE_KIB}")
    conn.exec_driver_sql(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    conn.info["arrears.cycle_cache"] = True


def _stage(conn: Connection, name: str, frame: pl.DataFrame) -> str:
    """``bulk.stage``; on SQLite each group of rows with the same columns set (a message, an
    offer, a skip...) is inserted with only those columns, the others left null. SQLite's
    ``executemany`` costs per value bound, null or not: the step frame's 485,000 rows x 34
    columns, mostly null, took 6.0 CPU seconds to stage at 200,000 debtors."""
    if bulk.is_postgres(conn) or frame.width > 62 or frame.is_empty():
        return bulk.stage(conn, name, frame)
    bulk.stage(conn, name, frame.clear())
    columns = frame.columns
    mask = pl.sum_horizontal(
        pl.col(c).is_not_null().cast(pl.Int64()) * (1 << i) for i, c in enumerate(columns)
    )
    sets = frame.select(mask.alias("_set"))["_set"]
    for bits in sets.unique().sort().to_list():  # one group at a time (not all copied at once)
        kept = [c for i, c in enumerate(columns) if bits >> i & 1] or columns[:1]
        bulk.insert_frame(conn, name, frame.filter(sets == bits).select(kept))
    return name


def _sqlite_time(at: datetime) -> str:
    """A time as SQLAlchemy stores a ``DateTime`` in SQLite (naive UTC text)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


#: Up to this many debtors decided, their names are read by id; more: the whole portfolio's.
NAMES_BY_ID = 20_000


def _debtor_names(conn: Connection, pid: int, decisions: Decisions) -> pl.DataFrame:
    """The external id (the business id keys are built from) of each debtor decided on: read by
    id for a day of few changes, else the portfolio's whole list (one scan)."""
    ids = pl.concat(
        [
            decisions.cases["debtor_id"],
            decisions.steps["debtor_id"],
            decisions.promises["debtor_id"],
        ]
    ).unique()
    query = select(debtor.c.id, debtor.c.external_id).where(debtor.c.portfolio_id == pid)
    if ids.len() > NAMES_BY_ID:
        rows = conn.execute(query).all()
    else:
        ordered = ids.sort().to_list()
        rows = [
            row
            for start in range(0, len(ordered), 900)  # SQLite's bound parameters, with room
            for row in conn.execute(query.where(debtor.c.id.in_(ordered[start : start + 900])))
        ]
    return pl.DataFrame(rows, schema=DEBTOR_ID_SCHEMA, orient="row")


def _legacy_case_key(as_of: date) -> pl.Expr:
    """A case event's key as stores logged it before keys were built from business ids
    (``<event>:<debtor_id>:<currency>:<opened_on>:<as_of>``): the same event is not logged
    twice across an upgrade."""
    return pl.concat_str(
        pl.col("event").fill_null("case.updated"),
        pl.lit(":"),
        pl.col("debtor_id").cast(pl.String()),
        pl.lit(":"),
        pl.col("currency"),
        pl.lit(":"),
        pl.col("opened_on").dt.strftime("%Y-%m-%d"),
        pl.lit(f":{as_of.isoformat()}"),
    )


def _step_frame(done: Effects) -> pl.DataFrame:
    """The recorded steps with the columns of their actions' effects (joined on the step's key),
    staged once: each statement then writes one kind from its columns."""
    frame = done.record_step
    for columns in (
        done.queue_message.select(
            "key",
            pl.col("channel").alias("out_channel"),
            "template",
            "params",
            "send_at",
            "rule_pack",
        ),
        done.create_task.select(
            "key",
            pl.col("kind").alias("task_kind"),
            "task_priority",
            "score",
            "queue",
            "note",
            "not_before",
        ),
        done.make_offer.select("key", pl.col("kind").alias("offer_kind"), "terms", "expires_on"),
        done.hold_credit.select("key", "credit_from", "credit_to"),
        done.raise_stage_floor.select(
            "key", pl.col("stage_floor").alias("stage_floor_to"), pl.lit(1).alias("stage_floor_set")
        ),
        done.place_with_agency.select(
            "key", pl.col("agency").alias("agency_to"), pl.lit(1).alias("agency_set")
        ),
    ):
        frame = frame.join(columns, on="key", how="left", maintain_order="left")
    return frame.with_columns(pl.col("stage_floor_set", "agency_set").fill_null(0))


__all__ = ["CycleBusy", "RunSummary", "StaleDecisions", "commit_decisions"]
