"""Semantic checks of a structurally valid policy, each problem located in the file.

- every condition compiles against the feature catalogue (unknown features with "did you mean");
- names are unique; a ``clear`` stage without condition comes first; every other stage has one;
- a default segment (no condition) is last: segments after it can never match;
- cadences, experiments and ``move_stage`` steps name stages and segments that exist;
- step ids are unique; buckets are strictly increasing;
- a step anchored on the due date whose offset is beyond the upper bound of its stage's
  ``days_past_due`` window would only come due after the case has escalated, so it never runs;
- ``onboarding.stages`` names stages that exist (not ``clear``), and a new case that matches the
  least severe escalation stage has a stage before it to wait in for approval;
- ``contact_rules`` overrides name packs and parameters that exist, with valid values;
- a step that threatens legal action (``legal_threat``) must not run in a stage that can be
  reached past a pack's statute of limitations (the debt would be time-barred there);
- stages whose conditions use only ``days_past_due`` must not overlap (the more severe would
  win on the shared days, usually a typo), and such a stage must not be entirely covered by
  more severe ones (it could never be entered). Their conditions are evaluated on every day
  past due from -400 to 4000, so any form of condition is understood;
- every template a step names exists and uses only the documented variables, when the caller
  says how to check one (:class:`Templates`: the channels render messages, the policy does not
  import them);
- every template a step sends on WhatsApp (its channel or a fallback) has an approved template
  in the workspace's catalogue whose parameters match it and whose approved text carries the
  notice each contact-rule pack in effect requires on every message, when the caller gives the
  catalogue's check (``Templates.whatsapp``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from arrears.contact.model import Pack
from arrears.contact.packs import PackError, effective_packs
from arrears.domain.problems import Problem
from arrears.policy.conditions import FeatureType, compile_condition, compile_number
from arrears.policy.features import FEATURES
from arrears.policy.located import Located
from arrears.policy.model import (
    Anchor,
    Cadence,
    Channel,
    Experiment,
    LateFee,
    MoveStage,
    Policy,
    Send,
)
from arrears.policy.onboarding import escalation_stages, waiting_stage

Loc = tuple[int | str, ...]


def _step_groups(policy: Policy) -> list[tuple[str, int, Cadence | Experiment]]:
    groups: list[tuple[str, int, Cadence | Experiment]] = []
    groups += [("cadences", i, c) for i, c in enumerate(policy.cadences)]
    groups += [("experiments", i, e) for i, e in enumerate(policy.experiments)]
    return groups


def _conditions(policy: Policy) -> Iterator[tuple[Loc, str]]:
    for i, stage in enumerate(policy.stages):
        if stage.when:
            yield ("stages", i, "when"), stage.when
    for i, segment in enumerate(policy.segments):
        if segment.when:
            yield ("segments", i, "when"), segment.when
    for kind, i, group in _step_groups(policy):
        for j, step in enumerate(group.steps):
            if step.when:
                yield (kind, i, "steps", j, "when"), step.when
    for j, step in enumerate(policy.on_broken_promise):
        if step.when:
            yield ("on_broken_promise", j, "when"), step.when


def _offset(node: yaml.Node, column: int) -> int:
    """Column offset of a condition's character inside its YAML scalar."""
    if not isinstance(node, yaml.ScalarNode) or node.style in ("|", ">"):
        return 0
    return column - 1 + (1 if node.style in ("'", '"') else 0)


def _condition_problems(
    policy: Policy, doc: Located, attributes: Mapping[str, FeatureType]
) -> list[Problem]:
    features = {**FEATURES, **attributes}
    problems = []
    for loc, text in _conditions(policy):
        node = doc.find(loc)
        for err in compile_condition(text, features).errors:
            problems.append(doc.problem(node, err.message, _offset(node, err.column)))
    node = doc.find(("priority",))
    for err in compile_number(policy.priority, features).errors:
        problems.append(doc.problem(node, f"priority: {err.message}", _offset(node, err.column)))
    return problems


def _duplicates(names: list[str]) -> list[int]:
    seen: set[str] = set()
    dup = []
    for i, name in enumerate(names):
        if name in seen:
            dup.append(i)
        seen.add(name)
    return dup


