"""``arrears agency``: agencies and their terms, placements, the placement file, recalls and
the agency's remittance file. Each command is one use case of
:mod:`arrears.services.arrangements.agencies`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.ledger import parse_date
from arrears.cli.output import Format, FormatOpt, Wide, console, emit
from arrears.domain.agencies import parse_terms
from arrears.domain.allocation import AllocationRule
from arrears.domain.problems import Problem, ProblemsFound
from arrears.services.arrangements import agencies
from arrears.services.arrangements.agencies import PlacementView
from arrears.services.arrangements.write_offs import policy_recall_after_days
from arrears.services.uow import SqlUnitOfWork

agency_app = typer.Typer(
    help="Collection agencies: add one with its terms, place a debtor, export the placement "
    "file, recall, import the agency's remittance.",
    no_args_is_help=True,
)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]
On = Annotated[str, typer.Option("--on", help="Day it happens (YYYY-MM-DD).")]


def _say(p: PlacementView) -> str:
    if p.recalled_on is not None:
        return (
            f"placement {p.id}: {p.debtor} recalled from {p.agency} on {p.recalled_on} "
            f"({p.recall_reason}); back in house collection"
        )
    head = f"placement {p.id}: {p.debtor} {p.amount} placed with {p.agency} on {p.placed_on}"
    if not p.changed:
        return f"{head}, already; nothing changed"
    return f"{head} ({p.days_past_due} days past due, commission {p.commission_percent} %)"


@agency_app.command("add")
def add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The agency's code, as the policy names it.")],
    name: Annotated[str, typer.Option(help="The agency's name.")],
    commission: Annotated[
        str | None,
        typer.Option(help="Commission, percent of what it collects (with --by-stage: the rest)."),
    ] = None,
    by_stage: Annotated[
        str | None, typer.Option(help="Commission by stage at placement: agency=20,legal=30.")
    ] = None,
    by_age: Annotated[
        str | None,
        typer.Option(help="Commission by days past due at placement: 0=15,180=25,365=35."),
    ] = None,
    recall_after: Annotated[
        int | None, typer.Option(help="Recall after this many days without payment.")
    ] = None,
) -> None:
    """Add an agency with its terms."""
    terms, problems = parse_terms(flat=commission, by_stage=by_stage, by_age=by_age)
    if not name.strip():
        problems.append("give its name (--name)")
    if terms is None:
        raise ProblemsFound([Problem(f"agency {code}", None, None, m) for m in problems])
    ws = workspace(ctx)
    done = agencies.add_agency(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        code,
        name=name,
        terms=terms,
        recall_after_days=recall_after,
        at=datetime.now(UTC),
    )
    what = f"agency {done.code} ({done.name}): commission {done.terms.describe()}"
    if done.recall_after_days:
        what += f", recalled after {done.recall_after_days} days without payment"
    console.print(
        what if done.changed else f"{what}; already added, nothing changed",
        highlight=False,
        soft_wrap=True,
    )


@agency_app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = Format.TABLE, wide: Wide = False) -> None:
    """The agencies, their terms and how many cases each has."""
    ws = workspace(ctx)
    found = agencies.list_agencies(SqlUnitOfWork(store(ws)), cli_actor())
    columns = ["agency", "name", "commission", "recall_after_days", "placed"]
    frame = pl.DataFrame(
        [
            {
                "agency": a.code,
                "name": a.name,
                "commission": a.terms.describe(),
                "recall_after_days": None
                if a.recall_after_days is None
                else str(a.recall_after_days),
                "placed": str(a.placed),
            }
            for a in found
        ],
        schema=dict.fromkeys(columns, pl.String),
    )
    emit(frame, fmt, title="agencies", wrap=("name", "commission"), wide=wide)


@agency_app.command("place")
def place(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    agency: Annotated[str, typer.Option(help="The agency's code.")],
    on: On,
    currency: Annotated[str | None, typer.Option(help="Default: the debtor's.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Place a debtor's open balance with an agency: its credit goes on hold."""
    ws = workspace(ctx)
    done = agencies.place(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        debtor,
        portfolio=portfolio or ws.get("portfolio"),
        agency=agency,
        currency=currency,
        on=parse_date(on, "--on"),
        at=datetime.now(UTC),
    )
    console.print(_say(done), highlight=False, soft_wrap=True)


