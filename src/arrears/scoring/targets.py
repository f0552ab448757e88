"""What the debtor score predicts (its *target*) and on which days its examples are taken.

Three targets, a workspace's choice (``[scoring]`` in ``arrears.toml``, :func:`parse`):

- ``pays`` (the default): "pays at least ``share`` of what is due by the window's end
  (overdue on the day, or falling due in the next ``window_days``) within ``window_days``".
  For collections of invoices: who will pay if asked.
- ``default``: "reaches ``days_past_due`` days past due within ``window_days``" (default risk,
  for lenders: an account of monthly statements that misses a payment). Every account with an
  open balance on the day is an example.
- ``cures``: "an overdue account cures within ``window_days``": on some day of the window
  nothing is overdue. Only accounts overdue on the day are examples.

**Orientation.** Whatever the target, the score is the probability of the *good* outcome: it
pays, it does **not** reach ``days_past_due`` (for ``default``: 1 - the probability of
default), it cures. So a higher score always means "more likely to pay", and the cycle's
segments, bands (A = 0.8 and above) and priorities keep their meaning. The examples' label
column is ``paid`` for all three (the good outcome).

The schedule (:class:`Schedule`): every ``every_days`` days from the training window's first
day, or each account on its own statement days (the days an invoice was issued to it: a
billing cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arrears.domain.errors import InvalidInput

KINDS = ("pays", "default", "cures")
SCHEDULES = ("", "statements")


class TargetError(InvalidInput):
    """A target or schedule setting is not valid; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class Target:
    """What the debtor score predicts; see the module."""

    kind: str = "pays"
    window_days: int = 30
    share: float = 0.5
    """``pays``: the share of what is due that counts as paid."""
    days_past_due: int = 60
    """``default``: the days past due that count as a default."""

    def text(self, lang: str = "en") -> str:
        """The target in words: ``reaches 60 days past due within 90 days (score: does not)``."""
        n, pct = self.window_days, round(self.share * 100)
        if lang == "es":
            if self.kind == "default":
                return (
                    f"llega a {self.days_past_due} días de atraso en {n} días "
                    "(puntuación: probabilidad de no llegar)"
                )
            if self.kind == "cures":
                return f"queda al día en {n} días"
            return f"paga al menos el {pct} % de lo que vence en {n} días"
        if self.kind == "default":
            return (
                f"reaches {self.days_past_due} days past due within {n} days "
                "(score: the probability it does not)"
            )
        if self.kind == "cures":
            return f"cures (nothing overdue) within {n} days"
        return f"pays at least {pct} % of what is due within {n} days"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "window_days": self.window_days}
        if self.kind == "pays":
            out["share"] = self.share
        if self.kind == "default":
            out["days_past_due"] = self.days_past_due
        out["text"] = self.text()
        return out


@dataclass(frozen=True, slots=True)
class Schedule:
    """When examples are taken: every ``every_days`` days, or (``on = "statements"``) each
    account on the days an invoice (a statement) was issued to it."""

    every_days: int = 7
    on: str = ""

    def text(self) -> str:
        if self.on == "statements":
            return "each account on its statement days"
        return f"every {self.every_days} days"

    def to_dict(self) -> dict[str, Any]:
        return {"every_days": self.every_days, "on": self.on or None, "text": self.text()}


PAYS = Target()

#: The workspace settings of the target (``arrears.toml``, ``[scoring]``) and their defaults.
SETTING_KEYS = {
    "scoring.target": "pays",
    "scoring.window_days": "30",
    "scoring.share": "50",
    "scoring.days_past_due": "60",
    "scoring.snapshot_every_days": "7",
    "scoring.snapshot_on": "",
}


def _whole(text: str, key: str, low: int, high: int, problems: list[str]) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        problems.append(f"{key} = {text!r}: a whole number of days from {low} to {high}")
        return low
    if not low <= value <= high:
        problems.append(f"{key} = {value}: from {low} to {high}")
    return value


def parse(values: Mapping[str, str], where: str = "arrears.toml") -> tuple[Target, Schedule]:
    """The target and schedule of ``values`` (``scoring.*`` keys; missing ones take
    :data:`SETTING_KEYS`' defaults). :class:`TargetError` lists every problem at once, each
    with its key and what to write."""
    v = {k: str(values.get(k, d)) for k, d in SETTING_KEYS.items()}
    problems: list[str] = []
    kind = v["scoring.target"].strip().lower()
    if kind not in KINDS:
        problems.append(
            f"scoring.target = {v['scoring.target']!r}: one of pays (pays X % of what is due "
            "within N days), default (reaches D days past due within N days) or cures "
            "(nothing overdue within N days)"
        )
    window = _whole(v["scoring.window_days"], "scoring.window_days", 1, 366, problems)
    share = 0.5
    try:
        percent = float(v["scoring.share"].strip().rstrip("%"))
        if not 0 < percent <= 100:
            problems.append(f"scoring.share = {v['scoring.share']!r}: a percentage above 0, to 100")
        share = percent / 100
    except ValueError:
        problems.append(f"scoring.share = {v['scoring.share']!r}: a percentage such as 50")
    dpd = _whole(v["scoring.days_past_due"], "scoring.days_past_due", 1, 730, problems)
    every = _whole(
        v["scoring.snapshot_every_days"], "scoring.snapshot_every_days", 1, 366, problems
    )
    on = v["scoring.snapshot_on"].strip().lower()
    if on not in SCHEDULES:
        problems.append(
            f"scoring.snapshot_on = {v['scoring.snapshot_on']!r}: empty (every "
            "scoring.snapshot_every_days days) or statements (each account on its statement days)"
        )
    if problems:
        raise TargetError(f"{where}: " + "; ".join(problems))
    return Target(kind, window, share, dpd), Schedule(every, on)


def from_metadata(meta: Mapping[str, Any]) -> Target:
    """The target a version was trained on: its metadata's ``target``, else (a version trained
    before targets existed, or by a training that records none) the ``pays`` target of its
    ``settings``."""
    stored = meta.get("target")
    if isinstance(stored, Mapping) and stored.get("kind") in KINDS:
        return Target(
            str(stored["kind"]),
            int(stored.get("window_days", 30)),
            float(stored.get("share", 0.5)),
            int(stored.get("days_past_due", 60)),
        )
    settings = meta.get("settings") or {}
    return Target("pays", int(settings.get("window_days", 30)), float(settings.get("share", 0.5)))