def _structure(policy: Policy, doc: Located) -> list[Problem]:
    p: list[Problem] = []
    stages = [s.name for s in policy.stages]
    segments = [s.name for s in policy.segments]
    for i in _duplicates(stages):
        p.append(
            doc.problem(doc.find(("stages", i, "name")), f"stage {stages[i]!r} is defined twice")
        )
    for i in _duplicates(segments):
        p.append(
            doc.problem(
                doc.find(("segments", i, "name")), f"segment {segments[i]!r} is defined twice"
            )
        )
    if not stages or stages[0] != "clear" or policy.stages[0].when:
        p.append(
            doc.problem(
                doc.find(("stages",)),
                "the first stage must be 'clear' without a condition (nothing overdue)",
            )
        )
    for i, stage in enumerate(policy.stages[1:], start=1):
        if not stage.when:
            p.append(
                doc.problem(
                    doc.find(("stages", i)), f"stage {stage.name!r} needs a 'when' condition"
                )
            )
    defaults = [i for i, s in enumerate(policy.segments) if not s.when]
    if not defaults:
        p.append(
            doc.problem(doc.find(("segments",)), "a default segment (without 'when') is mandatory")
        )
    else:
        for i in range(defaults[0] + 1, len(segments)):
            p.append(
                doc.problem(
                    doc.find(("segments", i, "name")),
                    f"segment {segments[i]!r} is unreachable: the default segment "
                    f"{segments[defaults[0]]!r} before it matches every debtor",
                )
            )
    if policy.buckets != sorted(set(policy.buckets)):
        p.append(doc.problem(doc.find(("buckets",)), "buckets must be strictly increasing"))
    return p


def _references(policy: Policy, doc: Located) -> list[Problem]:
    p: list[Problem] = []
    stages = {s.name for s in policy.stages}
    segments = {s.name for s in policy.segments}
    step_ids: dict[str, Loc] = {}
    for kind, i, group in _step_groups(policy):
        if group.stage not in stages:
            p.append(doc.problem(doc.find((kind, i, "stage")), f"unknown stage {group.stage!r}"))
        names = [group.segment] if isinstance(group.segment, str) else group.segment
        for name in names:
            if name != "*" and name not in segments:
                p.append(doc.problem(doc.find((kind, i, "segment")), f"unknown segment {name!r}"))
        for j, step in enumerate(group.steps):
            loc: Loc = (kind, i, "steps", j)
            if step.id in step_ids:
                p.append(doc.problem(doc.find((*loc, "id")), f"step id {step.id!r} is used twice"))
            step_ids[step.id] = loc
            if isinstance(step, MoveStage) and step.to not in stages:
                p.append(doc.problem(doc.find((*loc, "to")), f"unknown stage {step.to!r}"))
    for j, step in enumerate(policy.on_broken_promise):
        loc = ("on_broken_promise", j)
        if step.id in step_ids:
            p.append(doc.problem(doc.find((*loc, "id")), f"step id {step.id!r} is used twice"))
        step_ids[step.id] = loc
        if step.action not in BROKEN_PROMISE_ACTIONS:
            p.append(
                doc.problem(
                    doc.find((*loc, "action")),
                    f"on_broken_promise: step {step.id!r} may not {step.action}; one of "
                    + ", ".join(BROKEN_PROMISE_ACTIONS),
                )
            )
        if "anchor" in step.model_fields_set:
            p.append(
                doc.problem(
                    doc.find((*loc, "anchor")),
                    f"on_broken_promise: step {step.id!r} counts its offset from the day the "
                    "promise is found broken; remove its anchor",
                )
            )
        if step.repeat is not None:
            p.append(
                doc.problem(
                    doc.find((*loc, "repeat")),
                    f"on_broken_promise: step {step.id!r} runs once per broken promise; "
                    "remove its repeat",
                )
            )
        if step.offset < 0:
            p.append(
                doc.problem(
                    doc.find((*loc, "offset")),
                    f"on_broken_promise: step {step.id!r} cannot run before the promise is "
                    f"broken (offset {step.offset}); use 0 or more",
                )
            )
    return p


#: What a policy may do when a promise is broken (``on_broken_promise``).
BROKEN_PROMISE_ACTIONS = ("call_task", "send", "notify_owner", "credit_hold")