@agency_app.command("recall")
def recall(
    ctx: typer.Context,
    on: On,
    debtor: Annotated[str | None, typer.Argument(help="Debtor's external id.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why it is recalled.")] = None,
    by_rule: Annotated[
        bool,
        typer.Option(
            "--by-rule",
            help="Recall every placement without a payment for the agency's --recall-after "
            "days (else the policy's agency_recall_after_days).",
        ),
    ] = False,
    currency: Annotated[str | None, typer.Option(help="Default: the debtor's.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Recall a debtor's placement (or, --by-rule, those without payment for too long): the
    account returns to in-house collection."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    day = parse_date(on, "--on")
    if by_rule == (debtor is not None):
        raise ProblemsFound([Problem("agency recall", None, None, "give a DEBTOR or --by-rule")])
    uow = SqlUnitOfWork(store(ws))
    if debtor is None:
        done = agencies.recall_by_rule(
            uow,
            cli_actor(),
            portfolio=code,
            on=day,
            default_days=policy_recall_after_days(ws.policy_for(code)),
            at=datetime.now(UTC),
        )
        for placement in done:
            console.print(_say(placement), highlight=False, soft_wrap=True)
        if not done:
            console.print("no placement to recall by rule; nothing changed")
        return
    one = agencies.recall(
        uow,
        cli_actor(),
        debtor,
        portfolio=code,
        on=day,
        reason=reason or "",
        currency=currency,
        at=datetime.now(UTC),
    )
    console.print(_say(one), highlight=False, soft_wrap=True)


@agency_app.command("placements")
def placements(
    ctx: typer.Context,
    agency: Annotated[str | None, typer.Option(help="Only this agency's.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only those not recalled.")] = False,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Placements: what was placed, collected and owed in commission."""
    ws = workspace(ctx)
    found = agencies.list_placements(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        agency=agency,
        active=active,
    )
    columns = [
        "placement", "agency", "debtor", "currency", "placed", "collected", "commission",
        "rate", "placed_on", "recalled_on", "reason",
    ]  # fmt: skip
    frame = pl.DataFrame(
        [
            {
                "placement": str(p.id),
                "agency": p.agency,
                "debtor": p.debtor,
                "currency": p.currency,
                "placed": str(p.amount.amount),
                "collected": str(p.collected.amount),
                "commission": str(p.commission.amount),
                "rate": f"{p.commission_percent} %",
                "placed_on": p.placed_on.isoformat(),
                "recalled_on": None if p.recalled_on is None else p.recalled_on.isoformat(),
                "reason": p.recall_reason,
            }
            for p in found
        ],
        schema=dict.fromkeys(columns, pl.String),
    )
    emit(
        frame,
        fmt,
        title="placements",
        wrap=("reason",),
        optional=("rate", "reason", "recalled_on"),
        wide=wide,
    )


@agency_app.command("export")
def export(
    ctx: typer.Context,
    agency: Annotated[str, typer.Option(help="The agency's code.")],
    on: On,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file (default: standard output).")
    ] = None,
    portfolio: Portfolio = None,
) -> None:
    """The agency's placement file (CSV): each active placement's open instalments, with the
    debtor's contacts, amounts and days past due. Cases the cycle's place_with_agency step
    marked for the agency are placed first."""
    ws = workspace(ctx)
    new, frame = agencies.export_placements(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        agency=agency,
        on=parse_date(on, "--on"),
        at=datetime.now(UTC),
    )
    for placement in new:
        typer.echo(_say(placement), err=output is None)
    if output is None:
        typer.echo(frame.write_csv(), nl=False)
    else:
        frame.write_csv(output)
        count = frame["placement"].n_unique()
        console.print(
            f"{output}: {frame.height} line(s) of {count} placement(s)",
            highlight=False,
            soft_wrap=True,
        )


@agency_app.command("remit")
def remit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The agency's remittance file (CSV).")],
    agency: Annotated[str, typer.Option(help="The agency's code.")],
    portfolio: Portfolio = None,
) -> None:
    """Import the agency's remittance file (placement or debtor, amount, date, reference): check
    every line against its placement, post the payments, compute the commission owed."""
    ws = workspace(ctx)
    lines = agencies.read_remittance(file)
    done = agencies.import_remittance(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        lines,
        portfolio=portfolio or ws.get("portfolio"),
        agency=agency,
        file=str(file),
        rule=AllocationRule(ws.get("allocation_rule")),
        at=datetime.now(UTC),
    )
    console.print(
        f"{file}: {done.posted} payment(s) posted, {done.already} already imported",
        highlight=False,
        soft_wrap=True,
    )
    for currency, money in done.collected.items():
        line = f"  collected {money}, commission owed to {agency} {done.commission[currency]}"
        if currency in done.recovered:
            line += f", of which recovered after write-off {done.recovered[currency]}"
        console.print(line, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(agency_app, name="agency")
