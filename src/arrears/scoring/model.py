"""The propensity-to-pay models: training, scoring the portfolio, and the reasons of a score.

Three scikit-learn ``HistGradientBoosting`` models, trained on point-in-time examples
(:mod:`arrears.scoring.examples`):

- ``debtor``: the probability that a debtor pays at least half of what is due by the end of
  the next 30 days (overdue on the day, or falling due in the window) within those 30 days (the
  *score*; every account with an open balance is scored, current ones too), isotonic- (or,
  with few examples, sigmoid-) calibrated so that a score of 0.3 means about 30 % pay; or,
  with another target set (:attr:`Settings.target`, a workspace's ``[scoring]``), the
  probability of that target's good outcome (does not default, cures: a higher score always
  means more likely to pay);
  monotonic constraints from
  :data:`arrears.scoring.features.MODEL_DEBTOR_FEATURES` (a worse payment history never raises
  it), which leave out the features that act as a clock (``CLOCK_FEATURES``);
- ``invoice``: the probability that an invoice is paid late, at its issue day (constraints
  reversed: a worse payment history never lowers it);
- ``days``: the days from the example's day until the invoice is paid (absolute-error loss: it
  predicts a median).

When the history is too short (:class:`NotEnoughHistory`), :func:`score_frame` uses the
transparent rules of :mod:`arrears.scoring.rules` and says so in its ``source`` column.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from arrears.cycle.frames import CycleInput
from arrears.domain.errors import InvalidInput
from arrears.scoring.examples import (
    debtor_examples,
    example_days,
    invoice_examples,
    snapshot_days,
)
from arrears.scoring.features import (
    INVOICE_FEATURES,
    MODEL_DEBTOR_FEATURES,
    debtor_features,
    invoice_features,
)
from arrears.scoring.frames import History, View, sample_debtors, view_from_cycle_input
from arrears.scoring.rules import rules_days_to_pay, rules_reasons, rules_score
from arrears.scoring.targets import Schedule, Target
from arrears.scoring.words import EFFECT, READS, phrase

#: Fewer examples (or fewer of either outcome) than this: too little history to train.
MIN_EXAMPLES = 200
MIN_OF_EACH = 20
SEED = 7


class NotEnoughHistory(InvalidInput):
    """The history is too short to train a model; the rules score is used instead."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the models learn: the outcome window, the share that counts as paid, snapshots;
    the debtor score's target and the days its examples are taken (a workspace's
    ``[scoring]``, :mod:`arrears.scoring.targets`). :meth:`for_target` keeps the window, share
    and snapshot interval those of the target and schedule."""

    window_days: int = 30
    share: float = 0.5
    snapshot_every_days: int = 7
    #: Training learns from at most this many debtors (a deterministic sample by a hash of
    #: the debtor id, :func:`arrears.scoring.frames.sample_debtors`; ``None``: all), so its
    #: time and memory stay bounded whatever the portfolio's size.
    max_debtors: int | None = 100_000
    #: What the debtor score predicts (``None``: ``pays`` with ``window_days`` and ``share``).
    target: Target | None = None
    #: When the debtor examples are taken (``None``: every ``snapshot_every_days``).
    schedule: Schedule | None = None

    @classmethod
    def for_target(
        cls, target: Target, schedule: Schedule, max_debtors: int | None = 100_000
    ) -> Settings:
        """The settings that learn ``target`` from examples taken on ``schedule``."""
        return cls(
            window_days=target.window_days,
            share=target.share,
            snapshot_every_days=schedule.every_days,
            max_debtors=max_debtors,
            target=target,
            schedule=schedule,
        )

    def debtor_target(self) -> Target:
        """What the debtor score predicts: :attr:`target`, or ``pays`` of the window and share."""
        # getattr: settings unpickled from a version stored before the field existed lack it
        return getattr(self, "target", None) or Target("pays", self.window_days, self.share)

    def debtor_schedule(self) -> Schedule:
        """When the debtor examples are taken: :attr:`schedule`, or every snapshot interval."""
        return getattr(self, "schedule", None) or Schedule(self.snapshot_every_days)


@dataclass(slots=True)
class Model:
    """Trained models with what is needed to explain a score (training medians)."""

    debtor: Any
    invoice: Any
    days: Any
    debtor_reference: dict[str, float]
    settings: Settings = field(default_factory=Settings)
    metadata: dict[str, Any] = field(default_factory=dict)


def matrix(frame: pl.DataFrame, names: list[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The feature columns as a float matrix (nulls as NaN: the trees handle them)."""
    return frame.select([pl.col(n).cast(pl.Float64()) for n in names]).to_numpy().astype(np.float64)