def _onboarding(policy: Policy, doc: Located) -> list[Problem]:
    p: list[Problem] = []
    stages = [s.name for s in policy.stages]
    for i, name in enumerate(policy.onboarding.stages or []):
        node = doc.find(("onboarding", "stages", i))
        if name not in stages:
            p.append(doc.problem(node, f"unknown stage {name!r}"))
        elif name == stages[0]:
            p.append(doc.problem(node, f"{name!r} is not an escalation: nothing is collected"))
    escalations = [n for n in escalation_stages(policy) if n != stages[0]]
    if escalations and waiting_stage(policy, escalations[0]) is None:
        p.append(
            doc.problem(
                doc.find(("onboarding",))
                if "onboarding" in policy.model_fields_set
                else doc.find(("stages",)),
                f"stage {escalations[0]!r} is an escalation stage (onboarding) and no stage "
                "before it needs no approval: a new case matching it could not open to wait for "
                "approval; add a stage before it, list onboarding.stages, or set "
                "onboarding: {escalations: proceed}",
            )
        )
    return p


_UPPER = re.compile(
    r"days_past_due\s*(?:<=\s*(?P<le>-?\d+)|<\s*(?P<lt>-?\d+)|between\s+-?\d+\s+and\s+(?P<bt>-?\d+))"
)


def _stage_upper_bound(condition: str) -> int | None:
    """The highest days past due at which a stage defined by a simple dpd window still holds."""
    if " or " in condition.lower():
        return None
    m = _UPPER.search(condition)
    if not m:
        return None
    if m.group("lt"):
        return int(m.group("lt")) - 1
    return int(m.group("le") or m.group("bt"))


def _late_steps(policy: Policy, doc: Located) -> list[Problem]:
    p: list[Problem] = []
    bounds = {s.name: _stage_upper_bound(s.when) for s in policy.stages if s.when}
    for i, cadence in enumerate(policy.cadences):
        bound = bounds.get(cadence.stage)
        if bound is None:
            continue
        for j, step in enumerate(cadence.steps):
            last = step.offset + (step.repeat.every * step.repeat.times if step.repeat else 0)
            if step.anchor is Anchor.DUE_DATE and step.offset > bound:
                p.append(
                    doc.problem(
                        doc.find(("cadences", i, "steps", j, "offset")),
                        f"step {step.id!r} at day {step.offset} comes after stage "
                        f"{cadence.stage!r} ends (day {bound}): it would never run",
                    )
                )
            elif step.anchor is Anchor.DUE_DATE and last > bound:
                p.append(
                    doc.problem(
                        doc.find(("cadences", i, "steps", j, "repeat")),
                        f"step {step.id!r} repeats until day {last}, after stage "
                        f"{cadence.stage!r} ends (day {bound})",
                    )
                )
    return p


_LAST_DAY = 4000
_DAYS = pl.DataFrame({"days_past_due": pl.int_range(-400, _LAST_DAY + 1, eager=True)})


