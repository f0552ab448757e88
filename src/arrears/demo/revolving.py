"""The revolving-credit profile: consumer card accounts with limits and monthly statements.

Every account has a credit limit (the debtors file's ``credit_limit``; lognormal around
:attr:`RevolvingShape.limit_usd`), a statement day in the month and, each month of ``months``
before ``end``, one **statement**: an invoice of the month's new charges, interest on the
balance carried and a late fee when the last minimum was missed, in two instalments:

- instalment 1, the **minimum payment** (the larger of :attr:`RevolvingShape.min_usd` and
  :attr:`RevolvingShape.min_share` of the whole balance, at most the statement's amount), due
  :attr:`RevolvingShape.due_days` after the statement;
- instalment 2, the rest, due :attr:`RevolvingShape.rest_due_days` later (revolving credit:
  nothing more is due while the minimums are paid), so days past due count missed minimums,
  as a card issuer counts them.

Each payment is allocated explicitly: the open minimums first (oldest first), then the open
rests (oldest first). How an account pays depends on its kind (``attr_archetype``):

- ``transactor``: pays the whole balance before the due date;
- ``revolver``: pays the minimum plus a share of the rest (its own mean);
- ``minimum_payer``: pays exactly the minimum due (a *roller*: never late, balance high);
- ``late_payer``: like a revolver, but pays 1-25 days after the due date in
  :attr:`RevolvingShape.p_late` of the months (days past due without default);
- ``struggling``: spends more than it repays, pays the minimum, often late.

**Default** (a shock: job loss, illness) strikes any account in a month with probability
``p_shock[kind] x exp(shock_utilisation x (utilisation - 0.5)) x exp(shock_frailty x z)``,
where ``z`` is the account's hidden frailty (standard normal; it also lowers what a revolver
pays), so utilisation and the share of each statement paid carry information that days past
due, zero before the shock, do not. A defaulted account stops spending and paying; each month
it cures (pays every missed minimum and goes on as a minimum payer) with probability
:attr:`RevolvingShape.p_cure`. Names and addresses come from the demo's debtor generator.
Seeded: the same arguments give the same files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.demo.invoices import EPOCH, months_before
from arrears.demo.payments import payment_rows
from arrears.domain.money import exponent

KINDS = ("transactor", "revolver", "minimum_payer", "late_payer", "struggling")


@dataclass(frozen=True, slots=True)
class RevolvingShape:
    """The parameters of the revolving profile (printed with the statistics and by the
    benchmark)."""

    shares: tuple[float, ...] = (0.35, 0.30, 0.15, 0.12, 0.08)
    """Share of accounts of each kind, in the order of :data:`KINDS`."""
    spend: tuple[float, ...] = (0.15, 0.10, 0.06, 0.10, 0.14)
    """Mean monthly charges of each kind, as a share of the limit."""
    p_shock: tuple[float, ...] = (0.002, 0.006, 0.012, 0.008, 0.03)
    """Monthly probability of a default shock of each kind at 50 % utilisation."""
    shock_utilisation: float = 3.0
    shock_frailty: float = 0.6
    p_cure: float = 0.12
    p_late: float = 0.35
    limit_usd: float = 3_000.0
    limit_sigma: float = 0.6
    min_usd: float = 25.0
    min_share: float = 0.03
    monthly_interest: float = 0.02
    late_fee_usd: float = 25.0
    due_days: int = 25
    rest_due_days: int = 730
    start_utilisation: tuple[float, ...] = (0.05, 0.35, 0.6, 0.3, 0.5)
    """Mean balance already owed at the first statement, as a share of the limit."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kinds"] = list(KINDS)
        for key in ("shares", "spend", "p_shock", "start_utilisation"):
            data[key] = list(data[key])
        return data


SHAPE = RevolvingShape()

Ints = npt.NDArray[np.int64]


