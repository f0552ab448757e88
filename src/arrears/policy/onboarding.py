"""Onboarding: which stages are escalations a new case may not enter without a person's approval.

An imported backlog is the common way a portfolio starts: many debtors are already months past
due the first time the cycle sees them. Without a rule, the first run would open their cases
straight into the agency, legal or write-off stage and place them, sue them or propose writing
them off on day one, with nobody having looked. The rule (``onboarding.escalations: approve``,
the default):

- the **escalation stages** are ``onboarding.stages`` when the policy lists them; otherwise the
  first stage whose steps (cadence or experiment) place the case with an agency or propose a
  write-off, and every more severe stage;
- a case that **opens** (no case for the debtor and currency, or none recent enough to reopen)
  while it matches an escalation stage does not enter it: it opens in the most severe stage
  below it that needs no approval, runs that stage's steps, and shows the escalation stage as
  awaiting approval; it stays so, whatever the days, until a person approves the stage
  (``arrears approve``, ``arrears approve-waiting``) or it no longer matches one;
- a case already in collection escalates as the policy says (a stage with ``approval: true``
  waits for its approval, as always); so does a case reopened within ``reopen_within_days``.

``onboarding.escalations: proceed`` turns the rule off: cases open in the stage they match.
"""

from __future__ import annotations

from arrears.policy.model import Cadence, Experiment, PlaceWithAgency, Policy, ProposeWriteOff

#: The actions that make a stage an escalation stage (with every more severe stage).
ESCALATING_ACTIONS = (PlaceWithAgency, ProposeWriteOff)


def escalation_stages(policy: Policy) -> tuple[str, ...]:
    """The policy's escalation stages, least severe first; empty when escalations proceed."""
    if policy.onboarding.escalations == "proceed":
        return ()
    names = [s.name for s in policy.stages]
    if policy.onboarding.stages is not None:
        listed = set(policy.onboarding.stages)
        return tuple(n for n in names if n in listed)
    groups: list[Cadence | Experiment] = [*policy.cadences, *policy.experiments]
    escalating = {
        group.stage
        for group in groups
        if any(isinstance(step, ESCALATING_ACTIONS) for step in group.steps)
    }
    first = next((i for i, n in enumerate(names) if n in escalating), None)
    return () if first is None else tuple(names[first:])


def waiting_stage(policy: Policy, stage: str) -> str | None:
    """Where a new case that matches ``stage`` waits for approval: the most severe stage below
    it that is neither an escalation stage nor needs approval (``None``: no such stage)."""
    gated = set(escalation_stages(policy)) | {s.name for s in policy.stages if s.approval}
    names = [s.name for s in policy.stages]
    below = names[1 : names.index(stage)] if stage in names else []
    return next((n for n in reversed(below) if n not in gated), None)
