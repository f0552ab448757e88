"""The propensity-to-pay model's use cases: the history it learns from, training a version
and promoting one (both in the activity log, with the actor), one debtor's score, the whole
portfolio's scores of a day (stored for the worklist, KPIs and forecast), and monitoring.

The models themselves are :mod:`arrears.scoring` (pure, on the frames these read) and
:mod:`arrears.scoring.registry` (versions stored as files in the workspace).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import InvalidInput, NotFound
from arrears.policy.features import SCORING_HISTORY
from arrears.scoring.frames import History, debtor_events, limits_of
from arrears.scoring.targets import PAYS, Schedule, Target
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.cycle.read import read_cycle_input
from arrears.store.portfolios import UnknownPortfolio, portfolio_id
from arrears.store.scoring.history import (
    read_debtor_history,
    read_debtors,
    read_disputes,
    read_history,
    read_promises,
)
from arrears.store.scoring.scores import logged, write_scores

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Connection, Engine

    from arrears.cycle.frames import CycleInput
    from arrears.scoring.model import Model


@dataclass(frozen=True, slots=True)
class DebtorScores:
    """``scores``: one row per currency the debtor owes in on ``as_of``
    (:func:`arrears.scoring.model.score_frame`: ``score``, ``expected_recovery_minor``,
    ``expected_days_to_pay``, ``source`` (model or rules) and ``reasons``)."""

    debtor: str
    portfolio: str
    as_of: date
    scores: pl.DataFrame
    #: per row of ``scores``, every feature in a collector's words (name -> phrase)
    facts: tuple[dict[str, str], ...] = ()


def scoring_history(uow: SqlUnitOfWork, actor: Actor, *, portfolio: str) -> History:
    """The whole history of ``portfolio`` the models learn from; :class:`InvalidInput` when it
    has none."""
    actor.require(Permission.READ, "read the scoring history")
    try:
        history = read_history(uow.engine, portfolio=portfolio)
        # the credit limits of the debtors file, for the lender features (as they stand)
        limits = limits_of(read_debtors(uow.engine, portfolio=portfolio))
        # the promises to pay with the outcomes the cycle recorded and the dispute records
        # (promise and dispute history features)
        promises = debtor_events(
            read_promises(uow.engine, portfolio=portfolio),
            read_disputes(uow.engine, portfolio=portfolio),
        )
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    history = replace(history, limits=limits, promises=promises)
    if history.instalments.is_empty():
        raise InvalidInput(
            f"portfolio {portfolio} has no history: import invoices and payments first"
        )
    return history


def score_debtor(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    as_of: date,
    model: Model | None,
    lang: str = "en",
) -> DebtorScores:
    """``debtor``'s scores on ``as_of`` with ``model`` (``None``: the rules score), with their
    reasons; :class:`NotFound` for an unknown debtor, :class:`InvalidInput` when it owes
    nothing that day. Reads the debtor's own history only (every feature is computed from the
    debtor's own ledger: the same score as the cycle's whole-portfolio read gives it)."""
    from arrears.scoring.features import KEY, debtor_features  # noqa: PLC0415
    from arrears.scoring.frames import view_at  # noqa: PLC0415
    from arrears.scoring.model import facts, score_view  # noqa: PLC0415  (scikit-learn)

    actor.require(Permission.READ, "score a debtor")
    try:
        history = read_debtor_history(uow.engine, portfolio=portfolio, debtor=debtor)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    if history is None:
        raise NotFound(f"unknown debtor {debtor!r} in portfolio {portfolio}")
    view = view_at(history, as_of)
    scored = score_view(model, view)
    if scored.is_empty():
        raise InvalidInput(f"debtor {debtor!r} owes nothing on {as_of}: no score")
    known = scored.select(KEY).join(debtor_features(view), on=KEY, how="left")
    return DebtorScores(debtor, portfolio, as_of, scored, tuple(facts(model, known, lang)))


@dataclass(frozen=True, slots=True)
class PortfolioScores:
    """``scores``: one row per debtor and currency with an open balance (current or overdue) on
    ``as_of``: ``debtor`` (its id as imported), ``currency``, ``score``, ``band`` (A-E,
    :data:`arrears.scoring.bands.BANDS`), ``expected_days_to_pay``, ``reasons`` (in a
    collector's words), ``source`` (``model vN`` or ``rules``), ``days_past_due``,
    ``open_minor`` and ``out_of_range`` (the features outside the model's training range,
    :func:`arrears.scoring.monitor.outside_training`); least likely to pay first.
    ``stored``: the rows written to the day's stored scores (0 when not stored)."""

    portfolio: str
    as_of: date
    scores: pl.DataFrame
    stored: int = 0


def score_portfolio(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    as_of: date,
    model: Model | None,
    top: int | None = None,
    with_reasons: bool = True,
    keep: bool = False,
    at: datetime | None = None,
) -> PortfolioScores:
    """Every debtor's score on ``as_of`` with ``model`` (``None``: the rules score), its band,
    expected days to pay and (``with_reasons``) top three reasons, ordered by score ascending
    (then debtor, currency); the first ``top`` rows when given. The scores are those
    ``score_debtor`` and the daily cycle give each debtor that day. ``keep``: store every
    row as the day's scores (``debtor_score``, replacing that day's; needs ``ADMINISTER``),
    recorded in the activity log at ``at``."""
    from arrears.scoring.bands import band  # noqa: PLC0415
    from arrears.scoring.features import debtor_features  # noqa: PLC0415  (scikit-learn)
    from arrears.scoring.frames import view_from_cycle_input  # noqa: PLC0415
    from arrears.scoring.model import reasons_series, score_view  # noqa: PLC0415

    actor.require(Permission.ADMINISTER if keep else Permission.READ, "score the portfolio")
    if top is not None and top < 1:
        raise InvalidInput(f"top must be at least 1, not {top}")
    try:
        data = read_cycle_input(uow.engine, portfolio=portfolio, as_of=as_of, reopen_within_days=30)
        disputes = read_disputes(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    view = view_from_cycle_input(data, as_of, disputes)
    scored = score_view(model, view, with_reasons=False, days_to_pay=True)
    balances = debtor_features(view, rules_only=model is None)
    names = data.debtors.select("debtor_id", pl.col("debtor_external_id").alias("debtor"))
    scores = (
        scored.select("debtor_id", "currency", "score", "expected_days_to_pay", "source")
        .join(names, on="debtor_id", how="left")
        .sort("score", "debtor", "currency")
    )
    if top is not None and not keep:
        scores = scores.head(top)
    texts = pl.List(pl.String())
    explained = balances.join(scores.select("debtor_id", "currency"), on=["debtor_id", "currency"])
    from arrears.scoring.monitor import outside_training  # noqa: PLC0415

    reference = None if model is None else model.metadata.get("monitor")
    why = explained.select("debtor_id", "currency").with_columns(
        reasons_series(model, explained).alias("reasons")
        if with_reasons
        else pl.lit([], dtype=texts).alias("reasons"),
        outside_training(reference, explained),
    )
    scores = (
        scores.join(why, on=["debtor_id", "currency"], how="left", maintain_order="left")
        .join(
            balances.select(
                "debtor_id",
                "currency",
                pl.col("days_past_due").cast(pl.Int64()),
                pl.col("open_minor").cast(pl.Int64()),
            ),
            on=["debtor_id", "currency"],
            how="left",
            maintain_order="left",
        )
        .with_columns(band(pl.col("score")).alias("band"))
    )
    stored = 0
    if keep:
        stored = _keep(uow, actor, portfolio, as_of, scores, model, at)
        if top is not None:
            scores = scores.head(top)
    columns = ["debtor", "currency", "score", "band", "expected_days_to_pay", "reasons"]
    shown = scores.select(*columns, "source", "days_past_due", "open_minor", "out_of_range")
    return PortfolioScores(portfolio, as_of, shown, stored)


class ScoresStored(Activity):
    kind: ClassVar[str] = "model.scores_stored"


class ModelTrained(Activity):
    kind: ClassVar[str] = "model.trained"


class ModelPromoted(Activity):
    kind: ClassVar[str] = "model.promoted"


def _entry(
    kind: type[Activity],
    actor: Actor,
    portfolio: tuple[str, int],
    subject: str,
    payload: dict[str, Any],
    at: datetime,
    key: str | None,
) -> Entry:
    return Entry(
        kind(
            occurred_at=at,
            actor=actor.name,
            portfolio=portfolio[0],
            debtor=None,
            subject_kind="model",
            subject_id=subject,
            payload=payload,
            idempotency_key=key,
        ),
        portfolio_id=portfolio[1],
    )


def _keep(
    uow: SqlUnitOfWork,
    actor: Actor,
    portfolio: str,
    as_of: date,
    scores: pl.DataFrame,
    model: Model | None,
    at: datetime | None,
    *,
    by: str = "model score",
) -> int:
    if at is None:
        raise InvalidInput("storing the day's scores needs the time they are stored at")
    with uow:
        return _write_scores(uow.conn, actor, portfolio, as_of, scores, model, at, by=by)


def _write_scores(
    conn: Connection,
    actor: Actor,
    portfolio: str,
    as_of: date,
    scores: pl.DataFrame,
    model: Model | None,
    at: datetime,
    *,
    by: str,
) -> int:
    """Write the day's ``scores`` and their activity record on ``conn`` (in its transaction)."""
    version = version_of(model)
    written = write_scores(
        conn, portfolio=portfolio, as_of=as_of, scores=scores, at=at, version=version
    )
    pid = portfolio_id(conn, portfolio)
    payload = {"as_of": as_of.isoformat(), "rows": written, "model": version, "by": by}
    # the run's storing is logged once a day and version: a second run of the day
    # replaces the same rows and adds nothing to the log
    key = f"scores:{portfolio}:{as_of.isoformat()}:{version}:run" if by == "run" else None
    if key is None or not logged(conn, key):
        entry = _entry(ScoresStored, actor, (portfolio, pid), version, payload, at, key)
        record(conn, [entry])
    return written


def version_of(model: Model | None) -> str:
    """The version a stored score is filed under: the model's (``v3``), or ``rules``."""
    return "rules" if model is None else str(model.metadata.get("version", "model"))


def run_scores(
    actor: Actor,
    portfolio: str,
    as_of: date,
    features: pl.DataFrame,
    model: Model | None,
    at: datetime,
) -> Callable[[Connection], int]:
    """What stores the scores the daily cycle gave every debtor on ``as_of`` (``features``: its
    feature table, one row per debtor and currency; those with an open balance carry a score)
    as the day's scores of ``model``'s version (``rules`` without one): score, band, expected
    days to pay (null when the policy does not read it) and no reasons (``arrears model score``
    adds them). The run calls it on its own connection, in the transaction of its commit, so the
    decisions and the scores land together or not at all. Idempotent: a second run of the day
    replaces that version's rows of the day. Recorded as ``model.scores_stored``; the function
    returns the rows written."""
    from arrears.scoring.bands import band  # noqa: PLC0415

    actor.require(Permission.ADMINISTER, "store the day's scores")
    source = "rules"
    if model is not None:  # loaded: scikit-learn is imported already
        from arrears.scoring.model import source_label  # noqa: PLC0415

        source = source_label(model)
    scores = features.filter(pl.col("score").is_not_null()).select(
        pl.col("debtor_id").cast(pl.Int64()),
        "currency",
        pl.col("score").cast(pl.Float64()),
        band(pl.col("score").cast(pl.Float64())).alias("band"),
        pl.col("expected_days_to_pay").cast(pl.Float64()),
        pl.lit(source).alias("source"),
        pl.lit([], dtype=pl.List(pl.String())).alias("reasons"),
    )

    def write(conn: Connection) -> int:
        return _write_scores(conn, actor, portfolio, as_of, scores, model, at, by="run")

    return write


#: The scoring history features a policy's conditions may read (``arrears.policy.features``):
#: computed by the scoring's own code for the cycle's day, only when the policy reads one.
SEGMENT_HISTORY = tuple(f.name for f in SCORING_HISTORY)


def with_scoring_history(
    engine: Engine, portfolio: str, data: CycleInput, as_of: date, reads: Callable[[str], bool]
) -> CycleInput:
    """``data`` with the scoring history features the policy ``reads`` (:data:`SEGMENT_HISTORY`)
    added to its scores, per debtor and currency with an open balance, exactly as the model
    sees them that day (``scoring.features.debtor_features``: promises judged as the cycle
    judges them, the dispute records, the credit limits); the cycle's feature table carries
    them on to the conditions. Unchanged when the policy reads none."""
    wanted = [name for name in SEGMENT_HISTORY if reads(name)]
    if not wanted:
        return data
    from arrears.scoring.features import debtor_features  # noqa: PLC0415
    from arrears.scoring.frames import view_from_cycle_input  # noqa: PLC0415

    view = view_from_cycle_input(data, as_of, read_disputes(engine, portfolio=portfolio))
    history = debtor_features(view).select("debtor_id", "currency", *wanted)
    scores = data.scores.drop(wanted, strict=False).join(
        history, on=["debtor_id", "currency"], how="left", maintain_order="left"
    )
    return replace(data, scores=scores)


def stored_scores(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, as_of: date, version: str | None = None
) -> pl.DataFrame:
    """The scores stored for ``as_of`` (by ``arrears run`` or ``model score``): per debtor and
    currency, ``debtor`` (the id as imported), ``score``, ``band``, ``expected_days_to_pay``,
    ``reasons`` (empty from a run), ``source`` and ``version``; of ``version``, or each
    debtor's last stored that day. Empty when the day was not scored. The worklist, KPIs and
    forecast read a day's scores here without scoring again."""
    from arrears.store.scoring.scores import read_scores  # noqa: PLC0415

    actor.require(Permission.READ, "read the stored scores")
    try:
        with uow.engine.connect() as conn:
            frame = read_scores(conn, portfolio=portfolio, as_of=as_of, version=version)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    return frame.drop("debtor_id")


@dataclass(frozen=True, slots=True)
class Trained:
    """A version just trained: its name, whether it went live (the workspace's first) and the
    model (its ``metadata``: examples, validation, monitor reference, libraries, data hash)."""

    version: str
    promoted: bool
    model: Model


def train_model(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    root: Path,
    start: date | None,
    end: date | None,
    at: datetime,
    max_debtors: int | None = None,
    target: Target | None = None,
    schedule: Schedule | None = None,
) -> Trained:
    """Train on ``portfolio``'s history (snapshot days ``start``..``end``, default: all of it)
    and store the models as the workspace's next version with their validation metrics, the
    libraries and the data's hash. The workspace's first version goes live; later ones wait for
    :func:`promote_model`. Recorded in the activity log (``model.trained``, and
    ``model.promoted`` for a first version). :class:`InvalidInput` (``NotEnoughHistory``) when
    the history is too short.

    ``target`` and ``schedule`` (a workspace's ``[scoring]``, :mod:`arrears.scoring.targets`;
    default: ``pays`` within 30 days, examples every 7 days): what the debtor score learns to
    predict (always the probability of the good outcome) and on which days its examples are
    taken; the version stores them (``metadata.json``'s ``target`` and ``schedule``)."""
    from arrears.scoring import Settings, train  # noqa: PLC0415  (scikit-learn)
    from arrears.scoring.registry import data_hash, promoted, save  # noqa: PLC0415

    actor.require(Permission.ADMINISTER, "train the model")
    history = scoring_history(uow, actor, portfolio=portfolio)
    first = start or history.first_day
    last = end or history.last_day
    assert first is not None and last is not None  # a history with instalments has days
    if first > last:
        raise InvalidInput(f"--from {first} is after --to {last}")
    limit = Settings().max_debtors if max_debtors is None else max_debtors
    settings = Settings.for_target(target or PAYS, schedule or Schedule(), limit)
    model = train(history, first, last, settings)
    live_before = promoted(root)
    version = save(
        model,
        root,
        {"portfolio": portfolio, "data_hash": data_hash(history), "trained_at": at.isoformat()},
    )
    went_live = live_before is None
    meta = model.metadata
    payload = {
        "version": version,
        "promoted": went_live,
        "training_window": meta["training_window"],
        "target": meta["target"],
        "schedule": meta["schedule"],
        "validation": {k: meta["validation"].get(k) for k in ("auc", "auc_95", "brier", "error")},
        "data_hash": meta["data_hash"],
    }
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        where = (portfolio, pid)
        key = f"model:{version}:{meta['sha256'][:16]}"
        entries = [_entry(ModelTrained, actor, where, version, payload, at, f"{key}:trained")]
        if went_live:
            first_live = {"version": version, "before": None, "first_version": True}
            entries.append(_entry(ModelPromoted, actor, where, version, first_live, at, None))
        record(uow.conn, entries)
    return Trained(version, went_live, model)


def promote_model(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, root: Path, version: str, at: datetime
) -> tuple[str | None, str]:
    """Put ``version`` live: the cycle, ``explain``, the worklist and ``model score`` use it
    from now on. Returns (the version live before, the one live now); recorded in the activity
    log (``model.promoted``). :class:`NotFound`-like ``ModelFileError`` (an ``Unavailable``)
    for a version that does not exist or cannot be loaded (nothing changes)."""
    from arrears.scoring.registry import load, promote, promoted, version_name  # noqa: PLC0415

    actor.require(Permission.ADMINISTER, "promote a model version")
    name = version_name(version)
    before = promoted(root)
    load(root, name)  # a version that cannot be used is never put live
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        payload = {"version": name, "before": before, "first_version": False}
        entry = _entry(ModelPromoted, actor, (portfolio, pid), name, payload, at, None)
        record(uow.conn, [entry])
        promote(root, name)  # last: a failed record leaves the live version as it was
    return before, name


@dataclass(frozen=True, slots=True)
class Monitoring:
    """``drift``: :func:`arrears.scoring.monitor.drift` (the score first, then each feature);
    ``debtors``: today's debtors compared (every one with an open balance)."""

    portfolio: str
    as_of: date
    version: str
    trained: dict[str, Any]
    debtors: int
    drift: pl.DataFrame


def monitor_model(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, as_of: date, model: Model
) -> Monitoring:
    """Population stability of ``model``'s features and score between its training examples
    and ``portfolio``'s debtors with an open balance on ``as_of``; :class:`InvalidInput` for a
    version trained before monitoring existed (no reference: train again)."""
    from arrears.scoring.features import debtor_features  # noqa: PLC0415
    from arrears.scoring.frames import view_from_cycle_input  # noqa: PLC0415
    from arrears.scoring.model import debtor_names, predict_pay  # noqa: PLC0415
    from arrears.scoring.monitor import drift  # noqa: PLC0415

    actor.require(Permission.READ, "monitor the model")
    ref = model.metadata.get("monitor")
    version = str(model.metadata.get("version", "model"))
    if not ref:
        raise InvalidInput(
            f"model {version} has no training distribution to compare with (trained before "
            "monitoring, or without a debtor model): train again (arrears model train)"
        )
    try:
        data = read_cycle_input(uow.engine, portfolio=portfolio, as_of=as_of, reopen_within_days=30)
        disputes = read_disputes(uow.engine, portfolio=portfolio)
    except UnknownPortfolio as exc:
        raise NotFound(str(exc)) from exc
    debtors = debtor_features(view_from_cycle_input(data, as_of, disputes))
    scores = predict_pay(model, debtors)
    table = drift(ref, debtors.select(debtor_names(model)), scores)
    window = model.metadata.get("training_window") or {}
    return Monitoring(portfolio, as_of, version, window, debtors.height, table)


def list_models(actor: Actor, *, root: Path) -> list[dict[str, Any]]:
    """Every version of the workspace at ``root`` (newest first): its metadata (validation,
    training window, examples, libraries, data hash) and ``live``."""
    from arrears.scoring.registry import listing  # noqa: PLC0415

    actor.require(Permission.READ, "list the model versions")
    return listing(root)
