"""The takeover-backlog profile: a portfolio a company brings when it adopts arrears.

Unlike the demo profile (most debtors current on the day), every debtor has exactly
:attr:`BacklogShape.invoices_per_debtor` invoices of one instalment, issued uniformly over the
``months`` before ``end`` on terms drawn from :attr:`BacklogShape.terms`, and most of what is
open is overdue:

- a share :attr:`BacklogShape.share_clean` of debtors paid everything (each invoice in one
  payment, or in two parts with probability :attr:`BacklogShape.p_split`);
- every other debtor is in the backlog: each invoice is paid in full (late, by a Gamma draw of
  days after its due date), paid in part (one payment of 20-80 % of it), or not paid at all, with
  the probabilities of :attr:`BacklogShape.p_full` and :attr:`BacklogShape.p_partial` (the rest
  unpaid); a backlog debtor whose draws paid everything keeps its newest invoice open.

Every payment names the invoice and instalment it pays (``allocated_amount`` = its amount): the
importer applies it explicitly. No payment is dated after ``end``. At 1M debtors this gives
5M invoices, about 4.5M payments, about 86 % of debtors with something open and about 88 % of
the open instalments overdue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.demo.invoices import EPOCH, amounts, months_before
from arrears.demo.payments import payment_rows

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BacklogShape:
    """The parameters of the backlog profile (printed with the statistics and by benchmarks)."""

    invoices_per_debtor: int = 5
    terms: tuple[int, ...] = (30, 45, 60)
    share_clean: float = 0.14
    """Share of debtors with nothing open."""
    p_full: float = 0.45
    """A backlog debtor's invoice is paid in full (late) with this probability..."""
    p_partial: float = 0.30
    """...or in part (one payment of 20-80 % of it); otherwise it is not paid at all."""
    p_split: float = 0.25
    """A paid-in-full invoice is paid in two parts with this probability."""
    mean_days_late: float = 25.0
    """Mean days after the due date of a backlog debtor's payments (Gamma, shape 1.5)."""
    p_dispute: float = 0.03

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["terms"] = list(self.terms)
        return data


SHAPE = BacklogShape()


def make_backlog(
    rng: np.random.Generator,
    debtors: pl.DataFrame,
    *,
    months: int,
    end: date,
    first_invoice: int,
    first_payment: int,
    shape: BacklogShape = SHAPE,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(invoices, payments) of ``debtors``, ids numbered on from the two ``first_*``."""
    per = shape.invoices_per_debtor
    owner = np.repeat(np.arange(debtors.height, dtype=np.int64), per)
    n = owner.size
    end_day = (end - EPOCH).days
    span = max(1, (end - months_before(end, months)).days)
    issue = end_day - rng.integers(0, span, n)
    order = np.lexsort((issue, owner))
    issue = issue[order]
    term = np.asarray(shape.terms, dtype=np.int64)[rng.integers(0, len(shape.terms), n)]
    due = issue + term
    amount = amounts(rng, debtors, owner)
    disputed = rng.random(n) < shape.p_dispute
    invoices = pl.DataFrame(
        {
            "seq": np.arange(first_invoice, first_invoice + n, dtype=np.int64) + 1,
            "owner": owner,
            "issue": issue.astype(np.int32),
            "due": due.astype(np.int32),
            "amount_minor": amount,
            "disputed": disputed,
        }
    )
    invoices = pl.concat(
        [invoices, debtors.select("debtor_id", "currency", "archetype")[owner]],
        how="horizontal",
    ).select(
        invoice_id=pl.lit("INV-") + pl.col("seq").cast(pl.String).str.zfill(9),
        debtor_id="debtor_id",
        issue_date=pl.col("issue").cast(pl.Date),
        due_date=pl.col("due").cast(pl.Date),
        amount_minor="amount_minor",
        currency="currency",
        number=pl.lit(None, dtype=pl.String),
        instalment=pl.lit(1, dtype=pl.Int32),
        disputed="disputed",
        reference=pl.lit(None, dtype=pl.String),
        portfolio=pl.lit(None, dtype=pl.String),
        archetype="archetype",
        term=pl.Series(term.astype(np.int32)),
    )
    payments = _payments(rng, invoices, owner, issue, due, amount, end_day, first_payment, shape)
    return invoices, payments


def _payments(
    rng: np.random.Generator,
    invoices: pl.DataFrame,
    owner: Ints,
    issue: Ints,
    due: Ints,
    amount: Ints,
    end_day: int,
    first: int,
    shape: BacklogShape,
) -> pl.DataFrame:
    n = owner.size
    debtors = int(owner.max()) + 1 if n else 0
    clean = (rng.random(debtors) < shape.share_clean)[owner]
    draw = rng.random(n)
    full = clean | (draw < shape.p_full)
    partial = ~clean & ~full & (draw < shape.p_full + shape.p_partial)
    # a backlog debtor keeps something open: its newest invoice when every draw paid in full
    per = shape.invoices_per_debtor
    all_paid = np.repeat(full.reshape(-1, per).all(axis=1), per) & ~clean
    newest = np.tile(np.arange(per) == per - 1, n // per)
    full &= ~(all_paid & newest)
    two = full & (rng.random(n) < shape.p_split)
    # when: the clean pay within the term, the backlog late by a Gamma draw
    on_time = issue + np.floor(rng.uniform(0.3, 1.0, n) * (due - issue)).astype(np.int64)
    scale = shape.mean_days_late / 1.5
    late = due + 1 + np.round(rng.gamma(1.5, scale, n)).astype(np.int64)
    first_day = np.minimum(np.where(clean, on_time, late), end_day)
    first_day = np.maximum(first_day, issue)
    share = rng.integers(20, 81, n)
    part = np.where(partial, np.maximum(amount * share // 100, 1), amount)
    part = np.where(two, np.maximum(amount * share // 100, 1), part)
    second_day = np.minimum(first_day + rng.integers(7, 31, n), end_day)
    row = np.concatenate([np.flatnonzero(full | partial), np.flatnonzero(two)])
    paid = np.concatenate([part[full | partial], (amount - part)[two]])
    day = np.concatenate([first_day[full | partial], second_day[two]])
    keep = paid > 0
    row, paid, day = row[keep], paid[keep], day[keep]
    return payment_rows(rng, invoices, row, paid, day, first=first)
