"""The decision engine: (portfolio as of a date, compiled policy, as_of) -> decisions.

Pure and columnar: every step below is a Polars expression over the whole portfolio (one row per
debtor and currency), never a Python loop per debtor, no I/O, no clock. Each debtor's decisions
depend only on that debtor's rows, so the engine can run on any partition of the debtors and give
the same decisions for them as a full run (``tests/test_cycle_properties.py`` checks it).

1. Features (:func:`arrears.cycle.features.feature_table`).
2. Segment: the first segment whose condition holds (the default last).
3. Stage: the most severe stage whose condition holds, among the stages the case may enter (a
   stage that needs approval is entered only once a person approved it for this case; until
   then the case stays in the most severe stage it may enter and says which stage awaits
   approval); a ``move_stage`` floor keeps the case at least that severe. A debtor whose
   overdue balance is positive but within the policy's ``cure_tolerance`` is cured (``clear``).
4. Case: open, reopen (cured within ``reopen_within_days``: its steps are not repeated), move
   stage, update, stay or close (cured): transitions :mod:`arrears.domain.case` allows
   (``tests/test_case_machine.py`` checks them against it).
5. Experiment arm: deterministic from the debtor id and the experiment's name.
6. Pause: a manual hold, an open dispute, an open promise to pay or a plan in good standing.
   A dispute pauses the whole case under the policy's ``disputes.pause: case``; by default
   (``invoices``) its invoices are only out of the features (balance, days past due...) and it
   pauses a case only when nothing else is overdue (the case then keeps its stage instead of
   closing as cured).
7. Steps: the cadence of the case's (segment, stage, arm); every occurrence that has come due and
   is not recorded yet is executed, or skipped with the reason (condition false; missed by more
   than ``catch_up_days``; superseded by a later occurrence of the same step in a catch-up;
   came due before the case entered its stage, when a later step of its action and channel
   runs; the same message, channel and template, as a later step that runs today).
   Nothing runs while the case is paused. While a case is placed with an agency no in-house
   contact step runs (``send``, ``call_task``: skipped, the agency contacts the debtor) and no
   ``credit_release`` (credit stays on hold).
8. Contact rules: every message or call about to be executed goes through the guard
   (:mod:`arrears.contact`): it may be sent at the policy's ``send_time`` in the debtor's zone,
   deferred into the next allowed window (``send_at``), moved to a fallback channel, or
   blocked (recorded as ``blocked`` with the rule's id).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from arrears.contact.frames import ATTEMPT_SCHEMA
from arrears.contact.guard import guard, place_in_runs
from arrears.cycle.compiled import BROKEN_PROMISE, CompiledPolicy, share_threshold
from arrears.cycle.features import KEY, MONEY, feature_table, promise_states
from arrears.cycle.frames import (
    CASE_DECISION_SCHEMA,
    PROMISE_OUTCOME_SCHEMA,
    STEP_DECISION_SCHEMA,
    CycleInput,
    Decisions,
)
from arrears.domain.case import CLEAR, Change, CloseReason, PausedBy


def decide(
    data: CycleInput, policy: CompiledPolicy, as_of: date, *, explain: bool = False
) -> Decisions:
    """Decide what to do on ``as_of`` for every debtor in ``data``."""
    data = _current_cases(data, policy, as_of)
    features = feature_table(
        data,
        as_of,
        list(policy.policy.buckets),
        promise_grace_days=policy.policy.promise_grace_days,
        disputes=policy.policy.disputes.pause,
    )
    features = features.with_columns(_dispute_pause(policy).alias("_dispute_pause"))
    features = _segment(features, policy)
    features = _stage(features, data, policy)
    features = _arm(features, policy)
    features = _pause(features, data, as_of)
    features = features.with_columns(
        policy.priority.cast(pl.Float64()).fill_null(0.0).alias("priority"),
        # the row's place in the feature table, sorted by (debtor, currency): one integer that
        # groups and sorts the steps like the two key columns (a string among them), cheaper
        pl.int_range(pl.len(), dtype=pl.UInt32()).alias("_k"),
    )
    # lazy: each consumer gathers only the columns it reads from the wide feature frame
    cases = _cases(features, as_of)
    steps, plan = _steps(cases, features, data, policy, as_of, explain=explain)
    public = [c for c in features.columns if not c.startswith(("_", "case_"))]
    return Decisions(
        features=features.select(*public),
        cases=cases.select(list(CASE_DECISION_SCHEMA))
        .cast(CASE_DECISION_SCHEMA)  # type: ignore[arg-type]
        .collect(engine="in-memory"),
        steps=steps,
        plan=plan,
        promises=promise_outcomes(data, as_of, policy.policy.promise_grace_days),
    )


def promise_outcomes(data: CycleInput, as_of: date, grace_days: int) -> pl.DataFrame:
    """Every promise whose date plus grace has passed by ``as_of``, with its outcome
    (:data:`arrears.cycle.frames.PROMISE_OUTCOME_SCHEMA`): kept (paid in full), partial (part
    of it paid: ``kept_minor``) or broken (nothing paid), found on the day after its grace."""
    return (
        promise_states(data.promises, as_of, grace_days)
        .filter(pl.col("_ends_on") <= as_of)
        .with_columns(
            pl.col("state").alias("outcome"),
            pl.col("_ends_on").alias("found_on"),
            pl.min_horizontal("paid_minor", "amount_minor").alias("kept_minor"),
        )
        .select(list(PROMISE_OUTCOME_SCHEMA))
        .cast(PROMISE_OUTCOME_SCHEMA)  # type: ignore[arg-type]
        .sort("promise_id")
        .collect()
    )


def _current_cases(data: CycleInput, policy: CompiledPolicy, as_of: date) -> CycleInput:
    """At most one case per debtor and currency: the open one, else the most recent one closed
    as cured within the reopen window."""
    window = as_of - timedelta(days=policy.policy.reopen_within_days)
    cases = (
        data.cases.filter(
            pl.col("closed_on").is_null()
            | ((pl.col("closed_on") >= window) & (pl.col("close_reason") == CloseReason.CURED))
        )
        .filter(pl.col("opened_on") <= as_of)
        .sort(
            [pl.col("closed_on").is_null(), "opened_on"], descending=[True, True], nulls_last=True
        )
        .unique(KEY, keep="first", maintain_order=True)
    )
    for column in ("paused_by", "awaiting_approval"):  # older stores do not keep them
        if column not in cases.columns:
            cases = cases.with_columns(pl.lit(None, pl.String()).alias(column))
    if "paused_until" not in cases.columns:
        cases = cases.with_columns(pl.lit(None, pl.Date()).alias("paused_until"))
    return CycleInput(**{**_fields(data), "cases": cases})


def _dispute_pause(policy: CompiledPolicy) -> pl.Expr:
    """Whether an open dispute pauses the row's case: any disputed debt under ``pause: case``;
    by default only when nothing else is overdue (else the rest is collected)."""
    if policy.policy.disputes.pause == "case":
        return pl.col("disputed")
    return pl.col("disputed") & (pl.col("_overdue_minor") == 0)


def _fields(data: CycleInput) -> dict[str, pl.DataFrame]:
    return {name: getattr(data, name) for name in CycleInput.__slots__}


def _attach(frame: pl.DataFrame, right: pl.DataFrame, left_on: str, right_on: str) -> pl.DataFrame:
    """``frame`` left-joined with ``right`` (unique on ``right_on``), keeping ``frame``'s rows and
    order: the join runs on the key alone, so ``frame``'s (many) columns are not gathered."""
    extra = frame.select(left_on).join(
        right, left_on=left_on, right_on=right_on, how="left", maintain_order="left"
    )
    if extra.height != frame.height:  # right is not unique on the key: a plain join
        return frame.join(right, left_on=left_on, right_on=right_on, how="left")
    return frame.hstack(extra.drop(left_on))


