"""``arrears payment-plan`` and ``arrears settlement``: agreements with a debtor.

Each command is one use case of ``arrears.services.arrangements.agreements`` (one transaction with
its
activity record, naming ``cli:USER``). The policy's ``payment_plans`` and ``settlements`` limits
come from the workspace's policy (or ``--policy``). (``arrears plan`` is the cycle's dry run,
so payment plans are ``arrears payment-plan``.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.ledger import parse_amount, parse_date
from arrears.cli.output import Format, FormatOpt, Wide, amount_text, console, emit
from arrears.config import Workspace
from arrears.domain.money import from_minor
from arrears.policy.model import Policy
from arrears.services.arrangements import agreements, settlements
from arrears.services.cycle import PolicyProblems, load_compiled
from arrears.services.uow import SqlUnitOfWork

plan_app = typer.Typer(
    help="Payment plans: quote one, accept it, approve it beyond the policy's limits, list.",
    no_args_is_help=True,
)
settlement_app = typer.Typer(
    help="Settlements: offer a discount for payment in full by a day, approve, accept, list.",
    no_args_is_help=True,
)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]
On = Annotated[str | None, typer.Option("--on", help="Day it happens (YYYY-MM-DD; today).")]
PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy file (default: the workspace's for the portfolio)."),
]
Currency = Annotated[
    str | None, typer.Option(help="ISO 4217 currency of the debt (default: the debtor's).")
]

# The terms of a plan, as `payment-plan quote` and `payment-plan accept` take them.
Instalments = Annotated[
    int | None,
    typer.Option(help="Number of instalments (default: as many as the policy allows)."),
]
Every = Annotated[str, typer.Option("--every", help="Frequency: weekly, fortnightly or monthly.")]
FirstDue = Annotated[
    str | None,
    typer.Option("--due", help="Day the first payment falls due (default: in 7 days)."),
]
Down = Annotated[str, typer.Option("--down", help="Down payment, e.g. 100.00.")]


def _day(ctx: typer.Context, text: str | None, option: str) -> date:
    return workspace_today(ctx) if text is None else parse_date(text, option)


def _now() -> datetime:
    return datetime.now(UTC)


def _policy(ws: Workspace, path: Path | None, portfolio: str) -> Policy:
    from arrears.cli.app import UserError

    found = path if path is not None else ws.policy_for(portfolio)
    if not found.is_file():
        raise UserError(
            f"policy file {found} not found: pass --policy FILE or set 'policy' in arrears.toml"
        )
    try:
        return load_compiled(found).policy
    except PolicyProblems as exc:
        raise UserError(str(exc)) from None


def _money(minor: int, currency: str, locale: str) -> str:
    return amount_text(from_minor(minor, currency), currency, locale)


def _print_schedule(quote: agreements.PlanQuote, locale: str, fmt: Format, wide: bool) -> None:
    terms, code = quote.terms, quote.currency
    frame = pl.DataFrame(
        {
            "n": [r.seq for r in terms.schedule],
            "due": [r.due_on for r in terms.schedule],
            "amount": [_money(r.amount_minor, code, locale) for r in terms.schedule],
            "what": ["down payment" if r.seq == 0 else "instalment" for r in terms.schedule],
        },
        schema={"n": pl.Int64(), "due": pl.Date(), "amount": pl.String(), "what": pl.String()},
    )
    emit(frame, fmt, title=None, right=("amount",), key=("n",), wide=wide)
    if fmt is not Format.TABLE:
        return
    fee = f" + fee {_money(terms.fee_minor, code, locale)}" if terms.fee_minor else ""
    console.print(
        f"balance {_money(terms.balance_minor, code, locale)} {code}{fee} = "
        f"{_money(terms.total_minor, code, locale)} {code} in "
        f"{len(terms.schedule)} payments ({quote.frequency})",
        highlight=False,
    )
    if terms.beyond:
        console.print("beyond the policy's limits (a manager must approve it):", highlight=False)
        for why in terms.beyond:
            console.print(f"  - {why}", highlight=False)
    else:
        console.print("within the policy's limits", highlight=False)


@plan_app.command("quote")
def plan_quote(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    instalments: Instalments = None,
    every: Every = "monthly",
    first: FirstDue = None,
    down: Down = "0",
    on: On = None,
    currency: Currency = None,
    policy: PolicyOpt = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Show the schedule of a plan on the debtor's open balance, and whether it is within the
    policy's limits (writes nothing)."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    quote = agreements.quote_plan(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        debtor=debtor,
        policy=_policy(ws, policy, code),
        on=_day(ctx, on, "--on"),
        first_on=None if first is None else parse_date(first, "--due"),
        instalments=instalments,
        frequency=every,
        down=parse_amount(down, "--down"),
        currency=currency,
    )
    _print_schedule(quote, ws.get("locale"), fmt, wide)


@plan_app.command("accept")
def plan_accept(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    instalments: Instalments = None,
    every: Every = "monthly",
    first: FirstDue = None,
    down: Down = "0",
    on: On = None,
    currency: Currency = None,
    policy: PolicyOpt = None,
    portfolio: Portfolio = None,
) -> None:
    """Record that the debtor accepted the plan `quote` shows: active at once within the
    policy's limits (the case pauses), else awaiting a manager's approval."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    done = agreements.accept_plan(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        debtor=debtor,
        policy=_policy(ws, policy, code),
        on=_day(ctx, on, "--on"),
        at=_now(),
        first_on=None if first is None else parse_date(first, "--due"),
        instalments=instalments,
        frequency=every,
        down=parse_amount(down, "--down"),
        currency=currency,
    )
    locale = ws.get("locale")
    _print_schedule(done.quote, locale, Format.TABLE, False)
    if not done.changed:
        console.print(f"plan {done.plan_id} was accepted before: nothing changed ({done.status})")
    elif done.status == "active":
        console.print(f"plan {done.plan_id}: {debtor} accepted; active, the case is paused")
    else:
        console.print(
            f"plan {done.plan_id}: {debtor} accepted; awaiting a manager's approval "
            f"(arrears payment-plan approve {done.plan_id})",
            highlight=False,
        )


