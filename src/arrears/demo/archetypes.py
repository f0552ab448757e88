"""Payment behaviour archetypes: how a demo debtor pays each instalment it owes.

Every debtor gets one archetype. For each instalment the generator draws, with the archetype's
probabilities (the ``dispute_*`` ones when the invoice is disputed):

- *unpaid*: nothing is ever paid;
- otherwise a first payment date: late (``due + 1 + Gamma(1.5)`` days with mean ``late_days``)
  with probability ``p_late``, else on time (between the issue date and the due date, typically
  a week before it);
- *in parts* with probability ``p_partial``: 2 or 3 payments 7-30 days apart that sum to the
  instalment, the last one dropped with probability ``p_stop`` (the debtor ran out of money).

The default shares and parameters are calibrated so that, over instalments settled before the
end date, about 35 % are paid late and the mean days late is about 3.5: the figures of the IBM
accounts-receivable sample (see ``docs/demo.md``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class Archetype(NamedTuple):
    code: str
    """Stable name, written as ``attr_archetype`` in debtors.csv."""
    share: float
    """Share of debtors with this behaviour."""
    p_late: float
    late_days: float
    """Mean days late of a late first payment (>= 1)."""
    p_partial: float
    p_stop: float
    p_unpaid: float
    p_dispute: float
    """Probability that one of the debtor's invoices is disputed."""
    dispute_p_late: float
    dispute_late_days: float
    dispute_p_unpaid: float


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("prompt", 0.42, 0.09, 4.0, 0.01, 0.0, 0.002, 0.03, 0.60, 10.0, 0.05),
    Archetype("slow", 0.22, 0.50, 6.5, 0.03, 0.0, 0.005, 0.05, 0.70, 12.0, 0.05),
    Archetype("liquidity_constrained", 0.10, 0.35, 5.0, 0.60, 0.25, 0.03, 0.04, 0.70, 12.0, 0.10),
    Archetype("chronic_late", 0.10, 0.82, 9.0, 0.10, 0.0, 0.02, 0.06, 0.90, 15.0, 0.10),
    Archetype("disputer", 0.10, 0.35, 7.0, 0.02, 0.0, 0.01, 0.35, 0.90, 20.0, 0.35),
    Archetype("never_pays", 0.06, 0.0, 1.0, 0.0, 0.0, 1.0, 0.03, 0.0, 1.0, 1.0),
)

CODES: tuple[str, ...] = tuple(a.code for a in ARCHETYPES)


def shares() -> npt.NDArray[np.float64]:
    """Archetype shares, normalised to sum to 1, in the order of :data:`ARCHETYPES`."""
    raw = np.array([a.share for a in ARCHETYPES], dtype=np.float64)
    normalised: npt.NDArray[np.float64] = raw / raw.sum()
    return normalised


def parameter(name: str) -> npt.NDArray[np.float64]:
    """One parameter of every archetype, indexable by archetype number."""
    return np.array([getattr(a, name) for a in ARCHETYPES], dtype=np.float64)