def _ranges(days: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1 to 3, 7``."""
    parts: list[str] = []
    start = prev = days[0]
    for day in [*days[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        if prev == _LAST_DAY:
            parts.append(f"{start} and more")
        else:
            parts.append(str(start) if start == prev else f"{start} to {prev}")
        if day is not None:
            start = prev = day
    return ", ".join(parts)


def _overlapping_stages(policy: Policy, doc: Located) -> list[Problem]:
    p: list[Problem] = []
    matched: list[tuple[int, str, set[int]]] = []
    for i, stage in enumerate(policy.stages):
        if not stage.when:
            continue
        compiled = compile_condition(stage.when, FEATURES)
        if not compiled.ok or compiled.expr is None or compiled.features != {"days_past_due"}:
            continue
        hits = _DAYS.filter(compiled.expr.fill_null(False))["days_past_due"].to_list()
        matched.append((i, stage.name, set(hits)))
    for n, (i, name, days) in enumerate(matched):
        where = doc.find(("stages", i, "when"))
        severer = matched[n + 1 :]
        covered = set().union(*(d for _, _, d in severer)) if severer else set()
        if days and days <= covered:
            p.append(
                doc.problem(
                    where,
                    f"stage {name!r} can never be entered: more severe stages match every day "
                    f"past due it does ({_ranges(sorted(days))})",
                )
            )
            continue
        for _, other, other_days in severer:
            shared = days & other_days
            if shared:
                p.append(
                    doc.problem(
                        where,
                        f"stages {name!r} and {other!r} overlap on days past due "
                        f"{_ranges(sorted(shared))}; {other!r} (more severe) wins there: "
                        "make the windows meet without overlapping",
                    )
                )
    return p


def _stage_days(condition: str) -> set[int] | None:
    """The days past due at which a stage's condition may hold (features other than days past
    due count as 'may hold'); None if the condition does not compile."""
    compiled = compile_condition(condition, FEATURES)
    if not compiled.ok or compiled.expr is None:
        return None
    frame = _DAYS.with_columns(
        pl.lit(None).alias(name) for name in compiled.features if name != "days_past_due"
    )
    try:
        hits = frame.filter(compiled.expr.fill_null(True))["days_past_due"]
    except pl.exceptions.PolarsError:
        return None
    return set(hits.to_list())


def _contact_rules(policy: Policy, doc: Located) -> list[Problem]:
    p: list[Problem] = []
    try:
        packs = effective_packs(policy.contact_rules)
    except PackError as exc:
        p.append(doc.problem(doc.find(("contact_rules",)), str(exc)))
        packs = effective_packs({})  # the shipped limits still apply
    limits = {
        name: pack.statute_of_limitations_days
        for name, pack in packs.items()
        if pack.statute_of_limitations_days is not None
    }
    stages = {s.name: s.when for s in policy.stages}
    for kind, i, group in _step_groups(policy):
        days = _stage_days(stages.get(group.stage) or "") if stages.get(group.stage) else None
        if not days:
            continue
        for j, step in enumerate(group.steps):
            if not (isinstance(step, Send) and step.legal_threat):
                continue
            for name, limit in limits.items():
                late = sorted(d for d in days if d > limit)
                if late:
                    p.append(
                        doc.problem(
                            doc.find((kind, i, "steps", j, "legal_threat")),
                            f"step {step.id!r} threatens legal action in stage {group.stage!r}, "
                            f"which holds at {late[0]} days past due and more: beyond pack "
                            f"{name!r}'s statute of limitations ({limit} days) the debt is "
                            "time-barred and the threat is forbidden; bound the stage or drop "
                            "legal_threat",
                        )
                    )
    return p


@dataclass(frozen=True, slots=True)
class Templates:
    """How to check the templates a policy's steps name; given by the caller (the command line,
    the cycle) from :mod:`arrears.channels.templates`, which the policy does not import."""

    #: The problems of one template in one language (missing, does not parse, unknown
    #: variables), looked up in the first of the roots that has it: ``check_template``.
    check: Callable[[list[Path], str, str], list[str]]
    #: Looked in after the folders beside the policy: the shipped templates (``shipped_root()``).
    shipped: Path | None = None
    #: The problems of sending template ``name`` on WhatsApp with the workspace's catalogue of
    #: approved templates (no entry, parameters that do not match it, a notice the contact-rule
    #: packs in effect require missing from the approved text), each saying what to do:
    #: ``arrears.channels.whatsapp.catalogue_problems(name, packs)``; ``None``: no workspace,
    #: not checked.
    whatsapp: Callable[[str, dict[str, Pack]], list[str]] | None = None


def _template_problems(policy: Policy, doc: Located, templates: Templates) -> list[Problem]:
    """Every template a step names exists (in each language of the template folders, or in
    English) and uses only the documented variables. Templates are looked up beside the policy
    (``../templates`` from ``policies/``), then in the shipped ones; a policy with no
    template folder beside it is not checked for templates."""
    here = Path(doc.source).resolve().parent
    roots = [r for r in (here.parent / "templates", here / "templates") if r.is_dir()]
    if not roots:  # a policy outside a workspace: its templates are not known here
        return []
    shipped = templates.shipped
    if shipped is not None and shipped.resolve() not in [r.resolve() for r in roots]:
        roots.append(shipped)
    langs = sorted({d.name for r in roots for d in r.iterdir() if d.is_dir()} - {"_"}) or ["en"]
    problems = []
    steps: list[tuple[Loc, object]] = [
        ((kind, i, "steps", j), step)
        for kind, i, group in _step_groups(policy)
        for j, step in enumerate(group.steps)
    ]
    steps += [(("on_broken_promise", j), step) for j, step in enumerate(policy.on_broken_promise)]
    for loc, step in steps:
        name = getattr(step, "template", None)
        if not name:
            continue
        found = sorted({m for lang in langs for m in templates.check(roots, name, lang)})
        node = doc.find((*loc, "template"))
        problems += [doc.problem(node, f"template {name!r}: {m}") for m in found]
    return problems


def _whatsapp_problems(
    policy: Policy, doc: Located, check: Callable[[str, dict[str, Pack]], list[str]]
) -> list[Problem]:
    """Every ``send`` step whose message can go out on WhatsApp (its channel, or a channel of
    its fallback list) names a template the workspace's catalogue approves, with parameters
    that match and the notices the policy's contact-rule packs (with its overrides) require
    in the approved text (``check``); located at the step's ``channel`` or ``fallback``."""
    try:
        packs = effective_packs(policy.contact_rules)
    except PackError:  # reported by _contact_rules
        packs = effective_packs({})
    steps: list[tuple[Loc, object]] = [
        ((kind, i, "steps", j), step)
        for kind, i, group in _step_groups(policy)
        for j, step in enumerate(group.steps)
    ]
    steps += [(("on_broken_promise", j), step) for j, step in enumerate(policy.on_broken_promise)]
    problems = []
    for loc, step in steps:
        if not isinstance(step, Send):
            continue
        if step.channel == "whatsapp":
            where: Loc = (*loc, "channel")
        elif "whatsapp" in step.fallback:
            where = (*loc, "fallback", step.fallback.index(Channel.WHATSAPP))
        else:
            continue
        node = doc.find(where)
        for found in check(step.template, packs):
            message = f"step {step.id!r} sends template {step.template!r} on WhatsApp: {found}"
            problems.append(doc.problem(node, message))
    return problems


