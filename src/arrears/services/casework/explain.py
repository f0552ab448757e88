"""The explain view: why the cycle does what it does for one debtor on a day.

One read model for every front end (``arrears explain``, ``arrears plan --debtor``, a web page
later): for each currency the debtor owes in, the segment and the stage with the policy's rule
that matched, the case and what the cycle decides for it (open, stage, stay, close...), its
approval, arm and pause, the promises with their outcomes, the priority, the score with its
source (trained model or rules) and reasons, every feature of the catalogue as the engine
computed it, and every step of the current cadence with its status and why. It is
:func:`arrears.services.cycle.plan_cycle` for that debtor (nothing is written), arranged for
reading; the front end only formats it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from arrears.cycle.compiled import CompiledPolicy
from arrears.domain.actor import Actor
from arrears.policy.features import CATALOGUE
from arrears.services.casework.collection import list_promises
from arrears.services.cycle import plan_cycle
from arrears.services.ports import PromiseView
from arrears.services.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from arrears.scoring.model import Model

#: The stage of a debtor without a case, and the rule shown for it.
NO_STAGE = "clear"
NO_STAGE_RULE = "nothing overdue: no stage condition holds"
DEFAULT_SEGMENT_RULE = "default segment"


@dataclass(frozen=True, slots=True)
class ExplainedStep:
    """One occurrence of a step of the case's current cadence (``occurrence`` 0: the first).

    ``status``: executed, skipped or blocked today; ``done (...)`` on an earlier day; pending;
    paused. ``reason``: why (the skip's, the rule's, ``due on DAY``, ``paused by ...``)."""

    debtor_id: int
    currency: str
    step_id: str
    occurrence: int
    action: str
    channel: str | None
    due_on: date
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Explained:
    """One currency of the debtor: what the cycle sees and decides, and why.

    ``case``: the decision for the case (open, reopen, stage, update, stay, close) or
    ``no case``; ``opened_on`` is null without one. ``features``: every catalogue feature by
    name, as the engine computed it (money in major units as ``Decimal``; null when it does not
    apply)."""

    currency: str
    segment: str
    segment_rule: str
    stage: str
    stage_rule: str
    case: str
    opened_on: date | None
    awaiting_approval: str | None
    arm: str | None
    paused_by: str | None
    paused_until: date | None
    priority: float
    score: float | None
    score_source: str | None
    score_reasons: tuple[str, ...]
    features: Mapping[str, object]
    steps: tuple[ExplainedStep, ...]
    #: the debtor's promises in this currency, newest first, with their outcome once found
    promises: tuple[PromiseView, ...] = ()


@dataclass(frozen=True, slots=True)
class ExplainView:
    """One debtor on ``as_of`` under ``policy``: one :class:`Explained` per currency with an
    open balance or a case (none: nothing open, no case, the cycle does nothing)."""

    debtor: str
    portfolio: str
    as_of: date
    policy: str
    currencies: tuple[Explained, ...]


def explain_view(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    debtor: str,
    as_of: date,
    policy: CompiledPolicy,
    model: Model | None = None,
    rates: Mapping[str, Decimal] | None = None,
    reference_rates: Path | None = None,
) -> ExplainView:
    """The explain view of ``debtor`` (its external id) on ``as_of``; ``model``, ``rates``,
    ``reference_rates``: as :func:`arrears.services.cycle.plan_cycle`, which raises
    :class:`NotFound` for an unknown portfolio or debtor."""
    decisions = plan_cycle(
        uow,
        actor,
        portfolio=portfolio,
        as_of=as_of,
        policy=policy,
        debtor=debtor,
        model=model,
        rates=rates,
        reference_rates=reference_rates,
    )
    promises = list_promises(uow, actor, portfolio=portfolio, debtor=debtor)
    segments = {s.name: s.when for s in policy.policy.segments}
    stages = {s.name: s.when for s in policy.policy.stages}
    plan = decisions.plan if decisions.plan is not None else pl.DataFrame()
    explained = []
    for row in decisions.features.iter_rows(named=True):
        currency = row["currency"]
        cases = decisions.cases.filter(pl.col("currency") == currency)
        case = cases.row(0, named=True) if cases.height else None
        stage = case["stage"] if case else NO_STAGE
        steps = plan.filter(pl.col("currency") == currency) if plan.height else plan
        explained.append(
            Explained(
                currency=currency,
                segment=row["segment"],
                segment_rule=segments.get(row["segment"]) or DEFAULT_SEGMENT_RULE,
                stage=stage,
                stage_rule=stages.get(stage) or NO_STAGE_RULE,
                case=case["change"] if case else "no case",
                opened_on=case["opened_on"] if case else None,
                awaiting_approval=case["awaiting_approval"] if case else None,
                arm=row["arm"],
                paused_by=row["paused_by"],
                paused_until=row["paused_until"],
                priority=row["priority"],
                score=row.get("score"),
                score_source=row.get("score_source"),
                score_reasons=tuple(row.get("score_reasons") or ()),
                features={f.name: row.get(f.name) for f in CATALOGUE},
                steps=tuple(ExplainedStep(**step) for step in steps.iter_rows(named=True)),
                promises=tuple(p for p in promises if p.currency == currency),
            )
        )
    return ExplainView(debtor, portfolio, as_of, policy.policy.policy, tuple(explained))