def make_revolving(
    rng: np.random.Generator,
    debtors: pl.DataFrame,
    *,
    months: int,
    end: date,
    first_invoice: int,
    first_payment: int,
    shape: RevolvingShape = SHAPE,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(debtors with their kind and card limit, statement instalments, payments), ids numbered
    on from the two ``first_*``."""
    n = debtors.height
    kind = rng.choice(len(KINDS), n, p=np.asarray(shape.shares) / sum(shape.shares))
    rate = debtors["usd_rate"].to_numpy()
    scale = np.array([10 ** exponent(c) for c in debtors["currency"].to_list()], dtype=np.float64)
    major = shape.limit_usd * rate * rng.lognormal(0.0, shape.limit_sigma, n)
    magnitude = 10 ** np.maximum(np.floor(np.log10(np.maximum(major, 1.0))) - 1, 0)
    limit = (np.round(major / magnitude) * magnitude * scale).astype(np.int64)
    debtors = debtors.with_columns(
        credit_limit_minor=pl.Series(limit),
        archetype=pl.Series(kind.astype(np.int8)),
        attr_archetype=pl.Series(KINDS).gather(kind),
    )
    frailty = rng.standard_normal(n)
    cycle_day = rng.integers(1, 29, n)
    first_month = months_before(end, months - 1)
    end_day = (end - EPOCH).days
    rows = _simulate(rng, kind, limit, rate * scale, frailty, cycle_day, first_month, months,
                     end_day, shape)  # fmt: skip
    instalments = _instalment_frame(rows.instalments, debtors, first_invoice)
    owner_rows = instalments.select("debtor_id", "currency", "invoice_id", "instalment")
    pay = rows.payments
    payments = payment_rows(
        rng,
        owner_rows,
        np.asarray(pay["row"], dtype=np.int64),
        np.asarray(pay["amount"], dtype=np.int64),
        np.asarray(pay["day"], dtype=np.int64),
        first=first_payment,
    )
    return debtors, instalments, payments


@dataclass
class _Rows:
    instalments: dict[str, list[int]]
    payments: dict[str, list[int]]


def _simulate(
    rng: np.random.Generator,
    kind: Ints,
    limit: Ints,
    minor_per_usd: npt.NDArray[np.float64],
    frailty: npt.NDArray[np.float64],
    cycle_day: Ints,
    first_month: date,
    months: int,
    end_day: int,
    shape: RevolvingShape,
) -> _Rows:
    """Month by month, account by account: statements, payments and their allocations."""
    n = kind.size
    inst: dict[str, list[int]] = {k: [] for k in ("owner", "invoice", "no", "issue", "due", "amt")}
    pay: dict[str, list[int]] = {"row": [], "amount": [], "day": []}
    spend_mean = np.asarray(shape.spend)[kind]
    p_shock = np.asarray(shape.p_shock)[kind]
    pays_share = np.clip(0.35 - 0.12 * frailty + rng.normal(0, 0.1, n), 0.02, 0.95)
    # per account: open instalments as [row, open amount], minimums and rests apart
    mins: list[list[list[int]]] = [[] for _ in range(n)]
    rests: list[list[list[int]]] = [[] for _ in range(n)]
    defaulted = np.zeros(n, dtype=bool)
    missed = np.zeros(n, dtype=bool)
    start = np.asarray(shape.start_utilisation)[kind] * rng.uniform(0.5, 1.5, n)
    opening = np.round(limit * np.clip(start, 0, 0.95)).astype(np.int64)
    invoice = 0
    for m in range(months):
        year, month = divmod(first_month.year * 12 + first_month.month - 1 + m, 12)
        base = (date(year, month + 1, 1) - EPOCH).days - 1
        spend = np.round(limit * spend_mean * rng.lognormal(-0.125, 0.5, n)).astype(np.int64)
        shock = rng.random(n)
        cure = rng.random(n)
        late = rng.random(n)
        late_by = rng.integers(1, 26, n)
        on_time = rng.integers(5, shape.due_days, n)
        noise = rng.uniform(0.7, 1.3, n)
        for a in range(n):
            day = base + int(cycle_day[a])
            if day > end_day:
                continue
            balance = sum(r[1] for r in mins[a]) + sum(r[1] for r in rests[a])
            if m == 0:
                charges = int(opening[a])
            elif defaulted[a]:
                charges = 0
            else:
                charges = int(min(spend[a], max(limit[a] - balance, 0)))
            interest = round(balance * shape.monthly_interest)
            fee = round(shape.late_fee_usd * minor_per_usd[a]) if missed[a] else 0
            amount = charges + interest + fee
            if amount > 0:
                total = balance + amount
                minimum = max(shape.min_usd * minor_per_usd[a], shape.min_share * total)
                first = int(min(amount, round(minimum)))
                due = day + shape.due_days
                parts = [(1, first, due), (2, amount - first, due + shape.rest_due_days)]
                for no, part, part_due in parts:
                    if part <= 0:
                        continue
                    row = len(inst["owner"])
                    for key, value in zip(
                        ("owner", "invoice", "no", "issue", "due", "amt"),
                        (a, invoice, no, day, part_due, part),
                        strict=True,
                    ):
                        inst[key].append(value)
                    (mins if no == 1 else rests)[a].append([row, part])
                invoice += 1
            # default: a shock this month, or a cure of an earlier one
            utilisation = (balance + amount) / max(int(limit[a]), 1)
            hazard = p_shock[a] * np.exp(
                shape.shock_utilisation * (utilisation - 0.5) + shape.shock_frailty * frailty[a]
            )
            if not defaulted[a] and shock[a] < hazard:
                defaulted[a] = True
            elif defaulted[a] and cure[a] < shape.p_cure:
                defaulted[a] = False
                kind[a] = 2  # goes on as a minimum payer
            owed_min = sum(r[1] for r in mins[a])
            owed = owed_min + sum(r[1] for r in rests[a])
            if defaulted[a] or owed == 0:
                missed[a] = defaulted[a] and owed_min > 0
                continue
            k = int(kind[a])
            if k == 0:
                amount_paid = owed
            elif k == 2:
                amount_paid = owed_min
            elif k == 4:
                amount_paid = owed_min + int(0.05 * (owed - owed_min) * noise[a])
            else:
                share = min(1.0, pays_share[a] * noise[a])
                amount_paid = owed_min + int(share * (owed - owed_min))
            is_late = (k == 3 and late[a] < shape.p_late) or (k == 4 and late[a] < 0.5)
            pay_day = day + (shape.due_days + int(late_by[a]) if is_late else int(on_time[a]))
            if pay_day > end_day:
                missed[a] = owed_min > 0
                continue
            missed[a] = is_late
            left = amount_paid
            for queue in (mins[a], rests[a]):
                while queue and left > 0:
                    row, open_amount = queue[0]
                    part = min(open_amount, left)
                    pay["row"].append(row)
                    pay["amount"].append(part)
                    pay["day"].append(pay_day)
                    left -= part
                    if part == open_amount:
                        queue.pop(0)
                    else:
                        queue[0][1] -= part
    return _Rows(inst, pay)


def _instalment_frame(
    rows: dict[str, list[int]], debtors: pl.DataFrame, first: int
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "owner": pl.Series(rows["owner"], dtype=pl.Int64),
            "seq": pl.Series(rows["invoice"], dtype=pl.Int64) + first + 1,
            "no": pl.Series(rows["no"], dtype=pl.Int32),
            "issue": pl.Series(rows["issue"], dtype=pl.Int32),
            "due": pl.Series(rows["due"], dtype=pl.Int32),
            "amount_minor": pl.Series(rows["amt"], dtype=pl.Int64),
        }
    )
    owners = debtors.select("debtor_id", "currency", "archetype")[frame["owner"]]
    return pl.concat([frame, owners], how="horizontal").select(
        invoice_id=pl.lit("ST-") + pl.col("seq").cast(pl.String).str.zfill(9),
        debtor_id="debtor_id",
        issue_date=pl.col("issue").cast(pl.Date),
        due_date=pl.col("due").cast(pl.Date),
        amount_minor="amount_minor",
        currency="currency",
        number=pl.lit(None, dtype=pl.String),
        instalment=pl.col("no"),
        disputed=pl.lit(False),
        reference=pl.lit(None, dtype=pl.String),
        portfolio=pl.lit(None, dtype=pl.String),
        archetype="archetype",
        term=pl.lit(0, dtype=pl.Int32),
    )