def _fees(policy: Policy, doc: Located) -> list[Problem]:
    """A late fee names what it needs: `amount` for a fixed fee, `rate` for a percentage (the
    step's own fee, or what `consumers` pay under eu_late_payment); `consumers` goes with
    eu_late_payment only."""
    steps: list[tuple[Loc, object]] = [
        ((kind, i, "steps", j), step)
        for kind, i, group in _step_groups(policy)
        for j, step in enumerate(group.steps)
    ]
    problems = []
    for loc, step in steps:
        if not isinstance(step, LateFee):
            continue
        if step.consumers != "none" and step.fee != "eu_late_payment":
            node = doc.find((*loc, "consumers"))
            problems.append(
                doc.problem(node, f"step {step.id!r}: consumers goes with fee eu_late_payment")
            )
        for kind in dict.fromkeys((step.fee, step.consumers)):
            needs = {"fixed": "amount", "percentage": "rate"}.get(kind)
            if needs and getattr(step, needs) is None:
                problems.append(
                    doc.problem(doc.find(loc), f"step {step.id!r}: a {kind} fee needs {needs}")
                )
    return problems


def check_policy(
    policy: Policy,
    doc: Located,
    templates: Templates | None = None,
    attributes: Mapping[str, FeatureType] | None = None,
) -> list[Problem]:
    """Every problem of ``policy`` (read from ``doc``), sorted by place; the templates its steps
    name are checked only when ``templates`` says how. ``attributes``: the debtor attributes
    declared with a type in the workspace's import mapping (``policy.features.attribute_features``):
    a condition comparing one with a value of another type is a problem."""
    problems = [
        *_structure(policy, doc),
        *_condition_problems(policy, doc, attributes or {}),
        *_references(policy, doc),
        *_onboarding(policy, doc),
        *_late_steps(policy, doc),
        *_fees(policy, doc),
        *_overlapping_stages(policy, doc),
        *_contact_rules(policy, doc),
        *(_template_problems(policy, doc, templates) if templates is not None else []),
        *(
            _whatsapp_problems(policy, doc, templates.whatsapp)
            if templates is not None and templates.whatsapp is not None
            else []
        ),
    ]
    return sorted(problems, key=lambda pr: (pr.row or 0, int(pr.column or 0)))
