"""Write-offs as proposals: who may post one at once, and the records the log keeps of them.

A write-off is *proposed* (by a person, or from the policy's ``propose_write_off`` step). It posts
at once when its amount is within the proposer's **limit**, otherwise it waits, ``pending``, for a
person whose role may approve (``manager`` or ``admin``) to approve it (it posts) or refuse it
(nothing posts). The limits are the policy's ``write_off_limits``: per role, per currency, in the
currency's own units (no conversion: a limit is what a person may give up in that money)::

    write_off_limits:
      collector: {USD: 100, EUR: 90}
      manager: {USD: 5000}

A role the policy lists may post at once up to its limit in a currency it names, nothing in
another currency. A role it does not list: ``admin`` and ``manager`` without limit (they may
approve anyway), every other role (a collector, the cycle) nothing: all their proposals wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from arrears.domain.activity import Activity
from arrears.domain.actor import Role
from arrears.domain.money import Money

#: Roles without a limit when the policy names none for them.
UNLIMITED_BY_DEFAULT = frozenset({Role.ADMIN, Role.MANAGER})

#: Limits per role name and currency (the policy's ``write_off_limits``).
Limits = Mapping[str, Mapping[str, Decimal]]


def limit_of(role: Role, currency: str, limits: Limits) -> Decimal | None:
    """What ``role`` may write off at once in ``currency``: ``None`` without limit."""
    if role.value in limits:
        return limits[role.value].get(currency, Decimal(0))
    return None if role in UNLIMITED_BY_DEFAULT else Decimal(0)


def posts_at_once(role: Role, amount: Money, limits: Limits) -> bool:
    """Whether a write-off of ``amount`` proposed by ``role`` posts without approval."""
    limit = limit_of(role, amount.currency, limits)
    return limit is None or amount.amount <= limit


@dataclass(frozen=True, slots=True)
class WriteOffProposed(Activity):
    """A write-off waiting for approval: ``{proposal, amount, currency, invoice, reason,
    limit}``."""

    kind: ClassVar[str] = "write_off.proposed"


@dataclass(frozen=True, slots=True)
class WriteOffApproved(Activity):
    """A proposal approved (its ``write_off.posted`` records follow): ``{proposal, amount,
    currency, posted, proposed_by, on}``."""

    kind: ClassVar[str] = "write_off.approved"


@dataclass(frozen=True, slots=True)
class WriteOffRefused(Activity):
    """A proposal refused, nothing posted: ``{proposal, amount, currency, reason, on}``."""

    kind: ClassVar[str] = "write_off.refused"


@dataclass(frozen=True, slots=True)
class WriteOffRecovered(Activity):
    """Money received on a debt that was written off: ``{payment, amount, currency, recovered,
    written_off, on}`` (``recovered``: the part of the payment counted as a recovery)."""

    kind: ClassVar[str] = "write_off.recovered"
