"""What a manager needs to see before a backlog's first run: the cases that would escalate into
an agency, legal or write-off stage and wait for approval instead (``arrears.policy.onboarding``
says which stages, and why they wait)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from arrears.cycle.compiled import CompiledPolicy
from arrears.cycle.frames import Decisions


@dataclass(frozen=True, slots=True)
class Waiting:
    """Cases held out of the escalation stages until a person approves them."""

    #: The stage to approve to let them proceed: the least severe escalation stage.
    first_stage: str
    #: Per stage awaited (least severe first): (stage, cases opened today, all such cases).
    by_stage: tuple[tuple[str, int, int], ...]

    @property
    def opened(self) -> int:
        return sum(new for _, new, _ in self.by_stage)

    @property
    def cases(self) -> int:
        return sum(every for _, _, every in self.by_stage)


def waiting_for_approval(decisions: Decisions, policy: CompiledPolicy) -> Waiting | None:
    """The cases, after ``decisions``, awaiting approval for an escalation stage they have not
    entered (none: ``None``)."""
    escalations = [n for n, e in zip(policy.stages, policy.escalation, strict=True) if e]
    if not escalations:
        return None
    held = decisions.cases.filter(
        (pl.col("change") != "close")
        & pl.col("awaiting_approval").is_in(escalations)
        & ~pl.col("stage").is_in(escalations)
    )
    if held.is_empty():
        return None
    counts = held.group_by("awaiting_approval").agg(
        (pl.col("change") == "open").sum().alias("opened"), pl.len().alias("cases")
    )
    rows = {r["awaiting_approval"]: (r["opened"], r["cases"]) for r in counts.iter_rows(named=True)}
    return Waiting(
        first_stage=escalations[0],
        by_stage=tuple((s, *rows[s]) for s in escalations if s in rows),
    )