@plan_app.command("approve")
def plan_approve(
    ctx: typer.Context,
    plan_id: Annotated[int, typer.Argument(metavar="ID", help="The plan's id.")],
    on: On = None,
) -> None:
    """Approve a plan beyond the policy's limits (a manager or an administrator)."""
    ws = workspace(ctx)
    done = agreements.approve_plan(
        SqlUnitOfWork(store(ws)), cli_actor(), plan_id, on=_day(ctx, on, "--on"), at=_now()
    )
    word = "approved: active, the case is paused" if done.changed else "was approved before"
    console.print(f"plan {plan_id} {word}")


@plan_app.command("cancel")
def plan_cancel(
    ctx: typer.Context,
    plan_id: Annotated[int, typer.Argument(metavar="ID", help="The plan's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the plan ends.")],
    on: On = None,
) -> None:
    """End a plan (the case resumes)."""
    ws = workspace(ctx)
    done = agreements.cancel_plan(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        plan_id,
        on=_day(ctx, on, "--on"),
        at=_now(),
        reason=reason,
    )
    word = "cancelled" if done.changed else "was cancelled before"
    console.print(f"plan {plan_id} {word}")


@plan_app.command("list")
def plan_list(
    ctx: typer.Context,
    debtor: Annotated[str | None, typer.Option(help="Only this debtor's plans.")] = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Payment plans, newest first, with their status and what the cycle found of each
    instalment (paid, late, missed)."""
    ws = workspace(ctx)
    views = agreements.list_plans(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        with_schedule=True,
    )
    locale = ws.get("locale")

    def total(v: agreements.PlanView) -> str:
        return f"{_money(v.balance_minor + v.fee_minor, v.currency, locale)} {v.currency}"

    def progress(v: agreements.PlanView) -> str:
        states = [str(s["status"]) for s in v.schedule]
        kinds = ("paid", "late", "missed", "due")
        return ", ".join(f"{states.count(s)} {s}" for s in kinds if states.count(s))

    frame = pl.DataFrame(
        {
            "plan": [v.plan_id for v in views],
            "debtor": [v.debtor for v in views],
            "total": [total(v) for v in views],
            "payments": [len(v.schedule) for v in views],
            "every": [v.frequency for v in views],
            "accepted": [v.accepted_on for v in views],
            "status": [v.status.replace("_", " ") for v in views],
            "instalments": [progress(v) for v in views],
            "ended": [v.ended_on for v in views],
        },
        schema={
            "plan": pl.Int64(),
            "debtor": pl.String(),
            "total": pl.String(),
            "payments": pl.Int64(),
            "every": pl.String(),
            "accepted": pl.Date(),
            "status": pl.String(),
            "instalments": pl.String(),
            "ended": pl.Date(),
        },
    )
    emit(
        frame,
        fmt,
        title="payment plans",
        right=("total",),
        key=("plan", "debtor"),
        wrap=("instalments",),
        optional=("every", "ended", "payments"),
        wide=wide,
    )


@plan_app.command("show")
def plan_show(
    ctx: typer.Context,
    plan_id: Annotated[int, typer.Argument(metavar="ID", help="The plan's id.")],
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """One plan's schedule, each instalment as the last cycle run found it."""
    ws = workspace(ctx)
    view = agreements.show_plan(
        SqlUnitOfWork(store(ws)), cli_actor(), plan_id, portfolio=portfolio or ws.get("portfolio")
    )
    locale = ws.get("locale")
    rows = view.schedule
    frame = pl.DataFrame(
        {
            "n": [int(r["seq"]) for r in rows],
            "due": [r["due_on"] for r in rows],
            "amount": [_money(int(r["amount_minor"]), view.currency, locale) for r in rows],
            "status": [str(r["status"]) for r in rows],
            "paid": [r["paid_on"] for r in rows],
            "missed": [r["found_on"] for r in rows],
        },
        schema={
            "n": pl.Int64(),
            "due": pl.Date(),
            "amount": pl.String(),
            "status": pl.String(),
            "paid": pl.Date(),
            "missed": pl.Date(),
        },
    )
    title = f"plan {plan_id}: {view.debtor}, {view.status.replace('_', ' ')}"
    emit(frame, fmt, title=title, right=("amount",), key=("n",), wide=wide)


# Settlements -----------------------------------------------------------------------------------


def _settlement_line(view: settlements.SettlementView, locale: str) -> str:
    code = view.currency
    return (
        f"settlement {view.settlement_id}: {view.debtor} pays "
        f"{_money(view.amount_minor, code, locale)} {code} "
        f"({view.discount} % off {_money(view.balance_minor, code, locale)}) "
        f"by {view.expires_on}: {view.status.replace('_', ' ')}"
    )


@settlement_app.command("offer")
def settlement_offer(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    discount: Annotated[str, typer.Option("--discount", help="Percent off, e.g. 10 or 12.5.")],
    expires: Annotated[
        str, typer.Option("--due", help="Day the settled amount falls due: the last day to pay.")
    ],
    on: On = None,
    currency: Currency = None,
    policy: PolicyOpt = None,
    portfolio: Portfolio = None,
) -> None:
    """Offer to settle the debtor's open balance for less, if paid in full by a day."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    view = settlements.offer_settlement(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        debtor=debtor,
        policy=_policy(ws, policy, code),
        discount=parse_amount(discount, "--discount"),
        expires_on=parse_date(expires, "--due"),
        on=_day(ctx, on, "--on"),
        at=_now(),
        currency=currency,
    )
    console.print(_settlement_line(view, ws.get("locale")), highlight=False)
    if not view.changed:
        console.print("offered before: nothing changed")
    for why in view.beyond:
        console.print(f"  beyond the policy's limits: {why}", highlight=False)
    if view.status == "awaiting_approval":
        console.print(
            f"a manager must approve it: arrears settlement approve {view.settlement_id}",
            highlight=False,
        )


def _settlement_step(
    ctx: typer.Context,
    step: Callable[..., settlements.SettlementView],
    settlement_id: int,
    on: str | None,
) -> None:
    """Run one step of a settlement (approve, accept) and print where it stands."""
    ws = workspace(ctx)
    view = step(
        SqlUnitOfWork(store(ws)), cli_actor(), settlement_id, on=_day(ctx, on, "--on"), at=_now()
    )
    console.print(_settlement_line(view, ws.get("locale")), highlight=False)


@settlement_app.command("approve")
def settlement_approve(
    ctx: typer.Context,
    settlement_id: Annotated[int, typer.Argument(metavar="ID", help="The settlement's id.")],
    on: On = None,
) -> None:
    """Approve a settlement beyond the policy's limits (a manager or an administrator)."""
    _settlement_step(ctx, settlements.approve_settlement, settlement_id, on)


@settlement_app.command("accept")
def settlement_accept(
    ctx: typer.Context,
    settlement_id: Annotated[int, typer.Argument(metavar="ID", help="The settlement's id.")],
    on: On = None,
) -> None:
    """Record that the debtor accepted a settlement (the case pauses until its expiry)."""
    _settlement_step(ctx, settlements.accept_settlement, settlement_id, on)


@settlement_app.command("list")
def settlement_list(
    ctx: typer.Context,
    debtor: Annotated[str | None, typer.Option(help="Only this debtor's settlements.")] = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Settlements, newest first, with their status and what was written off."""
    ws = workspace(ctx)
    views = settlements.list_settlements(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
    )
    locale = ws.get("locale")

    def money(minor: int | None, code: str) -> str | None:
        return None if minor is None else f"{_money(minor, code, locale)} {code}"

    frame = pl.DataFrame(
        {
            "settlement": [v.settlement_id for v in views],
            "debtor": [v.debtor for v in views],
            "balance": [money(v.balance_minor, v.currency) for v in views],
            "discount": [f"{v.discount} %" for v in views],
            "pays": [money(v.amount_minor, v.currency) for v in views],
            "offered": [v.offered_on for v in views],
            "expires": [v.expires_on for v in views],
            "status": [v.status.replace("_", " ") for v in views],
            "written_off": [money(v.written_off_minor, v.currency) for v in views],
        },
        schema={
            "settlement": pl.Int64(),
            "debtor": pl.String(),
            "balance": pl.String(),
            "discount": pl.String(),
            "pays": pl.String(),
            "offered": pl.Date(),
            "expires": pl.Date(),
            "status": pl.String(),
            "written_off": pl.String(),
        },
    )
    emit(
        frame,
        fmt,
        title="settlements",
        right=("balance", "pays", "written_off", "discount"),
        key=("settlement", "debtor"),
        optional=("offered", "balance", "written_off"),
        wide=wide,
    )


offer_app = typer.Typer(
    help="The plan and settlement offers the cycle made: open ones, or all with --all.",
    no_args_is_help=True,
)


@offer_app.command("list")
def offer_list(
    ctx: typer.Context,
    debtor: Annotated[str | None, typer.Option(help="Only this debtor's offers.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Expired and accepted offers too.")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
    portfolio: Portfolio = None,
    wide: Wide = False,
) -> None:
    """The offers the cycle made (a policy's payment_plan_offer or settlement_offer step),
    newest first: open until accepted or past their expiry (then expired)."""
    ws = workspace(ctx)
    views = agreements.list_offers(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        everything=everything,
    )
    if not views and fmt is Format.TABLE:
        console.print("no open offers" if not everything else "no offers")
        return
    frame = pl.DataFrame(
        {
            "offer": [v.offer_id for v in views],
            "debtor": [v.debtor for v in views],
            "kind": [v.kind.replace("_", " ") for v in views],
            "made": [v.made_on for v in views],
            "expires": [v.expires_on for v in views],
            "status": [v.status for v in views],
        },
        schema={
            "offer": pl.Int64(),
            "debtor": pl.String(),
            "kind": pl.String(),
            "made": pl.Date(),
            "expires": pl.Date(),
            "status": pl.String(),
        },
    )
    emit(frame, fmt, title="offers", key=("offer", "debtor"), wide=wide)


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="payment-plan")
    app.add_typer(settlement_app, name="settlement")
    app.add_typer(offer_app, name="offer")