def fit_matrix(frame: pl.DataFrame, names: list[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """:func:`matrix` to learn from: a feature never known in the examples (no credit limit in
    the whole portfolio) is a constant 0 (scikit-learn cannot bin a column of missing values
    only; a constant column gives no split, so the model ignores it at scoring, null or not)."""
    x = matrix(frame, names)
    if x.size:
        x[:, np.isnan(x).all(axis=0)] = 0.0
    return x


#: From this many examples, a classifier is one boosted model of 40 trees of 15 leaves whose
#: isotonic calibrator is fitted on 5-fold cross-validated predictions (``ensemble=False``)
#: and the regressor has 10 trees of 63 leaves: scoring evaluates each tree per debtor (per open
#: invoice for the days), so the trees are the cost of scoring a large portfolio; with this
#: many examples they score as well as the small-data settings (``docs/scoring.md``). Below,
#: the five calibrated models of 150 small trees (their average is better on a small history:
#: with 300 trees then, the IBM sample's AUC 0.885 against 0.879 for one model) and the cost
#: does not matter.
LARGE = 20_000


def _classifier(constraints: list[int], n: int) -> Any:
    if n >= LARGE:
        return CalibratedClassifierCV(
            HistGradientBoostingClassifier(
                max_iter=40,
                learning_rate=0.2,
                max_leaf_nodes=15,
                min_samples_leaf=20,
                l2_regularization=1.0,
                monotonic_cst=constraints,
                early_stopping=False,
                random_state=SEED,
            ),
            method="isotonic",
            # shuffled: the examples are in time order, and contiguous folds' predictions
            # (each from a model of the other periods) do not match the model refitted on
            # all of them (100k debtors: paid-late Brier 0.1725 unshuffled, 0.1614 shuffled)
            cv=StratifiedKFold(5, shuffle=True, random_state=SEED),
            ensemble=False,
        )
    trees = HistGradientBoostingClassifier(
        # 150 trees, not 300: on the IBM sample's chronological split the 300-tree models were
        # sharper than the later, less-late period supports (paid late: Brier 0.1327 against
        # 0.1293, accuracy 0.796 against 0.804; Brier lower at train shares 0.7 to 0.85 too)
        max_iter=150,
        learning_rate=0.03,
        max_leaf_nodes=7,
        min_samples_leaf=20,
        l2_regularization=1.0,
        monotonic_cst=constraints,
        random_state=SEED,
    )
    if n >= 1000:
        return CalibratedClassifierCV(trees, method="isotonic", cv=5)
    return CalibratedClassifierCV(trees, method="sigmoid", cv=3)


def regressor(n: int = 0) -> HistGradientBoostingRegressor:
    """The days regressor for ``n`` examples (see :data:`LARGE`)."""
    if n >= LARGE:
        return HistGradientBoostingRegressor(
            loss="absolute_error",
            max_iter=10,
            learning_rate=0.2,
            max_leaf_nodes=63,
            min_samples_leaf=20,
            early_stopping=False,
            random_state=SEED,
        )
    return HistGradientBoostingRegressor(
        loss="absolute_error",
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        random_state=SEED,
    )


def _check(y: np.ndarray[Any, Any], what: str, *, binary: bool = True) -> None:
    positives = int(y.sum()) if binary else len(y)
    short = len(y) < MIN_EXAMPLES or (binary and min(positives, len(y) - positives) < MIN_OF_EACH)
    if short:
        need = f"need {MIN_EXAMPLES}" + (f" with {MIN_OF_EACH} of each outcome" if binary else "")
        got = f"{len(y)} examples" + (f", {positives} positive" if binary else "")
        raise NotEnoughHistory(
            f"too little history to train the {what} model: {got} ({need}); the rules are used"
        )


def fit_debtor(examples: pl.DataFrame) -> tuple[Any, dict[str, float]]:
    names = list(MODEL_DEBTOR_FEATURES)
    if examples.is_empty():
        _check(np.zeros(0), "debtor")
    y = examples["paid"].to_numpy().astype(np.int64)
    _check(y, "debtor")
    x = fit_matrix(examples, names)
    with threadpool_limits(1):
        model = _classifier(list(MODEL_DEBTOR_FEATURES.values()), len(y)).fit(x, y)
    reference = {n: float(v) for n, v in zip(names, np.nanmedian(x, axis=0), strict=True)}
    return model, reference


def fit_late(examples: pl.DataFrame) -> Any:
    """The paid-late classifier, on the invoices' issue-day rows."""
    at_issue = examples.filter(pl.col("at_issue")) if not examples.is_empty() else examples
    if at_issue.is_empty():
        _check(np.zeros(0), "paid-late")
    y = at_issue["late"].to_numpy().astype(np.int64)
    _check(y, "paid-late")
    late = [-c for c in INVOICE_FEATURES.values()]
    with threadpool_limits(1):
        return _classifier(late, len(y)).fit(fit_matrix(at_issue, list(INVOICE_FEATURES)), y)


def fit_days(examples: pl.DataFrame) -> HistGradientBoostingRegressor:
    """The days-to-pay regressor, on every row whose invoice was paid."""
    if examples.is_empty():
        _check(np.zeros(0), "days-to-pay", binary=False)
    paid = examples.filter(pl.col("days_to_pay").is_not_null())
    _check(np.zeros(paid.height), "days-to-pay", binary=False)
    with threadpool_limits(1):
        return regressor(paid.height).fit(
            fit_matrix(paid, list(INVOICE_FEATURES)), paid["days_to_pay"].to_numpy()
        )


def fit_invoice(examples: pl.DataFrame) -> tuple[Any, Any]:
    """The paid-late classifier (issue-day rows) and the days-to-pay regressor (all rows)."""
    return fit_late(examples), fit_days(examples)


def _medians(debtors: pl.DataFrame) -> dict[str, float]:
    """The debtor features' medians (0 for a feature never known): the reference of the rules
    score's reasons when no debtor model is trained."""
    out = dict.fromkeys(MODEL_DEBTOR_FEATURES, 0.0)
    for name in MODEL_DEBTOR_FEATURES:
        if name in debtors.columns:
            value = debtors[name].cast(pl.Float64()).median()
            if isinstance(value, float) and not np.isnan(value):
                out[name] = value
    return out


class RulesScore:
    """The debtor model of a :class:`Model` trained without one: its debtors are scored and
    explained by the transparent rules (:func:`arrears.scoring.rules.rules_score`), which read
    a feature no model learns from (``days_since_settlement``)."""


def _fit_each(fits: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Run each fit; the ones with too little history give ``None`` and their reason."""
    fitted: dict[str, Any] = {}
    status: dict[str, str] = {}
    for name, fit in fits.items():
        try:
            fitted[name] = fit()
            status[name] = "trained"
        except NotEnoughHistory as exc:
            fitted[name] = None
            status[name] = f"rules: {exc}"
    return fitted, status


def train(history: History, start: date, end: date, settings: Settings | None = None) -> Model:
    """Train on examples whose day is in ``[start, end]`` and whose outcome window ends by the
    end of the history. Each of the three models is trained when its examples suffice; the
    others are left out (``None``: the rules stand in; ``metadata["models"]`` says which and
    why). Raises :class:`NotEnoughHistory` when none can be trained."""
    s = settings or Settings()
    target, schedule = s.debtor_target(), s.debtor_schedule()
    last = history.last_day
    if last is None:
        raise NotEnoughHistory("no history: nothing was ever invoiced; the rules score is used")
    end = min(end, last - timedelta(days=max(s.window_days, target.window_days)))
    history, all_debtors, sampled = sample_debtors(history, s.max_debtors)
    days = snapshot_days(start, end, s.snapshot_every_days)
    # the debtor score learns the target set, from examples taken on its schedule (each
    # account's statement days, or every N days); the invoice models on the snapshot days
    debtor_days = example_days(history, start, end, schedule)
    debtors = debtor_examples(history, debtor_days, target=target, schedule=schedule)
    invoices = invoice_examples(history, days)
    if not invoices.is_empty():
        invoices = invoices.filter(pl.col("as_of").is_between(start, end))
    fitted, status = _fit_each(
        {
            "debtor": lambda: fit_debtor(debtors),
            "paid_late": lambda: fit_late(invoices),
            "days_to_pay": lambda: fit_days(invoices),
        }
    )
    if all(f is None for f in fitted.values()):
        reasons = "; ".join(v.removeprefix("rules: ") for v in status.values())
        raise NotEnoughHistory(f"{reasons}: no model is trained, the rules score is used")
    debtor, reference = fitted["debtor"] or (RulesScore(), _medians(debtors))
    model = Model(debtor, fitted["paid_late"], fitted["days_to_pay"], reference, s)
    model.metadata.update(_lifecycle(model, debtors, s))
    model.metadata.update(
        features={"debtor": list(MODEL_DEBTOR_FEATURES), "invoice": list(INVOICE_FEATURES)},
        training_window={"from": start.isoformat(), "to": end.isoformat()},
        examples={
            "debtor": debtors.height,
            # of which with nothing overdue on their day (current accounts)
            "debtor_current": debtors.filter(pl.col("overdue_minor") == 0).height
            if not debtors.is_empty()
            else 0,
            # of which with a credit limit in the balance's currency (the lender features)
            "debtor_with_credit_limit": debtors.filter(pl.col("utilisation").is_not_null()).height
            if not debtors.is_empty()
            else 0,
            "invoice": invoices.height,
            "invoice_at_issue": invoices.filter(pl.col("at_issue")).height
            if not invoices.is_empty()
            else 0,
        },
        models=status,
        sample={
            "debtors": all_debtors,
            "sampled_debtors": sampled,
            "max_debtors": s.max_debtors,
            "method": "the debtors with the lowest SplitMix64 hash of debtor_id",
        },
        settings={
            "window_days": s.window_days,
            "share": s.share,
            "snapshot_every_days": s.snapshot_every_days,
            "max_debtors": s.max_debtors,
        },
        target=target.to_dict(),
        schedule=schedule.to_dict(),
    )
    return model


def _lifecycle(model: Model, debtors: pl.DataFrame, s: Settings) -> dict[str, Any]:
    """What a version carries for its lifecycle: ``validation`` (the debtor score on a held-out
    chronological split, :func:`arrears.scoring.evaluate.validate_debtor`) and ``monitor``
    (the training distribution of each feature of the score and of the score itself,
    :func:`arrears.scoring.monitor.reference`)."""
    from arrears.scoring.evaluate import validate_debtor  # noqa: PLC0415  (imports this module)
    from arrears.scoring.monitor import reference  # noqa: PLC0415

    if isinstance(model.debtor, RulesScore) or debtors.is_empty():
        return {"validation": {"error": "no debtor model"}, "monitor": None}
    with threadpool_limits(1):
        scores = predict_pay(model, debtors)
    return {
        "validation": validate_debtor(debtors, s, target=s.debtor_target()),
        "monitor": reference(debtors, list(MODEL_DEBTOR_FEATURES), scores),
    }


def source_label(model: Model | None) -> str:
    """Where a score and its days to pay come from: ``model v3``, ``rules``, or which part of
    a model stands in for rules (``rules (model v3: no debtor model); days to pay: model v3``)."""
    if model is None:
        return "rules"
    name = f"model {model.metadata.get('version', '')}".strip()
    score = name if not isinstance(model.debtor, RulesScore) else f"rules ({name}: no debtor model)"
    if model.days is None:
        return f"{score}; days to pay: rules"
    if isinstance(model.debtor, RulesScore):
        return f"{score}; days to pay: {name}"
    return score


def debtor_names(model: Model) -> list[str]:
    """The debtor features ``model`` learnt from, in its order (a version trained before a
    feature was added learnt without it, and is scored without it)."""
    names = (model.metadata.get("features") or {}).get("debtor")
    return list(names) if names else list(MODEL_DEBTOR_FEATURES)


def invoice_names(model: Model) -> list[str]:
    """The invoice features ``model`` learnt from, in its order (see :func:`debtor_names`)."""
    names = (model.metadata.get("features") or {}).get("invoice")
    return list(names) if names else list(INVOICE_FEATURES)


def predict_pay(model: Model, debtors: pl.DataFrame) -> np.ndarray[Any, Any]:
    if debtors.is_empty():
        return np.zeros(0)
    if isinstance(model.debtor, RulesScore):
        return rules_score(debtors).to_numpy()
    return np.asarray(model.debtor.predict_proba(matrix(debtors, debtor_names(model)))[:, 1])


def predict_late(model: Model, invoices: pl.DataFrame) -> np.ndarray[Any, Any]:
    if invoices.is_empty():
        return np.zeros(0)
    return np.asarray(model.invoice.predict_proba(matrix(invoices, invoice_names(model)))[:, 1])


def predict_days(model: Model, invoices: pl.DataFrame) -> np.ndarray[Any, Any]:
    if invoices.is_empty():
        return np.zeros(0)
    if model.days is None:
        return rules_days_to_pay(invoices).to_numpy()
    days = model.days.predict(matrix(invoices, invoice_names(model)))
    clipped: np.ndarray[Any, Any] = np.clip(np.asarray(days), 0, None)
    return clipped


#: Rows explained per prediction (each is scored once as is and once per feature moved).
_REASON_ROWS = 10_000


def split_points(model: Model, k: int) -> list[np.ndarray[Any, Any]] | None:
    """Per debtor feature (``k`` of them), every threshold the debtor model's trees split it
    on, sorted: two values between the same consecutive thresholds (or both missing) go the
    same way at every node, so they get the same score. ``None`` when the model is not made of
    scikit-learn's histogram trees (then every pair is scored)."""
    try:
        estimators = [c.estimator for c in model.debtor.calibrated_classifiers_]
        trees = [p for e in estimators for per_iteration in e._predictors for p in per_iteration]
    except AttributeError:
        return None
    found: list[list[np.ndarray[Any, Any]]] = [[] for _ in range(k)]
    for tree in trees:
        nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
        if nodes["is_categorical"].any():
            return None
        for j in np.unique(nodes["feature_idx"]):
            found[int(j)].append(nodes["num_threshold"][nodes["feature_idx"] == j])
    return [np.unique(np.concatenate(f)) if f else np.zeros(0) for f in found]


def _interval(
    values: np.ndarray[Any, Any], thresholds: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Which interval between ``thresholds`` each value falls in (``x <= t`` goes left, as
    the trees decide); -1 for a missing value."""
    where = np.searchsorted(thresholds, values, side="left").astype(np.int64)
    where[np.isnan(values)] = -1
    return where


def _deltas(
    model: Model,
    x: np.ndarray[Any, Any],
    names: list[str],
    splits: list[np.ndarray[Any, Any]] | None = None,
    parts: Parts | None = None,
) -> np.ndarray[Any, Any]:
    """Per row of ``x`` and feature: the score minus the score with that feature at its
    training median (``parts``, :func:`_tree_parts` of ``splits``: tree by tree,
    :func:`_tree_deltas`; without, every moved copy predicted whole). Only the pairs whose
    value and median fall on different sides of some split of the trees are scored again
    (``splits``: :func:`split_points`): the others change no tree's path, so their
    difference is exactly 0 (a feature the trees never split on, a value in the median's
    interval), which leaves most pairs out."""
    n, k = x.shape
    reference = np.array([model.debtor_reference[name] for name in names], dtype=np.float64)
    codes = np.full((n, k), -1, dtype=np.int64)
    median_codes = np.full(k, -1, dtype=np.int64)
    if splits is None:
        differs = ~(x == reference)  # a missing value differs from the median
    else:
        differs = np.zeros((n, k), dtype=bool)
        for j, thresholds in enumerate(splits):
            if len(thresholds):
                median_codes[j] = _interval(reference[j : j + 1], thresholds)[0]
                codes[:, j] = _interval(x[:, j], thresholds)
                differs[:, j] = codes[:, j] != median_codes[j]
    if parts is not None:
        return _tree_deltas(parts, x, codes, differs, reference, median_codes)
    rows, columns = np.nonzero(differs)
    moved = x[rows]
    moved[np.arange(len(rows)), columns] = reference[columns]
    with threadpool_limits(1):  # as score_view
        p = np.asarray(model.debtor.predict_proba(np.vstack([x, moved]))[:, 1])
    deltas = np.zeros((n, k), dtype=np.float64)
    deltas[rows, columns] = p[:n][rows] - p[n:]
    return deltas


#: Per calibrated classifier: estimator, calibrator, trees in order and, per tree, feature
#: index -> the tree's side of each interval between the model's split points (see
#: :func:`_tree_parts`).
Parts = list[tuple[Any, Any, list[Any], list[dict[int, np.ndarray[Any, Any]]]]]


def _tree_parts(model: Model, splits: list[np.ndarray[Any, Any]] | None) -> Parts | None:
    """Per calibrated classifier of the debtor model: its histogram boosting estimator, its
    calibrator, its trees in order and, per tree and feature it splits on, which of the tree's
    own intervals each interval between ``splits`` (all the model's thresholds of the feature,
    :func:`split_points`) lies in: ``lookup[c]`` for the interval ``c`` of :func:`_interval`.
    ``None`` when the model is not a binary calibrated ``HistGradientBoostingClassifier`` on
    numbers (then :func:`_deltas` predicts every moved copy whole)."""
    if splits is None:
        return None
    parts: Parts = []
    try:
        for c in model.debtor.calibrated_classifiers_:
            estimator, [calibrator] = c.estimator, c.calibrators
            if (
                estimator.n_trees_per_iteration_ != 1
                or c.method not in ("isotonic", "sigmoid")
                or getattr(estimator, "_preprocessor", None) is not None
            ):
                return None
            trees = [per_iteration[0] for per_iteration in estimator._predictors]
            uses: list[dict[int, np.ndarray[Any, Any]]] = []
            for tree in trees:
                nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
                if nodes["is_categorical"].any():
                    return None
                mine = {}
                for j in np.unique(nodes["feature_idx"]):
                    own = np.unique(nodes["num_threshold"][nodes["feature_idx"] == j])
                    every = splits[int(j)]
                    side = np.searchsorted(own, every, side="right")
                    mine[int(j)] = np.concatenate([[0], side]).astype(np.int64)
                uses.append(mine)
            parts.append((estimator, calibrator, trees, uses))
    except (AttributeError, ValueError):
        return None
    return parts


def _tree_deltas(
    parts: Parts,
    x: np.ndarray[Any, Any],
    codes: np.ndarray[Any, Any],
    differs: np.ndarray[Any, Any],
    reference: np.ndarray[Any, Any],
    median_codes: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """:func:`_deltas` tree by tree: moving feature ``j`` to its median changes the leaf of a
    tree only if the tree splits ``j`` between the value and the median, so each moved copy
    is run through those trees alone (its rows whose value and median fall in different
    intervals of that tree, from ``codes``: each value's interval between the model's split
    points), and its raw score is the row's minus their old leaves plus their new ones. These
    are the leaves the whole prediction finds; the sum is taken in another order, so a raw
    score may differ from sklearn's in its last bits (measured: at most about 5e-13 on a
    score). Then it is calibrated as sklearn does (``calibrator.predict`` of the raw score,
    averaged over the calibrated classifiers)."""
    n, k = x.shape
    x = np.ascontiguousarray(x, dtype=np.float64)
    where = [np.nonzero(differs[:, j])[0] for j in range(k)]
    score = np.zeros(n)
    moved_scores = [np.zeros(len(rows)) for rows in where]
    for estimator, calibrator, trees, uses in parts:
        known, f_idx = estimator._bin_mapper.make_known_categories_bitsets()
        leaves = np.empty((len(trees), n))
        raw = np.zeros(n) + estimator._baseline_prediction.ravel()[0]
        for t, tree in enumerate(trees):
            leaves[t] = tree.predict(x, known, f_idx, 1)
            raw += leaves[t]
        score += calibrator.predict(raw)
        for j in range(k):
            if not len(where[j]):
                continue
            # the rows by interval: a tree's own intervals are runs of the model's, so the
            # rows it sends elsewhere than the median are two runs (missing values first)
            order = np.argsort(codes[where[j], j], kind="stable")
            rows = where[j][order]
            code = codes[rows, j]
            shifted = raw[rows]
            for t, used in enumerate(uses):
                lookup = used.get(j)
                if lookup is None:
                    continue
                side = lookup[median_codes[j]]
                lo = int(np.searchsorted(lookup, side, side="left"))
                hi = int(np.searchsorted(lookup, side, side="right"))
                a = int(np.searchsorted(code, lo, side="left"))
                b = int(np.searchsorted(code, hi, side="left"))
                if a == 0 and b == len(code):
                    continue
                crosses = np.r_[0:a, b : len(code)]
                at = rows[crosses]
                moved = x[at]
                moved[:, j] = reference[j]
                shifted[crosses] += trees[t].predict(moved, known, f_idx, 1) - leaves[t, at]
            moved_scores[j][order] += calibrator.predict(shifted)
    count = len(parts)
    score /= count
    deltas = np.zeros((n, k), dtype=np.float64)
    for j in range(k):
        if len(where[j]):
            deltas[where[j], j] = score[where[j]] - moved_scores[j] / count
    return deltas


def reasons(
    model: Model | None, debtors: pl.DataFrame, top: int = 3, lang: str = "en"
) -> list[list[str]]:
    """:func:`reasons_series` as lists."""
    return reasons_series(model, debtors, top, lang).to_list()


def reasons_series(
    model: Model | None,
    debtors: pl.DataFrame,
    top: int = 3,
    lang: str = "en",
    *,
    by_tree: bool = True,
) -> pl.Series:
    """Per row, the features that move its score most, in a collector's words
    (:mod:`arrears.scoring.words`: ``"usually pays 20 days late (lowers the score by 0.21)"``):
    each feature set to the training median in turn; the change of the score is the feature's
    contribution. Every row's moved copies are scored in one prediction (one call per feature
    cost most of ``model explain``'s time). With no model (or no debtor model), the rules' own
    parts."""
    texts = pl.List(pl.String())
    if model is None or isinstance(model.debtor, RulesScore) or debtors.is_empty():
        return pl.Series("reasons", rules_reasons(debtors, top), dtype=texts)
    names = debtor_names(model)
    x = matrix(debtors, names)
    splits = split_points(model, len(names))
    # each moved copy through the trees that split its feature only (``by_tree=False``: every
    # copy predicted whole, as before; the benchmark and a test compare the two)
    parts = _tree_parts(model, splits) if by_tree else None
    deltas = np.concatenate(
        [
            _deltas(model, x[i : i + _REASON_ROWS], names, splits, parts)
            for i in range(0, len(x), _REASON_ROWS)
        ]
    )
    return _said(model, names, x, deltas, top, lang)


#: A score none of whose features moves it by 0.01 or more.
TYPICAL = {"en": "close to the typical debtor", "es": "cerca del deudor típico"}


def _said(
    model: Model,
    names: list[str],
    x: np.ndarray[Any, Any],
    deltas: np.ndarray[Any, Any],
    top: int,
    lang: str,
) -> pl.Series:
    """The top ``top`` reasons of each row in words, in columns: each distinct (feature,
    value, the value its phrase reads beside) is put in words once, and the effects are
    joined on (``model score`` explains a million debtors; a phrase per row took seconds)."""
    n = x.shape[0]
    top_of = np.argsort(-np.abs(deltas), axis=1, kind="stable")[:, :top]
    rows = np.repeat(np.arange(n), top_of.shape[1])
    feature = top_of.reshape(-1)
    delta = deltas[rows, feature]
    keep = np.round(delta, 2) != 0
    rows, feature, delta = rows[keep], feature[keep], delta[keep]
    # the value of the feature a phrase reads beside its own (words.READS), else missing
    beside = np.full(len(rows), np.nan)
    for name, other in READS.items():
        if name in names and other in names:
            mine = feature == names.index(name)
            beside[mine] = x[rows[mine], names.index(other)]
    long = pl.DataFrame(
        {
            "row": rows,
            "feature": feature,
            "value": x[rows, feature],
            "beside": beside,
            "delta": delta,
        },
        schema={
            "row": pl.Int64(),
            "feature": pl.Int64(),
            "value": pl.Float64(),
            "beside": pl.Float64(),
            "delta": pl.Float64(),
        },
    )
    distinct = long.select("feature", "value", "beside").unique()
    texts = []
    for j, value, other in distinct.iter_rows():
        name = names[j]
        row = {name: value}
        if name in READS:
            row[READS[name]] = other
        texts.append(phrase(name, row, model.debtor_reference[name], lang))
    up, down = EFFECT[lang]
    joiner = "by" if lang == "en" else "en"
    said = (
        long.join(
            distinct.with_columns(pl.Series("phrase", texts, pl.String())),
            on=["feature", "value", "beside"],
            how="left",
            nulls_equal=True,
        )
        .with_columns(
            pl.format(
                "{} ({} {} {})",
                "phrase",
                pl.when(pl.col("delta") > 0).then(pl.lit(up)).otherwise(pl.lit(down)),
                pl.lit(joiner),
                _two_decimals(pl.col("delta").abs()),
            ).alias("reason")
        )
        .sort("row", maintain_order=True)
        .group_by("row", maintain_order=True)
        .agg("reason")
    )
    typical = pl.lit([TYPICAL.get(lang, TYPICAL["en"])], dtype=pl.List(pl.String()))
    return (
        pl.DataFrame({"row": np.arange(n)}, schema={"row": pl.Int64()})
        .join(said, on="row", how="left", maintain_order="left")
        .select(pl.col("reason").fill_null(typical).alias("reasons"))
        .to_series()
    )


def _two_decimals(value: pl.Expr) -> pl.Expr:
    """A non-negative number below 10 with two decimals (``0.2`` -> ``"0.20"``), in columns."""
    cents = (value * 100).round(0).cast(pl.Int64())
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String()).str.zfill(2))


def facts(model: Model | None, debtors: pl.DataFrame, lang: str = "en") -> list[dict[str, str]]:
    """Per row of ``debtors`` (:func:`arrears.scoring.features.debtor_features`), every
    feature the score reads in a collector's words (``{"promises_broken_12m": "has broken 2
    promises this year", ...}``): what is known of the debtor, whether or not it moves the
    score (``model explain``)."""
    from arrears.scoring.words import phrase  # noqa: PLC0415

    names = debtor_names(model) if model is not None else list(MODEL_DEBTOR_FEATURES)
    typical = model.debtor_reference if model is not None else {}
    rows = debtors.select([pl.col(n).cast(pl.Float64()) for n in names]).to_dicts()
    return [{n: phrase(n, row, typical.get(n), lang) for n in names} for row in rows]


def _value(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


SCORE_SCHEMA: dict[str, pl.DataType] = {
    "debtor_id": pl.Int64(),
    "currency": pl.String(),
    "score": pl.Float64(),
    "expected_recovery_minor": pl.Int64(),
    "expected_days_to_pay": pl.Float64(),
    "source": pl.String(),
    "reasons": pl.List(pl.String()),
}


def score_view(
    model: Model | None,
    view: View,
    *,
    with_reasons: bool = True,
    reasons_for: Collection[int] | None = None,
    days_to_pay: bool = True,
) -> pl.DataFrame:
    """:func:`score_frame` on a :class:`View`."""
    debtors = debtor_features(view, rules_only=model is None)
    if model is None:
        score = rules_score(debtors).to_numpy()
        source = "rules"
    else:
        # one thread: OpenMP's threads made this 6.6x slower on 2 busy cores (measured)
        with threadpool_limits(1):
            score = predict_pay(model, debtors)
        source = source_label(model)
    per_debtor = _expected_days(model, view, debtors) if days_to_pay else None
    texts = pl.List(pl.String())
    frame = debtors.select("debtor_id", "currency", "overdue_minor").with_columns(
        pl.Series("score", score, dtype=pl.Float64()),
        pl.lit(source).alias("source"),
    )
    # reasons only where asked: each costs a prediction per feature (the rules: a row of text)
    if reasons_for is not None:
        explained = debtors.filter(pl.col("debtor_id").is_in(list(reasons_for)))
        why = explained.select("debtor_id", "currency").with_columns(
            reasons_series(model, explained).alias("reasons")
        )
        frame = frame.join(
            why, on=["debtor_id", "currency"], how="left", maintain_order="left"
        ).with_columns(pl.col("reasons").fill_null(pl.lit([], dtype=texts)))
    elif with_reasons:
        frame = frame.with_columns(reasons_series(model, debtors).alias("reasons"))
    else:
        frame = frame.with_columns(pl.lit([], dtype=texts).alias("reasons"))
    # debtors are sorted by (debtor_id, currency): the left join keeps that order
    if per_debtor is None:
        frame = frame.with_columns(pl.lit(None, pl.Float64()).alias("expected_days_to_pay"))
    else:
        frame = frame.join(
            per_debtor, on=["debtor_id", "currency"], how="left", maintain_order="left"
        )
    return frame.with_columns(
        (pl.col("score") * pl.col("overdue_minor"))
        .round(0)
        .cast(pl.Int64())
        .alias("expected_recovery_minor")
    ).select(list(SCORE_SCHEMA))


def _expected_days(model: Model | None, view: View, debtors: pl.DataFrame) -> pl.DataFrame:
    """Per (debtor_id, currency): the open-balance-weighted mean of its open invoices' expected
    days to pay (the days model, or the rules)."""
    invoices = invoice_features(view, debtors=debtors)
    if model is None:
        days = rules_days_to_pay(invoices).to_numpy()
    else:
        with threadpool_limits(1):
            days = predict_days(model, invoices)
    return (
        invoices.select("debtor_id", "currency", "invoice_open_minor")
        .with_columns(pl.Series("_days", days, dtype=pl.Float64()))
        .group_by("debtor_id", "currency")
        .agg(
            (
                (pl.col("_days") * pl.col("invoice_open_minor")).sum()
                / pl.col("invoice_open_minor").sum()
            ).alias("expected_days_to_pay")
        )
    )


def score_frame(
    model: Model | None,
    data: CycleInput,
    as_of: date,
    *,
    with_reasons: bool = True,
    reasons_for: Collection[int] | None = None,
    days_to_pay: bool = True,
    disputes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per (debtor_id, currency) with an open balance as of ``as_of`` (current or overdue):
    ``score`` (probability of paying at least ``share`` of what is due by the window's end,
    overdue or falling due, within the window), ``expected_recovery_minor``
    (score x overdue balance, minor units), ``expected_days_to_pay`` (open-balance-weighted mean
    over its open invoices), ``source`` (``rules`` or ``model <version>``) and ``reasons``.
    ``model=None``: the rules score. ``reasons``: for every row with ``with_reasons``, only for
    the debtors ``reasons_for`` when given (empty lists elsewhere; one debtor's ``explain``
    need not explain a million), none otherwise. ``days_to_pay=False``: no invoice is scored
    for its days to pay (``expected_days_to_pay`` null): the daily cycle of a policy that does
    not read that feature skips the per-invoice model (about 40 % of a model's score at 1M).
    ``disputes``: the store's dispute records (``read_disputes``) for ``disputes_12m``."""
    return score_view(
        model,
        view_from_cycle_input(data, as_of, disputes),
        with_reasons=with_reasons,
        reasons_for=reasons_for,
        days_to_pay=days_to_pay,
    )
