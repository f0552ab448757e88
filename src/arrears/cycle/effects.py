"""The cycle's effects: what a day's :class:`~arrears.cycle.frames.Decisions` do, store-neutral.

The engine decides (cases opened, moved, closed; step occurrences executed or skipped); this
module says what those decisions *mean* as effects on the world, and the store only writes them
(``arrears.store.cycle.write``). It is pure: Polars and the standard library, no store, no
clock; columnar, one expression over every row, never a loop per debtor.

``effects(decisions, portfolio=..., as_of=..., debtors=...)`` returns an :class:`Effects`: one
frame per kind of effect, each with a declared schema (:data:`KINDS` says what each one is):

- ``open_case`` / ``change_case``: a case opened; a case reopened, moved to another stage
  (``stage``), closed, or with another pause, segment, arm or awaited approval (``update``);
- ``record_step``: every step occurrence recorded on the day, ``executed``, ``skipped`` or
  ``blocked`` (skip step = a recorded occurrence that is not executed);
- for the executed occurrences, what their action does: ``queue_message`` (the outbox),
  ``create_task`` (call, write_off, notify), ``make_offer``, ``hold_credit`` (or release it),
  ``raise_stage_floor`` (``move_stage``), ``place_with_agency`` (or recall: agency null) and
  ``post_fee`` (a late fee invoice);
- ``settle_promise``: the outcome of a promise to pay whose date plus grace has passed (kept,
  partial, broken), recorded on the promise once.

Every row carries its idempotency key, built from business ids only: the portfolio's code, the
debtor's external id, the currency, the day the case opened, the step's id and occurrence, the
day. The same decisions computed anywhere (another process, another store whose row ids differ,
a distributed engine) get the same keys, so they apply once:

- a step occurrence (and its message, task, offer): ``cycle:<portfolio>:<debtor>:<currency>:
  <opened_on>:<step_id>:<occurrence>`` (a step of a case is recorded once, whatever the day);
- a case event: ``<event>:<portfolio>:<debtor>:<currency>:<opened_on>:<as_of>``;
- a late fee invoice (external id, unique in its portfolio): ``fee:<debtor>:<currency>:
  <opened_on>:<step_id>:<occurrence>``.

``:`` and ``%`` inside a portfolio code or a debtor's external id are written ``%3A`` and
``%25``, so two different ids never make one key; a key longer than :data:`KEY_LIMIT`
characters keeps its first part and ends in a SHA-256 of the whole.

The frames keep the internal ``debtor_id`` and ``case_id`` the decisions carry, which the store
needs to write rows; they are never part of a key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import date

import polars as pl

from arrears.cycle.frames import Decisions

S = pl.String()
D = pl.Date()
I64 = pl.Int64()
I32 = pl.Int32()
F64 = pl.Float64()
UTC_TIME = pl.Datetime("us", "UTC")

#: The business ids :func:`effects` needs beside the decisions: each debtor's external id.
DEBTOR_ID_SCHEMA: dict[str, pl.DataType] = {"debtor_id": I64, "debtor_external_id": S}

#: The longest key (``activity.idempotency_key`` holds 200 characters).
KEY_LIMIT = 200

CASE_EVENTS = {
    "open": "case.opened",
    "reopen": "case.reopened",
    "stage": "case.stage_changed",
    "close": "case.closed",
    "update": "case.updated",
}
#: What each task-making action asks a person to do.
TASK_KINDS = {"call_task": "call", "propose_write_off": "write_off", "notify_owner": "notify"}
OFFER_KINDS = {"payment_plan_offer": "payment_plan", "settlement_offer": "settlement"}
#: Days a settlement offer stands when its params do not say (the policy's default).
DEFAULT_EXPIRY_DAYS = 14
#: The channel of an offer's message when neither the step nor its params name one.
OFFER_CHANNEL = "email"
#: A debtor's credit status before and after ``credit_hold`` / ``credit_release``.
CREDIT_CHANGES = {"credit_hold": ("active", "on_hold"), "credit_release": ("on_hold", "active")}
#: Case columns the engine decides (written by open, reopen, stage, update and close).
CASE_COLUMNS = (
    "stage",
    "stage_entered_on",
    "stage_floor",
    "segment",
    "arm",
    "agency",
    "awaiting_approval",
    "paused_by",
    "paused_until",
)
#: A case's natural key (``case_id`` is null for a case opened by the decisions).
CASE_KEY = ("debtor_id", "currency", "opened_on")
_CASE_REF: dict[str, pl.DataType] = {
    "key": S,
    "case_id": I64,
    "debtor_id": I64,
    "currency": S,
    "opened_on": D,
}


@dataclass(frozen=True, slots=True)
class EffectKind:
    """One kind of effect: its name, what it means, and the schema of its frame."""

    name: str
    meaning: str
    schema: dict[str, pl.DataType]


_CASE_SCHEMA: dict[str, pl.DataType] = {
    **_CASE_REF,
    "change": S,
    "event": S,
    "stage_before": S,
    "stage": S,
    "stage_entered_on": D,
    "stage_floor": S,
    "segment": S,
    "arm": S,
    "agency": S,
    "awaiting_approval": S,
    "paused_by": S,
    "paused_until": D,
    "close_reason": S,
    "payload": S,
}

OPEN_CASE = EffectKind(
    "open_case",
    "a case opens for a debtor and currency (insert if absent, by its natural key), with its "
    "stage, segment and arm; `key` is its case.opened activity's",
    _CASE_SCHEMA,
)
CHANGE_CASE = EffectKind(
    "change_case",
    "a stored case changes: `change` reopen, stage (moves to another stage), close, update "
    "(pause, segment, arm or awaited approval) or stay (written only where a column differs); "
    "`event` is its activity's kind and `key` that activity's key",
    _CASE_SCHEMA,
)
RECORD_STEP = EffectKind(
    "record_step",
    "a step occurrence is recorded once for its case (`status` executed, skipped or blocked, "
    "with the reason; skipped and blocked ones do nothing else); `event` and `payload` are "
    "its activity's",
    {
        **_CASE_REF,
        "step_id": S,
        "occurrence": I32,
        "action": S,
        "status": S,
        "reason": S,
        "rule": S,
        "due_on": D,
        "event": S,
        "payload": S,
    },
)
QUEUE_MESSAGE = EffectKind(
    "queue_message",
    "a message is queued in the outbox for the channels to send at `send_at` (null: at once); "
    "a catch-up that would queue one case's message twice queues the latest only",
    {
        **_CASE_REF,
        "channel": S,
        "template": S,
        "params": S,
        "send_at": UTC_TIME,
        "rule_pack": S,
    },
)
CREATE_TASK = EffectKind(
    "create_task",
    "work for a person: `kind` call, write_off (proposed) or notify (the owner), in `queue`, "
    "ordered by `task_priority` (1 first) then `score`; not before `not_before`; one per "
    "debtor and kind (while one is open, the store raises its urgency instead)",
    {
        **_CASE_REF,
        "kind": S,
        "step_id": S,
        "task_priority": I64,
        "score": F64,
        "queue": S,
        "note": S,
        "not_before": UTC_TIME,
    },
)
MAKE_OFFER = EffectKind(
    "make_offer",
    "a payment-plan or settlement offer with its terms (the step's params), open until "
    "`expires_on` (null: no expiry)",
    {**_CASE_REF, "kind": S, "terms": S, "expires_on": D},
)
HOLD_CREDIT = EffectKind(
    "hold_credit",
    "the debtor's credit status goes from `credit_from` to `credit_to` (a hold: active -> "
    "on_hold; a release: back); a debtor in another status is left alone",
    {**_CASE_REF, "credit_from": S, "credit_to": S},
)
RAISE_STAGE_FLOOR = EffectKind(
    "raise_stage_floor",
    "the case stays at least as severe as `stage_floor` until it closes (`move_stage`)",
    {**_CASE_REF, "stage_floor": S},
)
PLACE_WITH_AGENCY = EffectKind(
    "place_with_agency",
    "the case is placed with `agency` (null: recalled from the agency it was with)",
    {**_CASE_REF, "agency": S},
)
POST_FEE = EffectKind(
    "post_fee",
    "a late fee invoice of `amount_minor` in the case's currency, issued and due on the day; "
    "`key` is its external id (unique in the portfolio), `number` and `reference` what the "
    "debtor reads (the EU rule's line: `{invoice:ID}` stands for that invoice's number, which "
    "the store writes); a null or zero amount posts nothing",
    {
        **_CASE_REF,
        "step_key": S,
        "debtor_external_id": S,
        "step_id": S,
        "amount_minor": I64,
        "number": S,
        "reference": S,
    },
)
SETTLE_PROMISE = EffectKind(
    "settle_promise",
    "a promise's outcome once its date plus grace has passed, recorded on the promise once: "
    "`outcome` kept, partial (`kept_minor` of `amount_minor` paid) or broken, found on "
    "`found_on`; `event` (promise.kept, promise.partial, promise.broken) and `key` are its "
    "activity's (the promise's business key: debtor, currency, made_on, due_on, amount)",
    {
        "key": S,
        "promise_id": I64,
        "debtor_id": I64,
        "currency": S,
        "outcome": S,
        "kept_minor": I64,
        "found_on": D,
        "event": S,
        "payload": S,
    },
)
#: Every kind, in the order the store applies them.
KINDS = (
    OPEN_CASE,
    CHANGE_CASE,
    RECORD_STEP,
    QUEUE_MESSAGE,
    CREATE_TASK,
    MAKE_OFFER,
    HOLD_CREDIT,
    RAISE_STAGE_FLOOR,
    PLACE_WITH_AGENCY,
    POST_FEE,
    SETTLE_PROMISE,
)


@dataclass(frozen=True, slots=True)
class Effects:
    """A day's effects, one frame per kind (:data:`KINDS`; each frame follows its schema)."""

    open_case: pl.DataFrame
    change_case: pl.DataFrame
    record_step: pl.DataFrame
    queue_message: pl.DataFrame
    create_task: pl.DataFrame
    make_offer: pl.DataFrame
    hold_credit: pl.DataFrame
    raise_stage_floor: pl.DataFrame
    place_with_agency: pl.DataFrame
    post_fee: pl.DataFrame
    settle_promise: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        """Each kind's name and frame, in :data:`KINDS` order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def keys(self) -> pl.Series:
        """Every key of every kind (what a test compares between two stores)."""
        return pl.concat([frame["key"] for frame in self.frames().values()])


def effects(decisions: Decisions, *, portfolio: str, as_of: date, debtors: pl.DataFrame) -> Effects:
    """The effects of ``decisions`` for ``portfolio`` on ``as_of``; ``debtors``
    (:data:`DEBTOR_ID_SCHEMA`) names every debtor of the decisions by its external id."""
    names = debtors.select(
        pl.col("debtor_id").cast(I64), pl.col("debtor_external_id").cast(S)
    ).unique("debtor_id")
    cases = _business(decisions.cases, names)
    steps = _business(decisions.steps, names)
    case_key = _case_text(portfolio)
    cases = _with_step_overrides(cases, steps).with_columns(
        pl.col("change").replace_strict(CASE_EVENTS, default=None, return_dtype=S).alias("event")
    )
    cases = cases.with_columns(
        _bounded(
            pl.concat_str(
                pl.col("event").fill_null(CASE_EVENTS["update"]),
                pl.lit(":"),
                case_key,
                pl.lit(f":{as_of.isoformat()}"),
            )
        ).alias("key"),
        _case_payload().alias("payload"),
    )
    steps = _steps(steps, portfolio, as_of)
    executed = steps.filter(pl.col("status") == "executed")
    return Effects(
        open_case=_conform(cases.filter(pl.col("change") == "open"), OPEN_CASE),
        change_case=_conform(cases.filter(pl.col("change") != "open"), CHANGE_CASE),
        record_step=_conform(steps, RECORD_STEP),
        queue_message=_messages(executed),
        create_task=_one_task_each(
            _conform(
                executed.filter(pl.col("task_kind").is_not_null()).rename(
                    {"task_kind": "kind", "send_at": "not_before"}
                ),
                CREATE_TASK,
            )
        ),
        make_offer=_conform(
            executed.filter(pl.col("offer_kind").is_not_null()).rename(
                {"offer_kind": "kind", "params": "terms"}
            ),
            MAKE_OFFER,
        ),
        hold_credit=_credit(executed),
        raise_stage_floor=_conform(
            executed.filter(pl.col("action") == "move_stage").rename(
                {"stage_floor_to": "stage_floor"}
            ),
            RAISE_STAGE_FLOOR,
        ),
        place_with_agency=_conform(
            executed.filter(
                pl.col("action").is_in(["place_with_agency", "recall_from_agency"])
            ).rename({"agency_to": "agency"}),
            PLACE_WITH_AGENCY,
        ),
        post_fee=_fees(executed, as_of),
        settle_promise=_promises(decisions.promises, names, portfolio),
    )


# Keys ----------------------------------------------------------------------------------------


def _escape(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all("%", "%25", literal=True).str.replace_all(":", "%3A", literal=True)


def _escaped(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")


def _case_text(portfolio: str | None) -> pl.Expr:
    """``[<portfolio>:]<debtor>:<currency>:<opened_on>``: a case's business key as text."""
    parts = [
        _escape(pl.col("debtor_external_id")),
        pl.lit(":"),
        pl.col("currency"),
        pl.lit(":"),
        pl.col("opened_on").dt.strftime("%Y-%m-%d"),
    ]
    if portfolio is not None:
        parts = [pl.lit(f"{_escaped(portfolio)}:"), *parts]
    return pl.concat_str(parts)


