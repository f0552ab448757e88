"""A policy compiled for the engine: its conditions as Polars expressions and its cadences as a
table of step occurrences (the "program")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from arrears.contact.model import Pack
from arrears.contact.packs import PackError, effective_packs
from arrears.domain.errors import InvalidInput
from arrears.policy.conditions import compile_condition, compile_number
from arrears.policy.features import FEATURES
from arrears.policy.model import (
    Cadence,
    Experiment,
    LateFee,
    PaymentPlanOffer,
    Policy,
    Send,
    SettlementOffer,
    Step,
)
from arrears.policy.onboarding import escalation_stages, waiting_stage

#: Step fields that are not the action's parameters.
_NOT_PARAMS = {"id", "offset", "anchor", "when", "repeat", "action"}

#: The anchor of the ``on_broken_promise`` steps: the day a promise is found broken (the day
#: after its date plus grace); their occurrence is that day as ``YYYYMMDD``, so each broken
#: promise runs them once.
BROKEN_PROMISE = "promise_broken"

PROGRAM_SCHEMA: dict[str, pl.DataType] = {
    "segment": pl.String(),
    "stage": pl.String(),
    "arm_key": pl.String(),  # "" for the cadence, the experiment's name for its challenger arm
    "step_id": pl.String(),
    "occurrence": pl.Int32(),
    "offset_days": pl.Int32(),
    "anchor": pl.String(),
    "action": pl.String(),
    "channel": pl.String(),
    "params": pl.String(),
    "task_priority": pl.Int32(),
    "condition": pl.Int32(),  # index into CompiledPolicy.step_conditions; -1: none
    "fee": pl.String(),
    "fee_amount": pl.Decimal(38, 4),
    "fee_rate": pl.Decimal(38, 4),
    # the fee a person pays under eu_late_payment (business only): fixed, percentage or null
    "consumer_fee": pl.String(),
    "fallback": pl.List(pl.String()),
    "legal_threat": pl.Boolean(),
    "validation_notice": pl.Boolean(),
    "position": pl.Int32(),  # the step's place in the policy (first: 0)
    # the message the step sends: one number per (channel, template) of the policy, the same for
    # every step that sends it; null for a step that sends no template
    "message": pl.Int32(),
}


class PolicyNotCompiled(InvalidInput):
    """The policy has conditions that do not compile (``policy check`` reports them)."""


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    sha256: str
    stages: tuple[str, ...]  # least to most severe; stages[0] == "clear"
    stage_conditions: tuple[pl.Expr | None, ...]
    approval: tuple[bool, ...]
    #: Escalation stages a new case enters only once approved (arrears.policy.onboarding).
    escalation: tuple[bool, ...]
    #: For each stage, the severity of the stage a new case matching it waits in while it needs
    #: an approval (0: none, the case cannot open until one is given).
    waiting: tuple[int, ...]
    segments: tuple[str, ...]
    segment_conditions: tuple[pl.Expr | None, ...]
    step_conditions: tuple[pl.Expr, ...]
    step_condition_text: tuple[str, ...]
    priority: pl.Expr
    program: pl.DataFrame
    packs: dict[str, Pack]

    def severity(self, stage: str) -> int:
        return self.stages.index(stage)

    def reads(self, feature: str) -> bool:
        """Whether a stage, segment or step condition or the priority uses ``feature`` (so a
        feature that costs much, such as ``expected_days_to_pay``, is computed only then)."""
        exprs = [*self.stage_conditions, *self.segment_conditions, *self.step_conditions]
        return any(feature in e.meta.root_names() for e in (*exprs, self.priority) if e is not None)


def _condition(text: str | None, where: str) -> pl.Expr | None:
    if text is None:
        return None
    compiled = compile_condition(text, FEATURES)
    if compiled.expr is None or not compiled.ok:
        messages = "; ".join(e.message for e in compiled.errors)
        raise PolicyNotCompiled(f"{where}: {messages} (run 'arrears policy check')")
    return compiled.expr.fill_null(False)


def compile_policy(policy: Policy, source_text: str | None = None) -> CompiledPolicy:
    """Compile a checked policy. ``source_text``: the file's text, for the policy's hash (the
    run records which version of the policy decided); defaults to the model's JSON."""
    text = source_text if source_text is not None else policy.model_dump_json()
    priority = compile_number(policy.priority, FEATURES)
    if priority.expr is None or not priority.ok:
        raise PolicyNotCompiled(f"priority: {'; '.join(e.message for e in priority.errors)}")
    try:
        packs = effective_packs(policy.contact_rules)
    except PackError as exc:
        raise PolicyNotCompiled(str(exc)) from None
    step_conditions: list[pl.Expr] = []
    step_texts: list[str] = []
    rows: list[dict[str, object]] = []
    segments = [s.name for s in policy.segments]
    groups: list[Cadence | Experiment] = [*policy.cadences, *policy.experiments]
    position = -1
    for group in groups:
        if isinstance(group, Experiment):
            targets, arm_key = [group.segment], group.name
        else:
            targets, arm_key = _segments_of(group, segments), ""
        for step in group.steps:
            condition = -1
            if step.when is not None:
                expr = _condition(step.when, f"step {step.id}")
                assert expr is not None
                condition = len(step_conditions)
                step_conditions.append(expr)
                step_texts.append(step.when)
            position += 1
            for segment in targets:
                rows += [
                    {**row, "position": position}
                    for row in _occurrences(step, segment, group.stage, arm_key, condition)
                ]
    # the steps run when a promise is broken: in every segment, stage and arm, anchored on the
    # day the promise was found broken (decide._steps gives them that day's occurrence)
    arms = [("", segment, s.name) for segment in segments for s in policy.stages[1:]]
    arms += [(e.name, e.segment, e.stage) for e in policy.experiments]
    for step in policy.on_broken_promise:
        condition = -1
        if step.when is not None:
            expr = _condition(step.when, f"step {step.id}")
            assert expr is not None
            condition = len(step_conditions)
            step_conditions.append(expr)
            step_texts.append(step.when)
        position += 1
        for arm_key, segment, stage in arms:
            rows += [
                {**row, "position": position, "anchor": BROKEN_PROMISE}
                for row in _occurrences(step, segment, stage, arm_key, condition)
            ]
    escalations = set(escalation_stages(policy))
    messages: dict[tuple[object, object], int] = {}
    for row in rows:
        if row["template"] is not None:
            row["message"] = messages.setdefault((row["channel"], row["template"]), len(messages))
    return CompiledPolicy(
        policy=policy,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        stages=tuple(s.name for s in policy.stages),
        stage_conditions=tuple(_condition(s.when, f"stage {s.name}") for s in policy.stages),
        approval=tuple(s.approval for s in policy.stages),
        escalation=tuple(s.name in escalations for s in policy.stages),
        waiting=tuple(_severity(policy, waiting_stage(policy, s.name)) for s in policy.stages),
        segments=tuple(segments),
        segment_conditions=tuple(_condition(s.when, f"segment {s.name}") for s in policy.segments),
        step_conditions=tuple(step_conditions),
        step_condition_text=tuple(step_texts),
        priority=priority.expr,
        program=pl.DataFrame(
            [{name: row.get(name) for name in PROGRAM_SCHEMA} for row in rows],
            schema=PROGRAM_SCHEMA,
            orient="row",
        ),
        packs=packs,
    )


