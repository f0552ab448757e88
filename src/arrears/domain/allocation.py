"""How money is applied to instalments.

``allocate`` is the reference rule, written for one debtor and one amount: explicit allocations
first (validated), then the rest by the configured rule. The rule "oldest due first" orders open
instalments by due date, then invoice issue date, then invoice id and sequence, so the result is
deterministic. Whatever cannot be applied stays unallocated: the debtor's credit.

Invariants (property-tested): no allocation exceeds the instalment's open balance; the sum of
allocations never exceeds the amount; the unallocated remainder is ``amount - sum(allocations)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class AllocationRule(StrEnum):
    OLDEST_DUE_FIRST = "oldest_due_first"
    NEWEST_DUE_FIRST = "newest_due_first"
    NONE = "none"  # keep everything as unallocated credit unless explicitly allocated


@dataclass(frozen=True, slots=True)
class OpenInstalment:
    """What allocation needs to know about an open instalment (minor units, one currency)."""

    invoice: str
    seq: int
    due_date: date
    issue_date: date
    open_minor: int


@dataclass(frozen=True, slots=True)
class Applied:
    invoice: str
    seq: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class AllocationResult:
    applied: tuple[Applied, ...]
    unallocated_minor: int
    problems: tuple[str, ...] = ()


def allocate(
    amount_minor: int,
    open_instalments: Sequence[OpenInstalment],
    *,
    explicit: Sequence[Applied] = (),
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
) -> AllocationResult:
    """Apply ``amount_minor`` to ``open_instalments``.

    Explicit allocations are checked (each within its instalment's open balance, together within
    the amount) and reported as problems, not raised, when they do not fit; in that case nothing
    is applied.
    """
    if amount_minor <= 0:
        return AllocationResult((), 0, ("amount must be positive",))
    open_by_key = {(i.invoice, i.seq): i.open_minor for i in open_instalments}
    problems: list[str] = []
    remaining = amount_minor
    applied: list[Applied] = []
    for item in explicit:
        key = (item.invoice, item.seq)
        if item.amount_minor <= 0:
            problems.append(f"allocation to {item.invoice}/{item.seq} must be positive")
            continue
        if key not in open_by_key:
            problems.append(f"invoice {item.invoice} instalment {item.seq} is not open")
            continue
        if item.amount_minor > open_by_key[key]:
            problems.append(
                f"allocation of {item.amount_minor} to {item.invoice}/{item.seq} exceeds its open "
                f"balance {open_by_key[key]}"
            )
            continue
        open_by_key[key] -= item.amount_minor
        remaining -= item.amount_minor
        applied.append(item)
    if remaining < 0:
        problems.append("allocations exceed the payment amount")
    if problems:
        return AllocationResult((), amount_minor, tuple(problems))
    if rule is not AllocationRule.NONE and remaining > 0:
        ordered = sorted(
            open_instalments,
            key=lambda i: (i.due_date, i.issue_date, i.invoice, i.seq),
            reverse=rule is AllocationRule.NEWEST_DUE_FIRST,
        )
        for inst in ordered:
            if remaining == 0:
                break
            available = open_by_key[(inst.invoice, inst.seq)]
            take = min(available, remaining)
            if take > 0:
                applied.append(Applied(inst.invoice, inst.seq, take))
                open_by_key[(inst.invoice, inst.seq)] -= take
                remaining -= take
    return AllocationResult(tuple(applied), remaining)
