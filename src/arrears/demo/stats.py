"""Headline statistics of a generated portfolio, computed from the generated frames.

The unit is the instalment (one row of invoices.csv; 96 % of invoices have one). An instalment
is *settled* when its payments up to ``end`` sum to its amount; it was *paid late* when the
last of them came after its due date, by ``days late`` = last payment - due date (0 when on
time), the definitions of the IBM accounts-receivable sample. Chunks are tallied one at a time
(:class:`Tally` is additive) and summed up in :class:`GenerationStats`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from arrears.domain.money import from_minor


@dataclass(slots=True)
class Tally:
    """Counts and sums over the chunks generated so far."""

    debtors: int = 0
    invoices: int = 0
    instalments: int = 0
    payments: int = 0
    disputed_instalments: int = 0
    settled: int = 0
    settled_late: int = 0
    days_late: int = 0
    unpaid_at_end: int = 0
    overdue_at_end: int = 0
    debtors_open: int = 0
    """Debtors with an instalment not settled at the end date."""
    settle_days: Counter[bool] = field(default_factory=Counter)
    """Sum of days from issue to settlement, by disputed flag."""
    settled_by_dispute: Counter[bool] = field(default_factory=Counter)
    invoiced: Counter[str] = field(default_factory=Counter)
    paid: Counter[str] = field(default_factory=Counter)
    archetypes: Counter[str] = field(default_factory=Counter)

    def add(
        self, debtors: pl.DataFrame, instalments: pl.DataFrame, payments: pl.DataFrame, end: date
    ) -> None:
        self.debtors += debtors.height
        self.archetypes.update(dict(debtors["attr_archetype"].value_counts().iter_rows()))
        self.invoices += instalments["invoice_id"].n_unique()
        self.instalments += instalments.height
        self.payments += payments.height
        self.disputed_instalments += int(instalments["disputed"].sum())
        for currency, minor in instalments.group_by("currency").agg(pl.sum("amount_minor")).rows():
            self.invoiced[currency] += minor
        for currency, minor in payments.group_by("currency").agg(pl.sum("amount_minor")).rows():
            self.paid[currency] += minor
        self._add_settlement(instalments, payments, end)

    def _add_settlement(self, instalments: pl.DataFrame, payments: pl.DataFrame, end: date) -> None:
        paid = payments.group_by("invoice_id", "instalment").agg(
            paid=pl.sum("amount_minor"), last=pl.max("date")
        )
        rows = instalments.join(paid, on=["invoice_id", "instalment"], how="left").with_columns(
            settled=pl.col("paid").fill_null(0) == pl.col("amount_minor"),
            late_by=(pl.col("last") - pl.col("due_date")).dt.total_days().clip(lower_bound=0),
            to_settle=(pl.col("last") - pl.col("issue_date")).dt.total_days(),
        )
        settled = rows.filter("settled")
        self.settled += settled.height
        self.settled_late += int((settled["late_by"] > 0).sum())
        self.days_late += int(settled["late_by"].sum())
        for disputed, days, count in (
            settled.group_by("disputed").agg(pl.sum("to_settle"), pl.len()).rows()
        ):
            self.settle_days[disputed] += days
            self.settled_by_dispute[disputed] += count
        unpaid = rows.filter(~pl.col("settled"))
        self.unpaid_at_end += unpaid.height
        self.overdue_at_end += int((unpaid["due_date"] < end).sum())
        self.debtors_open += unpaid["debtor_id"].n_unique()

    def result(
        self, *, profile: str = "demo", seed: int = 0, parameters: dict[str, Any] | None = None
    ) -> GenerationStats:
        def ratio(num: float, den: float) -> float:
            return round(num / den, 4) if den else 0.0

        def money(counter: Counter[str]) -> dict[str, Decimal]:
            return {c: from_minor(counter[c], c) for c in sorted(counter)}

        return GenerationStats(
            debtors=self.debtors,
            invoices=self.invoices,
            instalments=self.instalments,
            payments=self.payments,
            invoiced=money(self.invoiced),
            paid=money(self.paid),
            share_disputed=ratio(self.disputed_instalments, self.instalments),
            settled_instalments=self.settled,
            share_paid_late=ratio(self.settled_late, self.settled),
            mean_days_late=ratio(self.days_late, self.settled),
            mean_days_to_settle_disputed=ratio(
                self.settle_days[True], self.settled_by_dispute[True]
            ),
            mean_days_to_settle_undisputed=ratio(
                self.settle_days[False], self.settled_by_dispute[False]
            ),
            share_unpaid_at_end=ratio(self.unpaid_at_end, self.instalments),
            share_overdue_at_end=ratio(self.overdue_at_end, self.instalments),
            archetypes=dict(sorted(self.archetypes.items())),
            share_debtors_open=ratio(self.debtors_open, self.debtors),
            share_open_overdue=ratio(self.overdue_at_end, self.unpaid_at_end),
            profile=profile,
            seed=seed,
            parameters=parameters or {},
        )


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """What ``arrears generate`` prints: sizes, totals per currency and payment behaviour."""

    debtors: int
    invoices: int
    instalments: int
    payments: int
    invoiced: dict[str, Decimal]
    """Total invoiced per currency."""
    paid: dict[str, Decimal]
    """Total paid up to the end date per currency."""
    share_disputed: float
    settled_instalments: int
    share_paid_late: float
    """Of instalments settled by the end date, the share whose last payment came after the due."""
    mean_days_late: float
    """Mean over settled instalments of max(0, settled - due), in days."""
    mean_days_to_settle_disputed: float
    mean_days_to_settle_undisputed: float
    share_unpaid_at_end: float
    """Share of instalments with an open balance at the end date (due or not yet due)."""
    share_overdue_at_end: float
    """Share of instalments open and past due at the end date."""
    archetypes: dict[str, int]
    """Debtors per behaviour archetype."""
    share_debtors_open: float = 0.0
    """Share of debtors with something open at the end date."""
    share_open_overdue: float = 0.0
    """Of the instalments open at the end date, the share past due."""
    profile: str = "demo"
    seed: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)
    """The profile's shape parameters (see ``arrears.demo.generate.parameters``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as decimal text."""
        data = asdict(self)
        for key in ("invoiced", "paid"):
            data[key] = {c: str(v) for c, v in data[key].items()}
        return data