def _severity(policy: Policy, stage: str | None) -> int:
    names = [s.name for s in policy.stages]
    return names.index(stage) if stage is not None else 0


def _segments_of(cadence: Cadence, segments: list[str]) -> list[str]:
    if cadence.segment == "*":
        return segments
    if isinstance(cadence.segment, str):
        return [cadence.segment]
    return list(cadence.segment)


def _occurrences(
    step: Step, segment: str, stage: str, arm_key: str, condition: int
) -> list[dict[str, object]]:
    params = step.model_dump(mode="json", exclude=_NOT_PARAMS, exclude_none=True)
    channel = getattr(step, "channel", None)
    channel_name = channel.value if channel is not None else None
    if step.action == "call_task":
        channel_name = "call"
    if isinstance(step, PaymentPlanOffer | SettlementOffer) and step.template:
        channel_name = "email"  # an offer with a template is sent as an email
    base: dict[str, object] = {
        "segment": segment,
        "stage": stage,
        "arm_key": arm_key,
        "step_id": step.id,
        "anchor": step.anchor.value,
        "action": step.action,
        "channel": channel_name,
        "params": json.dumps(params, sort_keys=True),
        "task_priority": getattr(step, "priority", None),
        "condition": condition,
        "fee": step.fee if isinstance(step, LateFee) else None,
        "fee_amount": step.amount if isinstance(step, LateFee) else None,
        "fee_rate": step.rate if isinstance(step, LateFee) else None,
        "consumer_fee": (
            step.consumers if isinstance(step, LateFee) and step.consumers != "none" else None
        ),
        "fallback": [c.value for c in step.fallback] if isinstance(step, Send) else [],
        "legal_threat": isinstance(step, Send) and step.legal_threat,
        "validation_notice": isinstance(step, Send) and step.validation_notice,
        "template": getattr(step, "template", None),
    }
    times = step.repeat.times if step.repeat else 0
    every = step.repeat.every if step.repeat else 0
    return [
        {**base, "occurrence": k, "offset_days": step.offset + k * every} for k in range(times + 1)
    ]


def share_threshold(share: Decimal) -> int:
    """The experiment's share as a threshold on a 53-bit hash: exact, no float."""
    return int(share * (1 << 53))