def _attach_on(frame: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """``frame`` left-joined with ``right`` (unique on ``on``), rows and order kept; the join
    runs on the keys alone (see :func:`_attach`); nothing to join: null columns."""
    if right.is_empty():
        return frame.with_columns(
            pl.lit(None, dtype).alias(name)
            for name, dtype in right.schema.items()
            if name not in on
        )
    extra = frame.select(on).join(right, on=on, how="left", maintain_order="left")
    if extra.height != frame.height:  # right is not unique on the keys: a plain join
        return frame.join(right, on=on, how="left")
    return frame.hstack(extra.drop(on))


def _segment(frame: pl.DataFrame, policy: CompiledPolicy) -> pl.DataFrame:
    expr: pl.Expr | None = None
    for name, condition in reversed(
        list(zip(policy.segments, policy.segment_conditions, strict=True))
    ):
        if condition is None:
            expr = pl.lit(name)
        elif expr is None:
            expr = pl.when(condition).then(pl.lit(name)).otherwise(pl.lit(None, pl.String()))
        else:
            expr = pl.when(condition).then(pl.lit(name)).otherwise(expr)
    assert expr is not None
    return frame.with_columns(expr.alias("segment"))


def _stage(frame: pl.DataFrame, data: CycleInput, policy: CompiledPolicy) -> pl.DataFrame:
    approvals = data.approvals.group_by("case_id").agg(pl.col("stage").alias("_approved"))
    frame = _attach(frame, approvals, "case_case_id", "case_id").with_columns(
        pl.col("_approved").fill_null([])
    )
    severity = {name: i for i, name in enumerate(policy.stages)}
    open_case = pl.col("case_closed_on").is_null() & pl.col("case_case_id").is_not_null()
    # onboarding: a case that opens while it matches an escalation stage, and keeps waiting for
    # it, enters no escalation stage until a person approves one (arrears.policy.onboarding)
    escalations = [name for name, e in zip(policy.stages, policy.escalation, strict=True) if e]
    held = pl.col("case_case_id").is_null() | (
        open_case
        & pl.col("case_awaiting_approval").is_in(escalations).fill_null(False)
        & ~pl.col("case_stage").is_in(escalations).fill_null(False)
    )
    any_match, allowed = [pl.lit(0)], [pl.lit(0)]
    for i, (name, condition) in enumerate(zip(policy.stages, policy.stage_conditions, strict=True)):
        if condition is None:
            continue
        any_match.append(pl.when(condition).then(pl.lit(i)).otherwise(0))
        may_enter = pl.lit(True)
        if policy.approval[i]:
            may_enter = pl.col("_approved").list.contains(name) | (
                open_case & (pl.col("case_stage") == name)
            )
        elif policy.escalation[i]:
            may_enter = pl.col("_approved").list.contains(name) | ~held
        allowed.append(pl.when(condition & may_enter).then(pl.lit(i)).otherwise(0))
    tolerance = pl.lit(policy.policy.cure_tolerance, MONEY)
    cured = (pl.col("_overdue_minor") > 0) & (pl.col("overdue_balance") <= tolerance)
    floor = pl.col("case_stage_floor").replace_strict(severity, default=0, return_dtype=pl.Int32)
    current = pl.col("case_stage").replace_strict(severity, default=0, return_dtype=pl.Int32)
    waiting_in = pl.col("_sev_any").replace_strict(
        dict(enumerate(policy.waiting)), default=0, return_dtype=pl.Int32
    )
    # every stage it matches waits for an approval: an open case stays where it is, a new one
    # waits in the stage below (policy.waiting)
    waits = (pl.col("_sev") == 0) & (pl.col("_sev_any") > 0)
    # (disputes.pause: invoices) an open case with an open dispute and nothing else overdue
    # keeps its stage, paused by the dispute, rather than closing as cured
    # (arrears.domain.case.stage_for's ``held``)
    held_by_dispute = open_case & pl.lit(policy.policy.disputes.pause == "invoices")
    held_by_dispute = held_by_dispute & pl.col("_dispute_pause")
    frame = frame.with_columns(
        pl.max_horizontal(any_match).alias("_sev_any"),
        pl.max_horizontal(allowed).alias("_sev"),
        cured.alias("_cured"),
    ).with_columns(
        pl.when(held_by_dispute)
        .then(current)
        .when(pl.col("_cured") | (pl.col("_sev_any") == 0))
        .then(0)
        .when(open_case)
        .then(pl.max_horizontal(pl.col("_sev"), floor, pl.when(waits).then(current).otherwise(0)))
        .when(waits)
        .then(waiting_in)
        .otherwise(pl.col("_sev"))
        .alias("_sev")
    )
    names = dict(enumerate(policy.stages))
    return frame.with_columns(
        pl.col("_sev").replace_strict(names, return_dtype=pl.String()).alias("_new_stage"),
        pl.when(~pl.col("_cured") & (pl.col("_sev_any") > pl.col("_sev")))
        .then(pl.col("_sev_any").replace_strict(names, return_dtype=pl.String()))
        .otherwise(pl.lit(None, pl.String()))
        .alias("awaiting_approval"),
    )


def _unit_hash(debtor_ids: pl.Series, salt: str) -> pl.Series:
    """A 53-bit hash of each debtor id and ``salt`` (splitmix64): stable across runs, machines
    and library versions, unlike Polars' own hash."""
    seed = np.uint64(int.from_bytes(hashlib.sha256(salt.encode()).digest()[:8], "big"))
    z = debtor_ids.to_numpy().astype(np.uint64) ^ seed
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return pl.Series("_hash", (z >> np.uint64(11)).astype(np.int64))


def _arm(frame: pl.DataFrame, policy: CompiledPolicy) -> pl.DataFrame:
    arm = pl.lit(None, pl.String())
    arm_key = pl.lit("")
    hashes = []
    for i, exp in reversed(list(enumerate(policy.policy.experiments))):
        column = f"_hash{i}"
        hashes.append(_unit_hash(frame["debtor_id"], exp.name).alias(column))
        applies = (pl.col("segment") == exp.segment) & (pl.col("_new_stage") == exp.stage)
        challenger = pl.col(column) < share_threshold(exp.share)
        arm = (
            pl.when(applies)
            .then(
                pl.when(challenger)
                .then(pl.lit(f"{exp.name}:challenger"))
                .otherwise(pl.lit(f"{exp.name}:champion"))
            )
            .otherwise(arm)
        )
        arm_key = pl.when(applies & challenger).then(pl.lit(exp.name)).otherwise(arm_key)
    return frame.with_columns(hashes).with_columns(arm.alias("arm"), arm_key.alias("_arm_key"))


def _pause(frame: pl.DataFrame, data: CycleInput, as_of: date) -> pl.DataFrame:
    holds = (
        data.holds.filter((pl.col("starts_on") <= as_of) & (pl.col("ends_on") > as_of))
        .group_by("debtor_id")
        .agg(pl.col("ends_on").max().alias("_hold_until"))
    )
    frame = _attach(frame, holds, "debtor_id", "debtor_id")
    paused_by = (  # in the order of arrears.domain.case.PAUSE_PRECEDENCE
        pl.when(pl.col("_hold_until").is_not_null())
        .then(pl.lit(PausedBy.HOLD))
        .when(pl.col("_dispute_pause"))
        .then(pl.lit(PausedBy.DISPUTE))
        .when(pl.col("promise_open"))
        .then(pl.lit(PausedBy.PROMISE))
        .when(pl.col("plan_active"))
        .then(pl.lit(PausedBy.PLAN))
        .otherwise(pl.lit(None, pl.String()))
    )
    until = (
        pl.when(pl.col("_hold_until").is_not_null())
        .then(pl.col("_hold_until"))
        .when(pl.col("_dispute_pause"))
        .then(pl.lit(None, pl.Date()))
        .when(pl.col("promise_open"))
        .then(pl.col("_promise_until"))
        .otherwise(pl.lit(None, pl.Date()))
    )
    return frame.with_columns(paused_by.alias("paused_by"), until.alias("paused_until"))


def _cases(frame: pl.DataFrame, as_of: date) -> pl.LazyFrame:
    """Each (debtor, currency) with a case today and its ``change`` (open, reopen, stage,
    update, stay, close). Lazy over ``frame``: filtering the wide feature frame would gather
    every column, while each consumer (the case decisions, the steps) reads a few."""
    has_case = pl.col("case_case_id").is_not_null()
    is_open = has_case & pl.col("case_closed_on").is_null()
    is_closed = has_case & pl.col("case_closed_on").is_not_null()
    clear = pl.col("_new_stage") == CLEAR
    same = [
        pl.col("segment").eq_missing(pl.col("case_segment")),
        pl.col("arm").eq_missing(pl.col("case_arm")),
        pl.col("paused_by").eq_missing(pl.col("case_paused_by")),
        pl.col("paused_until").eq_missing(pl.col("case_paused_until")),
        pl.col("awaiting_approval").eq_missing(pl.col("case_awaiting_approval")),
    ]
    change = (
        pl.when(is_open & clear)
        .then(pl.lit(Change.CLOSE))
        .when(is_open & (pl.col("_new_stage") != pl.col("case_stage")))
        .then(pl.lit(Change.STAGE))
        .when(is_open & ~pl.all_horizontal(same))
        .then(pl.lit(Change.UPDATE))
        .when(is_open)
        .then(pl.lit(Change.STAY))
        .when(is_closed & ~clear)
        .then(pl.lit(Change.REOPEN))
        .when(~has_case & ~clear)
        .then(pl.lit(Change.OPEN))
        .otherwise(pl.lit(None, pl.String()))
    )
    entered = pl.col("change").is_in([Change.OPEN, Change.REOPEN, Change.STAGE])
    return (
        frame.lazy()
        .with_columns(change.alias("change"))
        .filter(pl.col("change").is_not_null())
        .with_columns(
            pl.col("case_case_id").alias("case_id"),
            pl.when(pl.col("change") == Change.OPEN)
            .then(pl.lit(as_of))
            .otherwise(pl.col("case_opened_on"))
            .alias("opened_on"),
            pl.col("case_stage").alias("stage_before"),
            pl.col("_new_stage").alias("stage"),
            pl.when(entered)
            .then(pl.lit(as_of))
            .otherwise(pl.col("case_stage_entered_on"))
            .alias("stage_entered_on"),
            pl.when(pl.col("change") == Change.REOPEN)  # a reopened case loses its floor
            .then(pl.lit(None, pl.String()))
            .otherwise(pl.col("case_stage_floor"))
            .alias("stage_floor"),
            pl.col("case_agency").alias("agency"),
            # a closed case is not paused: its row keeps no pause of its last day
            pl.when(pl.col("change") == Change.CLOSE)
            .then(pl.lit(None, pl.String()))
            .otherwise(pl.col("paused_by"))
            .alias("paused_by"),
            pl.when(pl.col("change") == Change.CLOSE)
            .then(pl.lit(None, pl.Date()))
            .otherwise(pl.col("paused_until"))
            .alias("paused_until"),
            pl.when(pl.col("change") == Change.CLOSE)
            .then(pl.lit(CloseReason.CURED))
            .otherwise(pl.lit(None, pl.String()))
            .alias("close_reason"),
            pl.col("_overdue_minor").alias("overdue_minor"),
            pl.col("_balance_minor").alias("balance_minor"),
        )
    )


_DONE = {"executed", "skipped"}
#: The steps a case placed with an agency does not run: in-house contact (messages on every
#: channel, call tasks) and releasing the debtor's credit (it stays on hold while placed).
PLACED_SKIPS = ["send", "call_task", "credit_release"]


def _steps(
    cases: pl.LazyFrame,
    features: pl.DataFrame,
    data: CycleInput,
    policy: CompiledPolicy,
    as_of: date,
    *,
    explain: bool,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    # lazy: the filter gathers only the columns used below, not every column of the cases
    live = cases.filter(pl.col("change") != Change.CLOSE)
    conditions = [expr.alias(f"_when{i}") for i, expr in enumerate(policy.step_conditions)]
    if conditions:
        live = live.with_columns(conditions)
    program = policy.program
    rows = (
        live.select(
            "case_id",
            *KEY,
            "_k",
            "opened_on",
            "stage_entered_on",
            "_oldest_due",
            "_broken_on",
            "_overdue_minor",
            "overdue_invoices",
            "days_past_due",
            "_exp",
            "kind",
            "segment",
            pl.col("stage"),
            pl.col("_arm_key").alias("arm_key"),
            "paused_by",
            "paused_until",
            "agency",
            "priority",
            *[f"_when{i}" for i in range(len(conditions))],
        )
        .collect()
        .join(
            _with_step_rank(program),
            on=["segment", "stage", "arm_key"],
            how="inner",
            maintain_order="left_right",  # the cases' order, then the program's: the output's
        )
    )
    anchor = (
        pl.when(pl.col("anchor") == "case_opened")
        .then(pl.col("opened_on"))
        .when(pl.col("anchor") == "stage_entered")
        .then(pl.col("stage_entered_on"))
        .when(pl.col("anchor") == BROKEN_PROMISE)  # a promise broken while the case is open
        .then(pl.when(pl.col("_broken_on") >= pl.col("opened_on")).then(pl.col("_broken_on")))
        .otherwise(pl.col("_oldest_due"))
    )
    broken = pl.col("anchor") == BROKEN_PROMISE
    rows = rows.with_columns(
        (anchor + pl.duration(days=pl.col("offset_days"))).alias("due_on"),
        # each broken promise runs the on_broken_promise steps once: the occurrence is the day
        # it was found broken (YYYYMMDD)
        pl.when(broken)
        .then(pl.col("_broken_on").dt.strftime("%Y%m%d").cast(pl.Int32()))
        .otherwise(pl.col("occurrence"))
        .alias("occurrence"),
    ).filter(~broken | pl.col("due_on").is_not_null())
    done = data.steps_done.select(
        "case_id",
        "step_id",
        "occurrence",
        pl.col("status").alias("_done"),
        pl.col("on").alias("_done_on"),
    )
    rows = _attach_on(rows, done, ["case_id", "step_id", "occurrence"])
    condition_ok = pl.lit(True)
    for i in range(len(conditions)):
        condition_ok = (
            pl.when(pl.col("condition") == i).then(pl.col(f"_when{i}")).otherwise(condition_ok)
        )
    due = rows.filter(
        pl.col("_done").is_null() & (pl.col("due_on") <= as_of) & pl.col("paused_by").is_null()
    )
    # A case that enters a stage late (opened mid-cadence on its first run, or jumping a stage)
    # does not receive every step that came due before it entered: only the most recent one of
    # each action and channel runs, counted as due on the day of entry.
    before_entry = pl.col("due_on") < pl.col("stage_entered_on")
    due = due.with_columns(before_entry.alias("_before_entry"))
    due = due.with_columns(
        _entry_skips(due),
        pl.when(pl.col("_before_entry"))
        .then(pl.col("stage_entered_on"))
        .otherwise(pl.col("due_on"))
        .alias("_effective_due"),
    )
    due = due.with_columns(
        (pl.lit(as_of) - pl.col("_effective_due")).dt.total_days().alias("_late")
    )
    late = pl.col("_late")
    catch_up = policy.policy.catch_up_days
    eligible = ~pl.col("_entry_skip") & (late <= catch_up)
    # when/then rather than a filter (max ignores nulls): faster in a window, same values
    due = due.with_columns(
        (
            pl.col("occurrence")
            == pl.when(eligible).then(pl.col("occurrence")).max().over(["_k", "_sid"])
        ).alias("_latest")
    )
    latest = pl.col("_latest")
    placed = pl.col("agency").is_not_null() & pl.col("action").is_in(PLACED_SKIPS)
    due = due.with_columns((eligible & latest & condition_ok & ~placed).alias("_runs"))
    # a catch-up that would send the same message twice (two steps of it came due meanwhile)
    # sends it once: the most recent step's
    due = due.with_columns(_repeated_messages(due))
    repeated = pl.col("_repeat_of").is_not_null()
    status = (
        pl.when(
            pl.col("_entry_skip") | (late > catch_up) | ~latest | ~condition_ok | repeated | placed
        )
        .then(pl.lit("skipped"))
        .otherwise(pl.lit("executed"))
    )
    reason: list[tuple[pl.Expr, pl.Expr]] = [
        (
            placed & (pl.col("action") == "credit_release"),
            pl.format("placed with agency {}: credit stays on hold", pl.col("agency")),
        ),
        (
            placed,
            pl.format("placed with agency {}: the agency contacts the debtor", pl.col("agency")),
        ),
        (
            pl.col("_entry_skip"),
            pl.format(
                "came due {}, before the case entered {} on {}; a later {} step ran instead",
                pl.col("due_on"),
                pl.col("stage"),
                pl.col("stage_entered_on"),
                pl.col("action"),
            ),
        ),
        (
            late > catch_up,
            pl.format(
                "came due {}, {} days ago, beyond catch_up_days {}",
                pl.col("_effective_due"),
                late,
                pl.lit(catch_up),
            ),
        ),
        (
            ~latest,
            pl.lit("superseded by a later occurrence of the same step (catch-up runs it once)"),
        ),
        (~condition_ok, pl.lit("condition false on the day it came due")),
        (
            repeated,
            pl.format(
                "the same message as {}, which runs today: a catch-up sends a message once",
                pl.col("_repeat_of"),
            ),
        ),
        (
            pl.col("_before_entry"),
            pl.format("came due {}, before the case entered {}", pl.col("due_on"), pl.col("stage")),
        ),
        (late > 0, pl.format("came due {}; caught up", pl.col("due_on"))),
    ]
    key = pl.format(
        "case:{}:{}:{}:{}:{}",
        pl.col("debtor_id"),
        pl.col("currency"),
        pl.col("opened_on"),
        pl.col("step_id"),
        pl.col("occurrence"),
    )
    # fees are computed only when the policy has a late-fee step (decimal work on every row)
    has_fee = bool(policy.program["action"].eq("late_fee").any())
    eu_fee = has_fee and bool(policy.program["fee"].eq("eu_late_payment").any())
    if eu_fee:  # the invoices of the cases whose EU fee comes due today only
        fee_keys = due.filter(pl.col("fee") == "eu_late_payment").select(KEY).unique()
        due = _attach_on(due, eu_interest(data, policy, as_of, fee_keys), KEY)
    steps = due.with_columns(
        status.alias("status"),
        _choose(due, reason, pl.lit("came due")).alias("reason"),
        key.alias("key"),
        (_fee(policy) if has_fee else pl.lit(None, pl.Int64())).alias("amount_minor"),
    ).with_columns(
        pl.when((pl.col("status") == "executed") & (pl.col("action") == "late_fee"))
        .then(pl.col("amount_minor"))
        .otherwise(pl.lit(None, pl.Int64()))
        .alias("amount_minor")
    )
    if eu_fee:  # the fee's readable line travels in the step's params (``note``)
        noted = (pl.col("action") == "late_fee") & (_fee_kind() == "eu_late_payment")
        steps = steps.with_columns(
            pl.when(noted & pl.col("_eu_note").is_not_null())
            .then(
                pl.concat_str(
                    pl.col("params").str.strip_suffix("}"),
                    pl.lit(", "),
                    pl.struct(pl.col("_eu_note").alias("note"))
                    .struct.json_encode()
                    .str.strip_prefix("{"),
                )
            )
            .otherwise(pl.col("params"))
            .alias("params")
        )
    steps = _contact_rules(steps, data, policy, as_of)
    # (_k, _sid) sort as (debtor_id, currency, step_id) do; the rows are usually in that order
    # already (the program is, and the join keeps the cases' order): then nothing to sort
    by = ["_k", "_sid", "occurrence"]
    order = None if steps.select(_increasing(by)).item() else steps.select(pl.arg_sort_by(by))
    steps = steps.select(list(STEP_DECISION_SCHEMA)).cast(STEP_DECISION_SCHEMA)  # type: ignore[arg-type]
    if order is not None:
        steps = steps.gather(order.to_series())

    plan = None
    if explain:
        plan = _plan(rows, steps, condition_ok, as_of)
    return steps, plan


def _choose(
    frame: pl.DataFrame, branches: list[tuple[pl.Expr, pl.Expr]], otherwise: pl.Expr
) -> pl.Series:
    """``pl.when(c0).then(v0).when(c1).then(v1)...otherwise(o)`` over ``frame``, each value
    computed only on the rows that take it: a when/then computes every branch on every row, and
    a formatted text costs far more than the choice (most rows take one or two branches)."""
    which = pl.lit(len(branches), pl.UInt32())
    for i, (condition, _) in reversed(list(enumerate(branches))):
        which = pl.when(condition).then(pl.lit(i, pl.UInt32())).otherwise(which)
    values = [value for _, value in branches] + [otherwise]
    chosen = frame.select(which.alias("_which")).to_series()
    taken = chosen.value_counts(sort=True)  # the most taken first
    first = int(taken["_which"][0]) if taken.height else len(branches)
    # the most taken value on every row (it is most of them), the others on their rows only
    result = frame.with_columns(values[first].alias("_value")).get_column("_value")
    for i in taken["_which"][1:].to_list():
        rows = chosen.eq(i).arg_true()
        names = values[i].meta.root_names()
        part = frame.select(names)[rows] if names else pl.DataFrame({"_row": rows})
        result = result.scatter(rows, part.with_columns(values[i].alias("_value"))["_value"])
    return result


def _increasing(columns: list[str]) -> pl.Expr:
    """Whether each row comes strictly after the one before it in the order of ``columns``
    (no nulls, no two rows equal): a frame sorted by them already, in the only order a sort
    could give."""
    after: pl.Expr = pl.lit(False)
    for name in reversed(columns):
        column, before = pl.col(name), pl.col(name).shift(1)
        after = (column > before) | ((column == before) & after)
    nulls = pl.any_horizontal(pl.col(c).is_null().any() for c in columns)
    return after.fill_null(True).all() & ~nulls


def _with_step_rank(program: pl.DataFrame) -> pl.DataFrame:
    """The program with ``_sid``: each step id's rank in the program's sorted step ids (an
    integer that groups and sorts like the id)."""
    ranked = program.with_columns(pl.col("step_id").rank("dense").cast(pl.UInt32()).alias("_sid"))
    return ranked.sort("_sid", "occurrence", maintain_order=True)


def _entry_skips(due: pl.DataFrame) -> pl.Series:
    """``_entry_skip``: the rows that came due before their case entered the stage, except the
    most recent one (by due day, step id, occurrence) of each case, action and channel. A step
    of the same action and channel that comes due on the day of entry is more recent than all
    of them: then none of them runs (a debtor first seen on a notice's day gets that notice,
    not also the one before it).

    Only the rows due on or before entry are ranked (often none), by a sort, not a window."""
    skip = np.zeros(due.height, dtype=bool)
    if due.height and due["_before_entry"].any():
        group = ["_k", "action", "channel"]
        early = (
            due.with_row_index("_row")
            .filter(pl.col("due_on") <= pl.col("stage_entered_on"))
            .select("_row", "_before_entry", *group, "due_on", "step_id", "occurrence")
            .sort(
                [*group, "due_on", "step_id", "occurrence"],
                descending=[False] * len(group) + [True] * 3,
                nulls_last=False,
            )
        )
        later = early.filter(~_first_of(group).fill_null(True) & pl.col("_before_entry"))
        skip[later["_row"].to_numpy()] = True
    return pl.Series("_entry_skip", skip, dtype=pl.Boolean())


def _first_of(group: list[str]) -> pl.Expr:
    """True on the first row of each run of equal ``group`` values (a sorted frame)."""
    return pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in group)


def _repeated_messages(due: pl.DataFrame) -> pl.Series:
    """``_repeat_of``: for a step about to run (``_runs``) whose message (channel and template)
    a more recent step of the same case also sends today, that step's name; else null.

    Only a case with a step caught up (``_late`` > 0: days without a run, or a pause) can have
    two of them today, so only such cases are ranked (often none), by a sort."""
    repeat_of = np.full(due.height, None, dtype=object)
    runs = pl.col("_runs") & pl.col("message").is_not_null()
    if due.height and due.select((runs & (pl.col("_late") > 0)).any()).item():
        group = ["_k", "message"]
        rows = due.with_row_index("_row").filter(runs)
        caught_up = rows.filter(pl.col("_late") > 0).select("_k").unique()
        ranked = (
            rows.join(caught_up, on="_k", how="semi")
            .select("_row", *group, "due_on", "step_id", "occurrence")
            .sort(
                [*group, "due_on", "step_id", "occurrence"],
                descending=[False] * len(group) + [True] * 3,
            )
            .with_columns(
                pl.when(_first_of(group).fill_null(True))
                .then(
                    pl.when(pl.col("occurrence") > 0)
                    .then(pl.format("{}#{}", pl.col("step_id"), pl.col("occurrence")))
                    .otherwise(pl.col("step_id"))
                )
                .forward_fill()
                .alias("_latest"),
                _first_of(group).fill_null(True).alias("_first"),
            )
            .filter(~pl.col("_first"))
        )
        repeat_of[ranked["_row"].to_numpy()] = ranked["_latest"].to_numpy()
    return pl.Series("_repeat_of", repeat_of, dtype=pl.String())


def _contact_rules(
    steps: pl.DataFrame, data: CycleInput, policy: CompiledPolicy, as_of: date
) -> pl.DataFrame:
    """Run the contact-rule guard on the contacts about to be made; fold its answer back."""
    # the policy's order decides which contact goes first when a cap lets only one through
    # (its rank in that order, without sorting the wide frame)
    order = steps.select(pl.arg_sort_by(["_k", "due_on", "position", "occurrence"]))
    attempt = np.empty(steps.height, dtype=np.uint32)
    attempt[order.to_series().to_numpy()] = np.arange(steps.height, dtype=np.uint32)
    steps = steps.with_columns(pl.Series("_attempt", attempt, dtype=pl.UInt32()))
    planned = datetime.combine(as_of, policy.policy.send_time)
    # lazy: the filter gathers only the columns selected, not the wide step frame's
    contacts = steps.lazy().filter(
        (pl.col("status") == "executed") & pl.col("channel").is_not_null()
    )
    attempts = (
        contacts.select(
            pl.col("_attempt").cast(pl.Int64()).alias("attempt_id"),
            "debtor_id",
            "channel",
            pl.lit(planned).alias("planned_local"),
            pl.lit(0, pl.Int32()).alias("priority"),
            "fallback",
            "legal_threat",
            pl.col("days_past_due").cast(pl.Int32()),
            "validation_notice",
        )
        .collect()
        .cast(ATTEMPT_SCHEMA)  # type: ignore[arg-type]
    )
    # priority: the attempt's rank (from 1) among its debtor's attempts in the policy's order
    attempts = attempts.sort("debtor_id", "attempt_id").with_columns(
        (place_in_runs("debtor_id") + 1).alias("priority")
    )
    attempts = attempts.sort("attempt_id")  # in the policy's order, as the guard used to see them
    # the guard reads only the rows of the debtors it decides for (it semi-joins the debtors and
    # consents itself); the history is converted to local times first: hand it just those rows
    mine = pl.col("debtor_id").is_in(attempts["debtor_id"].unique().implode())
    answer = guard(attempts, data.debtors, data.consents, data.history.filter(mine), policy.packs)
    answer = answer.select(
        pl.col("attempt_id").cast(pl.UInt32()).alias("_attempt"),
        pl.col("channel").alias("_channel"),
        "fallback_from",
        pl.col("decision").alias("_decision"),
        "send_at",
        "rule",
        pl.col("pack").alias("rule_pack"),
        pl.col("reason").alias("_rule_reason"),
        pl.col("send_local").dt.strftime("%Y-%m-%d %H:%M").alias("_send_local"),
    )
    blocked = pl.col("_decision") == "block"
    deferred = pl.format("deferred to {} local by {}", pl.col("_send_local"), pl.col("rule"))
    steps = _attach(steps, answer, "_attempt", "_attempt")
    reason = _choose(
        steps,
        [
            (blocked, pl.format("{}: {}", pl.col("rule"), pl.col("_rule_reason"))),
            ((pl.col("_decision") == "defer") & (pl.col("reason") == "came due"), deferred),
            (pl.col("_decision") == "defer", pl.format("{}; {}", pl.col("reason"), deferred)),
        ],
        pl.col("reason"),
    )
    steps = steps.with_columns(
        pl.when(blocked).then(pl.lit("blocked")).otherwise(pl.col("status")).alias("status"),
        reason.alias("reason"),
    )
    fallback = pl.format(
        "{}; by {} instead of {}, which the rules did not allow",
        pl.col("reason"),
        pl.col("_channel"),
        pl.col("fallback_from"),
    )
    return steps.with_columns(
        _choose(steps, [(pl.col("fallback_from").is_not_null(), fallback)], pl.col("reason")).alias(
            "reason"
        ),
        pl.coalesce("_channel", "channel").alias("channel"),
        pl.when(blocked)
        .then(pl.lit(None, pl.Int64()))
        .otherwise(pl.col("amount_minor"))
        .alias("amount_minor"),
    )


#: Days in the year of the EU late-payment interest (Directive 2011/7/EU: simple interest).
YEAR_DAYS = 365
#: The EU compensation for recovery costs, per overdue invoice of a debt in euros (minor units).
EU_COMPENSATION_MINOR = 4000
_FEE_TEXT = {
    "en": ("Late-payment interest ", "on ", "{} days at {} %", "recovery costs {} × 40.00 EUR"),
    "es": ("Intereses de mora ", "sobre ", "{} días al {} %", "gastos de cobro {} × 40,00 EUR"),
}


def _percent(micro: pl.Expr, policy: CompiledPolicy) -> pl.Expr:
    """A rate in millionths of a percent as the debtor reads it (2 decimals, half up; a decimal
    comma in Spanish): 10_150_000 -> ``10.15``."""
    hundredths = (micro + 5_000) // 10_000
    point = "," if policy.policy.language == "es" else "."
    return pl.format(
        "{}" + point + "{}",
        hundredths // 100,
        (hundredths % 100).cast(pl.String()).str.zfill(2),
    )


def eu_interest(
    data: CycleInput, policy: CompiledPolicy, as_of: date, keys: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The EU late-payment interest of each (debtor, currency), invoice by invoice: each overdue
    open instalment's amount x (reference rate + 8 points) x its own days late / 365, summed
    per invoice and rounded to the minor unit (half up) per invoice; exact integers (the rate in
    millionths of a percent). Columns: ``_eu_interest_minor`` (the sum of the invoices' lines)
    and ``_eu_note``, the readable line, e.g. ``Late-payment interest on {invoice:1042}, 12 days
    at 10.15 %`` (the store writes the invoice's number for ``{invoice:ID}``), plus the recovery
    costs for a debt in euros. ``keys``: only these (debtor, currency) pairs.

    The reference rate of an instalment is the one in force on the first day of the half-year
    in which it fell due (``data.reference_rates``, joined as of that day); the policy's
    ``reference_rate`` when the table is empty or starts later. The line shows each invoice's
    rate (its earliest overdue instalment's)."""
    first, on, days_at, costs = _FEE_TEXT[policy.policy.language]
    fallback = int((policy.policy.reference_rate * 10**6).to_integral_value())
    denominator = YEAR_DAYS * 100 * 10**6
    late = (pl.lit(as_of) - pl.col("due_date")).dt.total_days()
    instalments = data.instalments.lazy()
    if keys is not None:
        instalments = instalments.join(keys.lazy(), on=KEY, how="semi")
    overdue = instalments.filter(
        (pl.col("issue_date") <= as_of) & (pl.col("open_minor") > 0) & (pl.col("due_date") < as_of)
    )
    # the rate of the half-year in which the instalment fell due: the one in force on its first
    # day (1 January or 1 July; Directive 2011/7/EU art. 2(12)); the policy's reference_rate
    # when the workspace has no table or the table starts later
    half = pl.date(
        pl.col("due_date").dt.year(),
        pl.when(pl.col("due_date").dt.month() <= 6).then(1).otherwise(7),
        1,
    )
    overdue = overdue.with_columns(half.alias("_half"))
    if data.reference_rates.height:
        table = data.reference_rates.lazy().select(
            pl.col("from").alias("_half"), pl.col("rate_micro").alias("_ref")
        )
        overdue = (
            overdue.sort("_half")
            .join_asof(table.sort("_half"), on="_half", strategy="backward")
            .with_columns(pl.col("_ref").fill_null(fallback))
        )
    else:
        overdue = overdue.with_columns(pl.lit(fallback, pl.Int64()).alias("_ref"))
    micro = pl.col("_ref").cast(pl.Int128()) + 8 * 10**6
    lines = (
        overdue.with_columns(
            (pl.col("open_minor").cast(pl.Int128()) * micro * late.cast(pl.Int128())).alias("_n")
        )
        .group_by([*KEY, "invoice_id"])
        .agg(
            ((pl.col("_n").sum() + denominator // 2) // denominator).cast(pl.Int64()).alias("_i"),
            late.max().alias("_days"),
            pl.col("due_date").min().alias("_due"),
            (pl.col("_ref").sort_by("due_date").first() + 8 * 10**6).alias("_rate"),
        )
        .sort([*KEY, "_due", "invoice_id"])
        .with_columns(
            pl.concat_str(
                pl.lit(on + "{invoice:"),
                pl.col("invoice_id").cast(pl.String()),
                pl.lit("}, "),
                pl.format(days_at, pl.col("_days"), _percent(pl.col("_rate"), policy)),
            ).alias("_line")
        )
        .group_by(KEY, maintain_order=True)
        .agg(
            pl.col("_i").sum().alias("_eu_interest_minor"),
            pl.col("_line").str.join("; ").alias("_lines"),
            pl.len().alias("_invoices"),
        )
        .with_columns(
            pl.concat_str(
                pl.lit(first),
                pl.col("_lines"),
                pl.when(pl.col("currency") == "EUR")
                .then(pl.format("; " + costs, pl.col("_invoices")))
                .otherwise(pl.lit("")),
            ).alias("_eu_note")
        )
        .select(*KEY, "_eu_interest_minor", "_eu_note")
        .collect()
    )
    return lines.cast({"_eu_interest_minor": pl.Int64(), "_eu_note": pl.String()})


def _fee_kind() -> pl.Expr:
    """The fee a row's step charges: the EU late-payment rule applies to business debtors
    (``kind`` company) only; a person gets the step's ``consumers`` fee (fixed or percentage),
    or none."""
    business = pl.col("kind").eq("company").fill_null(False)
    return (
        pl.when((pl.col("fee") == "eu_late_payment") & ~business)
        .then(pl.col("consumer_fee"))
        .otherwise(pl.col("fee"))
    )


def _fee(policy: CompiledPolicy) -> pl.Expr:
    """Late fee in minor units: fixed (the amount), percentage (of the overdue balance) or the EU
    late-payment rule for business debtors (:func:`eu_interest`, invoice by invoice, plus 40 EUR
    per overdue invoice when the debt is in euros); a person under the EU rule pays the step's
    ``consumers`` fee, or nothing."""
    overdue = pl.col("_overdue_minor").cast(MONEY)
    scale = pl.lit(10, pl.Int64()).pow(pl.col("_exp")).cast(pl.Decimal(38, 0))
    kind = _fee_kind()
    amount = (
        pl.when(kind == "fixed")
        .then(pl.col("fee_amount") * scale)
        .when(kind == "percentage")
        .then(overdue * pl.col("fee_rate") / pl.lit(100, pl.Decimal(38, 0)))
        .otherwise(None)
        .round(0)
        .cast(pl.Int64())
    )
    if not policy.program["fee"].eq("eu_late_payment").any():
        return amount
    compensation = pl.when(pl.col("currency") == "EUR").then(
        pl.col("overdue_invoices").cast(pl.Int64()) * EU_COMPENSATION_MINOR
    )
    eu = pl.col("_eu_interest_minor").fill_null(0) + compensation.fill_null(0)
    return pl.when(kind == "eu_late_payment").then(eu).otherwise(amount)


def _plan(
    rows: pl.DataFrame, steps: pl.DataFrame, condition_ok: pl.Expr, as_of: date
) -> pl.DataFrame:
    today = steps.select(
        *KEY,
        "step_id",
        "occurrence",
        pl.col("status").alias("_today"),
        pl.col("reason").alias("_why"),
    )
    rows = rows.join(today, on=[*KEY, "step_id", "occurrence"], how="left")
    status = (
        pl.when(pl.col("_done").is_not_null())
        .then(pl.format("done ({})", pl.col("_done")))
        .when(pl.col("_today").is_not_null())
        .then(pl.col("_today"))
        .when(pl.col("due_on") > as_of)
        .then(pl.lit("pending"))
        .when(pl.col("paused_by").is_not_null())
        .then(pl.lit("paused"))
        .otherwise(pl.lit("pending"))
    )
    reason = (
        pl.when(pl.col("_done").is_not_null())
        .then(pl.format("recorded on {}", pl.col("_done_on")))
        .when(pl.col("_today").is_not_null())
        .then(pl.col("_why"))
        .when(pl.col("due_on") > as_of)
        .then(pl.format("due on {}", pl.col("due_on")))
        .when(pl.col("paused_by").is_not_null())
        .then(pl.format("paused by {}", pl.col("paused_by")))
        .otherwise(pl.lit(""))
    )
    return rows.select(
        *KEY,
        "step_id",
        "occurrence",
        "action",
        "channel",
        "due_on",
        status.alias("status"),
        reason.alias("reason"),
    ).sort([*KEY, "due_on", "step_id", "occurrence"])