def _digest(key: str) -> str:
    return key[: KEY_LIMIT - 72] + "~sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _bounded(key: pl.Expr) -> pl.Expr:
    """``key``, or for one longer than :data:`KEY_LIMIT`, its start and a digest of the whole
    (computed for the long keys only: a batch function that leaves the others as they are)."""

    def bound(keys: pl.Series) -> pl.Series:
        long = keys.str.len_chars() > KEY_LIMIT
        if not long.any():
            return keys
        digests = pl.Series([_digest(k) for k in keys.filter(long)], dtype=S)
        return keys.scatter(long.arg_true(), digests)

    return key.map_batches(bound, return_dtype=S)


# Cases ---------------------------------------------------------------------------------------


def _business(frame: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each debtor's external id; every debtor must be named."""
    named = frame.join(names, on="debtor_id", how="left", maintain_order="left")
    missing = named.filter(pl.col("debtor_external_id").is_null())["debtor_id"].unique()
    if missing.len():
        raise ValueError(f"no external id for debtor id(s) {missing.head(5).to_list()}")
    return named


def _param(name: str) -> pl.Expr:
    return pl.col("params").str.json_path_match(f"$.{name}")


def _with_step_overrides(cases: pl.DataFrame, steps: pl.DataFrame) -> pl.DataFrame:
    """The case decisions with the stage floor and agency their executed steps set, so that the
    case update and the step's action agree (and a second commit changes nothing)."""
    executed = steps.filter(pl.col("status") == "executed").with_columns(
        pl.col("params").fill_null("{}")
    )
    keys = list(CASE_KEY)
    floors = (
        executed.filter(pl.col("action") == "move_stage")
        .select(*keys, _param("to").alias("floor_to"))
        .unique(keys, keep="last", maintain_order=True)
    )
    agencies = (
        executed.filter(pl.col("action").is_in(["place_with_agency", "recall_from_agency"]))
        .select(
            *keys,
            pl.when(pl.col("action") == "place_with_agency")
            .then(_param("agency"))
            .otherwise(None)
            .alias("agency_to"),
            pl.lit(True).alias("agency_set"),
        )
        .unique(keys, keep="last", maintain_order=True)
    )
    return (
        cases.join(floors, on=keys, how="left", maintain_order="left")
        .join(agencies, on=keys, how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("floor_to", "stage_floor").alias("stage_floor"),
            pl.when(pl.col("agency_set").fill_null(False))
            .then(pl.col("agency_to"))
            .otherwise(pl.col("agency"))
            .alias("agency"),
        )
        .drop("floor_to", "agency_to", "agency_set")
    )


def _case_payload() -> pl.Expr:
    return pl.struct(
        _case_text(None).alias("case"),
        "change",
        "stage_before",
        "stage",
        "stage_floor",
        "segment",
        "arm",
        "agency",
        "awaiting_approval",
        "paused_by",
        pl.col("paused_until").dt.strftime("%Y-%m-%d"),
        "close_reason",
        "overdue_minor",
        "days_past_due",
    ).struct.json_encode()


# Steps ---------------------------------------------------------------------------------------


#: The step params an effect reads (each step's params are the policy's: few distinct texts).
_PARAMS = (
    "template",
    "channel",
    "queue",
    "message",
    "to",
    "agency",
    "expires_after_days",
    "note",
)


def _with_params(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the params effects read as ``p_<name>`` columns: each distinct params
    text is parsed once and joined back (a policy has a few dozen, the frame millions of rows)."""
    parsed = (
        frame.select(pl.col("params").unique())
        .with_columns(_param(name).alias(f"p_{name}") for name in _PARAMS)
        .with_columns(pl.col("p_expires_after_days").cast(I32, strict=False))
    )
    return frame.join(parsed, on="params", how="left", maintain_order="left")


def _steps(steps: pl.DataFrame, portfolio: str, as_of: date) -> pl.DataFrame:
    """The step decisions with their business key and what their actions need (from
    ``params``), one expression per column."""
    frame = _with_params(steps.with_columns(pl.col("params").fill_null("{}")))
    frame = frame.with_columns(
        [
            pl.lit(None, t).alias(c)
            for c, t in (("send_at", UTC_TIME), ("rule", S), ("rule_pack", S))
            if c not in frame.columns
        ]
    )
    action = pl.col("action")
    expires = pl.coalesce(
        "p_expires_after_days",
        pl.when(action == "settlement_offer").then(pl.lit(DEFAULT_EXPIRY_DAYS, I32)),
    )
    return frame.with_columns(
        _bounded(
            pl.concat_str(
                pl.lit("cycle:"),
                _case_text(portfolio),
                pl.lit(":"),
                pl.col("step_id"),
                pl.lit(":"),
                pl.col("occurrence").cast(S),
            )
        ).alias("key"),
        pl.concat_str(pl.lit("step."), pl.col("status")).alias("event"),
        pl.struct("step_id", "occurrence", "action", "reason", "due_on")
        .struct.json_encode()
        .alias("payload"),
        pl.col("task_priority").fill_null(3).cast(I64),
        pl.col("priority").fill_null(0.0).alias("score"),
        pl.col("p_template").alias("template"),
        pl.coalesce(
            "channel",
            "p_channel",
            pl.when(action.is_in(list(OFFER_KINDS))).then(pl.lit(OFFER_CHANNEL)),
        ).alias("channel"),
        action.replace_strict(TASK_KINDS, default=None, return_dtype=S).alias("task_kind"),
        pl.col("p_queue").alias("queue"),
        pl.when(action == "notify_owner")
        .then(pl.col("p_message"))
        .when(action == "propose_write_off")
        .then(pl.col("reason"))
        .alias("note"),
        action.replace_strict(OFFER_KINDS, default=None, return_dtype=S).alias("offer_kind"),
        pl.when(expires.is_not_null())
        .then(pl.lit(as_of) + pl.duration(days=expires))
        .cast(D)
        .alias("expires_on"),
        pl.col("p_to").alias("stage_floor_to"),
        pl.when(action == "place_with_agency").then(pl.col("p_agency")).alias("agency_to"),
    )


def _messages(executed: pl.DataFrame) -> pl.DataFrame:
    """Messages to queue: a send step's, an offer's with a template. Of one case's message
    (channel and template) several steps of a catch-up would queue, only the one due last (the
    same day: the later key) is queued. The engine never decides that (``decide``'s catch-up
    rules); this is the guard."""
    message = [*CASE_KEY, "channel", "template"]
    sent = executed.filter(
        pl.col("channel").is_not_null()
        & ((pl.col("action") == "send") | pl.col("offer_kind").is_not_null())
        & pl.col("template").is_not_null()
    )
    repeated = sent.filter(pl.struct(message).is_duplicated())  # few rows, or none
    if repeated.is_empty():
        return _conform(sent, QUEUE_MESSAGE)
    earlier = (
        repeated.sort(["due_on", "key"], descending=True)
        .filter(~pl.struct(message).is_first_distinct())
        .select("key")
    )
    return _conform(sent.join(earlier, on="key", how="anti", maintain_order="left"), QUEUE_MESSAGE)


def _one_task_each(tasks: pl.DataFrame) -> pl.DataFrame:
    """One task per debtor and kind: of the steps that would create several on one day (a
    repeated call and a broken promise's call), the most urgent (task priority, then key);
    the store also creates none while one of that kind is open for the debtor."""
    if tasks.select(pl.struct("debtor_id", "kind").is_unique().all()).item():
        return tasks
    return tasks.sort(["debtor_id", "kind", "task_priority", "key"]).unique(
        ["debtor_id", "kind"], keep="first", maintain_order=True
    )


def _credit(executed: pl.DataFrame) -> pl.DataFrame:
    held = executed.filter(pl.col("action").is_in(list(CREDIT_CHANGES))).with_columns(
        pl.col("action")
        .replace_strict({a: f for a, (f, _) in CREDIT_CHANGES.items()}, return_dtype=S)
        .alias("credit_from"),
        pl.col("action")
        .replace_strict({a: t for a, (_, t) in CREDIT_CHANGES.items()}, return_dtype=S)
        .alias("credit_to"),
    )
    return _conform(held, HOLD_CREDIT)


def _fees(executed: pl.DataFrame, as_of: date) -> pl.DataFrame:
    fees = executed.filter((pl.col("action") == "late_fee") & (pl.col("amount_minor") > 0))
    return _conform(
        fees.with_columns(
            pl.col("key").alias("step_key"),
            _bounded(
                pl.concat_str(
                    pl.lit("fee:"),
                    _case_text(None),
                    pl.lit(":"),
                    pl.col("step_id"),
                    pl.lit(":"),
                    pl.col("occurrence").cast(S),
                )
            ).alias("key"),
            # the EU rule's readable line (decide.eu_interest: "Late-payment interest on
            # {invoice:ID}, 12 days at 10.15 %"; the store writes each invoice's number)
            pl.coalesce(
                "p_note",
                pl.concat_str(pl.lit(f"late fee {as_of.isoformat()} ("), "step_id", pl.lit(")")),
            ).alias("number"),
            pl.coalesce(
                "p_note", pl.concat_str(pl.lit("late fee ("), "step_id", pl.lit(")"))
            ).alias("reference"),
        ),
        POST_FEE,
    )


def _promises(outcomes: pl.DataFrame, names: pl.DataFrame, portfolio: str) -> pl.DataFrame:
    """Each promise's outcome with its activity: ``promise.<outcome>:<portfolio>:<debtor>:
    <currency>:<made_on>:<due_on>:<amount_minor>`` (an identical open promise is never recorded
    twice, so these name one promise); the payload says what was promised and paid, and the
    share kept in percent (two decimals, rounded down)."""
    frame = _business(outcomes, names)
    basis_points = pl.col("kept_minor") * 10_000 // pl.col("amount_minor")
    return _conform(
        frame.with_columns(
            pl.concat_str(pl.lit("promise."), pl.col("outcome")).alias("event"),
            _bounded(
                pl.concat_str(
                    pl.lit("promise."),
                    pl.col("outcome"),
                    pl.lit(f":{_escaped(portfolio)}:"),
                    _escape(pl.col("debtor_external_id")),
                    pl.lit(":"),
                    pl.col("currency"),
                    pl.lit(":"),
                    pl.col("made_on").dt.strftime("%Y-%m-%d"),
                    pl.lit(":"),
                    pl.col("due_on").dt.strftime("%Y-%m-%d"),
                    pl.lit(":"),
                    pl.col("amount_minor").cast(S),
                )
            ).alias("key"),
            pl.struct(
                "promise_id",
                "outcome",
                "currency",
                "amount_minor",
                "paid_minor",
                "kept_minor",
                pl.concat_str(
                    (basis_points // 100).cast(S),
                    pl.lit("."),
                    (basis_points % 100).cast(S).str.zfill(2),
                ).alias("kept_percent"),
                pl.col("made_on").dt.strftime("%Y-%m-%d"),
                pl.col("due_on").dt.strftime("%Y-%m-%d"),
                pl.col("found_on").dt.strftime("%Y-%m-%d"),
            )
            .struct.json_encode()
            .alias("payload"),
        ),
        SETTLE_PROMISE,
    )


def _conform(frame: pl.DataFrame, kind: EffectKind) -> pl.DataFrame:
    return frame.select(list(kind.schema)).cast(kind.schema)  # type: ignore[arg-type]


__all__ = [
    "CASE_COLUMNS",
    "DEBTOR_ID_SCHEMA",
    "KINDS",
    "EffectKind",
    "Effects",
    "effects",
]
