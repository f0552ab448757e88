"""What the collectors and the agreements did in a period (docs/kpi.md, "Calls, plans,
settlements and the cost to collect"): right-party contacts, plan completion, settlement
acceptance, who worked an account, and the cost to collect.

Pure functions over frames (no clock, no database), per group and currency like
:mod:`arrears.kpi.promises`. The inputs (``arrears.store.kpi_reads``):

- ``calls``: ``debtor_id``, ``on``, ``actor`` (``user:NAME`` or ``cli:NAME``), ``outcome``,
  ``currency`` (the debtor's) and any grouping column;
- ``plans``: ``debtor_id``, ``currency``, ``status``, ``active_on``, ``ended_on``, groups;
- ``settlements``: ``debtor_id``, ``currency``, ``status``, ``offered_on``, ``accepted_on``,
  ``ended_on``, groups.

Rules:

- a **right-party contact** is a call whose logged outcome says the debtor was reached
  (:data:`RIGHT_PARTY`): right-party contact rate = right-party calls / calls logged;
- a plan **completes** or **fails** when it ends (``ended_on`` in the period) after it had
  started (``active_on`` set): completed, broken or cancelled. Plan completion rate =
  completed / (completed + broken + cancelled). A plan that expired awaiting approval never
  started and is not counted;
- a settlement offer is **decided** in the period when it was accepted in it (``accepted_on``)
  or expired unaccepted in it (status ``expired``, ``ended_on``). Settlement acceptance rate =
  accepted / (accepted + expired);
- the **collector who worked an account** in a period is the person who logged the last call
  on the debtor from :data:`WORKED_DAYS` days before the period's start to its end
  (:func:`collectors`): the debtor's whole period (its receivables, what it paid) counts for
  that collector, so the collectors' figures add up to the period's; a debtor nobody called
  counts for :data:`NOBODY`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from fractions import Fraction

import polars as pl

#: Logged call outcomes that mean the debtor was reached (``log_contact``'s and the cycle's
#: conversation outcomes).
RIGHT_PARTY: tuple[str, ...] = (
    "right_party",
    "promise",
    "refused",
    "reached",
    "conversation",
    "spoke",
    "right_party_contact",
)
#: How far before the period's start a call still makes its caller the account's collector.
WORKED_DAYS = 30
#: The collector group of a debtor nobody called.
NOBODY = "(not worked)"

CALL_COUNTS: tuple[str, ...] = ("calls", "right_party_calls", "debtors_called", "debtors_reached")
PLAN_COUNTS: tuple[str, ...] = ("plans_started", "plans_completed", "plans_failed")
SETTLEMENT_COUNTS: tuple[str, ...] = (
    "settlements_offered",
    "settlements_accepted",
    "settlements_declined",
    "settlements_paid",
)
#: Every count of :func:`operation_figures`, in its column order.
COUNTS: tuple[str, ...] = (*CALL_COUNTS, *PLAN_COUNTS, *SETTLEMENT_COUNTS)
RATES: tuple[str, ...] = (
    "right_party_contact_rate",
    "plan_completion_rate",
    "settlement_acceptance_rate",
)


def person(actor: pl.Expr) -> pl.Expr:
    """``user:ana`` and ``cli:ana`` -> ``ana``: who the person is, whatever the front end."""
    return actor.str.replace(r"^[a-z]+:", "")


def collectors(calls: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """``debtor_id`` -> ``collector``: who logged the debtor's last call from
    :data:`WORKED_DAYS` days before ``start`` to ``end`` (debtors not called are left out; a
    tie on the last day goes to the later record)."""
    since = start - timedelta(days=WORKED_DAYS)
    return (
        calls.with_row_index("_order")
        .filter(pl.col("on").is_between(since, end))
        .sort("on", "_order")
        .group_by("debtor_id")
        .agg(person(pl.col("actor")).last().alias("collector"))
    )


def operation_figures(
    calls: pl.DataFrame,
    plans: pl.DataFrame,
    settlements: pl.DataFrame,
    start: date,
    end: date,
    keys: Sequence[str] = (),
) -> pl.DataFrame:
    """:data:`COUNTS` per group and currency from ``start`` to ``end`` (groups with nothing are
    left out)."""
    group = [*keys, "currency"]
    in_period = pl.col("on").is_between(start, end)
    reached = pl.col("outcome").str.to_lowercase().is_in(RIGHT_PARTY)
    call = (
        calls.filter(in_period)
        .group_by(group)
        .agg(
            pl.len().alias("calls"),
            reached.sum().alias("right_party_calls"),
            pl.col("debtor_id").n_unique().alias("debtors_called"),
            pl.col("debtor_id").filter(reached).n_unique().alias("debtors_reached"),
        )
    )
    ended = pl.col("ended_on").is_between(start, end) & pl.col("active_on").is_not_null()
    plan = plans.group_by(group).agg(
        pl.col("active_on").is_between(start, end).sum().alias("plans_started"),
        (ended & (pl.col("status") == "completed")).sum().alias("plans_completed"),
        (ended & pl.col("status").is_in(["broken", "cancelled"])).sum().alias("plans_failed"),
    )
    accepted = pl.col("accepted_on").is_between(start, end)
    settled = settlements.group_by(group).agg(
        pl.col("offered_on").is_between(start, end).sum().alias("settlements_offered"),
        accepted.sum().alias("settlements_accepted"),
        (
            (pl.col("status") == "expired")
            & pl.col("accepted_on").is_null()
            & pl.col("ended_on").is_between(start, end)
        )
        .sum()
        .alias("settlements_declined"),
        ((pl.col("status") == "paid") & pl.col("ended_on").is_between(start, end))
        .sum()
        .alias("settlements_paid"),
    )
    out = None
    for part in (call, plan, settled):
        counts = [pl.col(c).cast(pl.Int64()) for c in part.columns if c not in group]
        typed = part.with_columns(counts)
        if out is None:
            out = typed
        else:
            out = out.join(typed, on=group, how="full", coalesce=True, nulls_equal=True)
    assert out is not None
    return out.with_columns(pl.col(*COUNTS).fill_null(0)).select(*group, *COUNTS)


def operation_rates() -> list[pl.Expr]:
    """The rates of each row of :func:`operation_figures` (null when nothing to measure)."""

    def share(part: str, whole: pl.Expr, name: str) -> pl.Expr:
        return pl.when(whole > 0).then(pl.col(part) / whole).otherwise(None).alias(name)

    return [
        share("right_party_calls", pl.col("calls"), "right_party_contact_rate"),
        share(
            "plans_completed",
            pl.col("plans_completed") + pl.col("plans_failed"),
            "plan_completion_rate",
        ),
        share(
            "settlements_accepted",
            pl.col("settlements_accepted") + pl.col("settlements_declined"),
            "settlement_acceptance_rate",
        ),
    ]


# Cost to collect ---------------------------------------------------------------------------


def cost_figures(
    messages: pl.DataFrame,
    calls: pl.DataFrame,
    commissions: pl.DataFrame,
    start: date,
    end: date,
    keys: Sequence[str],
    costs: Mapping[str, Fraction],
    cost_currency: str,
    call_minutes: Fraction,
    factors: Mapping[str, Fraction] | None = None,
    to: str | None = None,
) -> pl.DataFrame:
    """``cost`` per group and currency (minor units): the messages sent in the period at
    ``costs[channel]`` (minor units of ``cost_currency`` per message), the calls logged in it
    at ``call_minutes`` each and ``costs["collector_hour"]`` an hour, both in ``cost_currency``,
    and the agencies' commissions on what they collected in it (in the debt's currency).

    Without ``to``, the messages' and calls' cost lands on the rows in ``cost_currency`` only
    (another currency's rows get the commissions alone); with ``to`` and ``factors``,
    everything is converted to ``to``. ``messages``, ``calls`` and ``commissions`` carry
    ``keys`` and ``currency`` (the debtor's) already."""
    group = [*keys, "currency"]
    hour = costs.get("collector_hour", Fraction(0))
    per_call = hour * call_minutes / 60
    sent = (
        messages.filter(pl.col("sent_on").is_between(start, end))
        .group_by([*keys, "channel"])
        .agg(pl.len().alias("n"))
    )
    parts: list[pl.DataFrame] = []
    own = [
        (*(r[k] for k in keys), Fraction(int(r["n"])) * costs.get(str(r["channel"]), Fraction(0)))
        for r in sent.to_dicts()
    ]
    called = calls.filter(pl.col("on").is_between(start, end))
    counted = (
        called.group_by(list(keys)).agg(pl.len().alias("n"))
        if keys
        else called.select(pl.len().alias("n"))
    )
    own += [(*(r[k] for k in keys), Fraction(int(r["n"])) * per_call) for r in counted.to_dicts()]
    schema = {**{k: calls.schema.get(k, pl.String()) for k in keys}, "currency": pl.String(),
              "cost": pl.Int64()}  # fmt: skip
    if to is not None and factors is not None:
        rate = factors.get(cost_currency)
        if rate is None:
            raise ValueError(f"no rate for {cost_currency}")
        rows = [(*r[:-1], to, round(r[-1] * rate)) for r in own]
    else:
        rows = [(*r[:-1], cost_currency, round(r[-1])) for r in own]
    parts.append(pl.DataFrame(rows, schema=schema, orient="row"))
    paid = commissions.filter(pl.col("collected_on").is_between(start, end))
    if to is not None and factors is not None:
        missing = sorted(set(paid["currency"].to_list()) - set(factors))
        if missing:
            raise ValueError(f"no rate for {', '.join(missing)}")
        converted = [
            round(v * factors[c])
            for v, c in zip(paid["commission_minor"], paid["currency"], strict=True)
        ]
        paid = paid.with_columns(
            pl.Series("commission_minor", converted, dtype=pl.Int64()), pl.lit(to).alias("currency")
        )
    parts.append(
        paid.group_by(group)
        .agg(pl.col("commission_minor").sum().cast(pl.Int64()).alias("cost"))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )
    return pl.concat(parts).group_by(group).agg(pl.col("cost").sum()).sort(group, nulls_last=True)


def cost_ratio() -> pl.Expr:
    """Cost to collect = cost / collected (null without a cost configured or nothing collected)."""
    return (
        pl.when((pl.col("collected") > 0) & pl.col("cost").is_not_null())
        .then(pl.col("cost") / pl.col("collected"))
        .otherwise(None)
        .alias("cost_to_collect")
    )
