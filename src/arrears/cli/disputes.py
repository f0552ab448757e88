"""``arrears dispute``: open a dispute on invoices, resolve it (upheld with a credit note, or
rejected), list the disputes (an owner's overdue ones first of all), show one.

Each command is one use case of :mod:`arrears.services.arrangements.disputes`; see
docs/agreements.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.ledger import parse_amount, parse_date
from arrears.cli.output import Format, FormatOpt, Wide, console, emit
from arrears.domain.disputes import CHOSEN_REASONS
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.services.arrangements import disputes
from arrears.services.arrangements.disputes import DisputeView
from arrears.services.uow import SqlUnitOfWork

dispute_app = typer.Typer(
    help="Disputes: open one on invoices (they leave collection), resolve it (upheld: a credit "
    "note; rejected: back to collection), list and show them.",
    no_args_is_help=True,
)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]
On = Annotated[str | None, typer.Option("--on", help="Day it happens (YYYY-MM-DD; today).")]


def _money(minor: int, currency: str) -> str:
    return str(Money.from_minor(minor, currency))


def _say(view: DisputeView) -> str:
    invoices = ", ".join(i.invoice for i in view.invoices)
    head = f"dispute {view.dispute_id} of {view.debtor} on {invoices}"
    if not view.changed:
        return f"{head} was already opened ({view.status}); nothing changed"
    if view.status == "open":
        owner = f", owner {view.owner}" if view.owner else ""
        return (
            f"{head}: {_money(view.disputed_minor, view.currency)} out of collection "
            f"({view.reason}{owner}, to resolve by {view.due_on})"
        )
    if view.status == "upheld":
        return (
            f"{head} upheld by {view.resolved_by}: credit notes of "
            f"{_money(view.credited_minor, view.currency)} posted"
        )
    return f"{head} {view.status} by {view.resolved_by}: the invoices are back in collection"


@dispute_app.command("open")
def open_(
    ctx: typer.Context,
    invoices: Annotated[list[str], typer.Argument(help="The invoices' external ids or numbers.")],
    reason: Annotated[str, typer.Option(help=f"Why: {', '.join(CHOSEN_REASONS)}.")],
    on: On = None,
    note: Annotated[str | None, typer.Option(help="What the debtor says.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who resolves it (a user name).")] = None,
    due: Annotated[
        str | None,
        typer.Option("--due", help="Day to resolve it by (default: 14 days after --on)."),
    ] = None,
    portfolio: Portfolio = None,
) -> None:
    """Open a dispute on one or more invoices of one debtor: they leave collection (or the
    whole case pauses, by the policy's disputes.pause) until it is resolved."""
    ws = workspace(ctx)
    done = disputes.open_dispute(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        invoices=invoices,
        reason=reason,
        note=note,
        owner=owner,
        due_on=None if due is None else parse_date(due, "--due"),
        on=workspace_today(ctx) if on is None else parse_date(on, "--on"),
        at=datetime.now(UTC),
    )
    console.print(_say(done), highlight=False, soft_wrap=True)


def _credits(values: list[str]) -> dict[str, Decimal] | None:
    """``--credit INVOICE=AMOUNT`` (repeated); ``--credit full`` or none: every invoice in full."""
    if not values or values == ["full"]:
        return None
    asked: dict[str, Decimal] = {}
    problems = []
    for value in values:
        invoice, sep, amount = value.partition("=")
        if not sep or not invoice.strip():
            problems.append(f"--credit {value!r}: write INVOICE=AMOUNT, or full")
            continue
        asked[invoice.strip()] = parse_amount(amount, "--credit")
    if problems:
        raise ProblemsFound.of("dispute resolve", *problems)
    return asked


@dispute_app.command("resolve")
def resolve(
    ctx: typer.Context,
    dispute: Annotated[int, typer.Argument(help="The dispute's number.")],
    upheld: Annotated[
        bool,
        typer.Option(
            "--upheld/--rejected",
            help="Upheld: credit notes are posted; rejected: the invoices return to collection.",
        ),
    ],
    on: On = None,
    credit: Annotated[
        list[str] | None,
        typer.Option(help="Upheld: INVOICE=AMOUNT for a partial credit (repeat); default full."),
    ] = None,
    note: Annotated[str | None, typer.Option(help="What was decided and why.")] = None,
) -> None:
    """Resolve an open dispute."""
    ws = workspace(ctx)
    done = disputes.resolve(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        dispute,
        outcome="upheld" if upheld else "rejected",
        credit=_credits(credit or []),
        note=note,
        on=workspace_today(ctx) if on is None else parse_date(on, "--on"),
        at=datetime.now(UTC),
    )
    console.print(_say(done), highlight=False, soft_wrap=True)


def _row(v: DisputeView) -> dict[str, str | None]:
    return {
        "id": str(v.dispute_id),
        "debtor": v.debtor,
        "invoices": " ".join(i.invoice for i in v.invoices),
        "amount": str(Money.from_minor(v.disputed_minor, v.currency).amount),
        "currency": v.currency,
        "status": v.status + (" (overdue)" if v.overdue else ""),
        "reason": v.reason,
        "owner": v.owner,
        "opened_on": v.opened_on.isoformat(),
        "due_on": None if v.due_on is None else v.due_on.isoformat(),
        "resolved_on": None if v.resolved_on is None else v.resolved_on.isoformat(),
        "credited": str(Money.from_minor(v.credited_minor, v.currency).amount),
        "note": v.note,
    }


@dispute_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only open, upheld, rejected or closed ones.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None,
    debtor: Annotated[str | None, typer.Option(help="Only this debtor's.")] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open ones past their due date.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day overdue is judged on (default: today).")
    ] = None,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Disputes, oldest first: with --owner NAME --overdue, what that owner should resolve."""
    ws = workspace(ctx)
    found = disputes.list_disputes(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        as_of=workspace_today(ctx) if as_of is None else parse_date(as_of, "--as-of"),
        status=status,
        owner=owner,
        debtor=debtor,
        overdue=overdue,
    )
    columns = [
        "id", "debtor", "invoices", "amount", "currency", "status", "reason", "owner",
        "opened_on", "due_on", "resolved_on", "credited", "note",
    ]  # fmt: skip
    frame = pl.DataFrame([_row(v) for v in found], schema=dict.fromkeys(columns, pl.String))
    emit(
        frame,
        fmt,
        title="disputes",
        right=("amount", "credited"),
        wrap=("invoices", "note"),
        optional=("resolved_on", "opened_on", "credited", "note"),
        wide=wide,
    )


@dispute_app.command("show")
def show(
    ctx: typer.Context,
    dispute: Annotated[int, typer.Argument(help="The dispute's number.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day overdue is judged on (default: today).")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """One dispute: what, why, who, by when, how it ended; its invoices and their credit."""
    ws = workspace(ctx)
    v = disputes.show(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        dispute,
        as_of=workspace_today(ctx) if as_of is None else parse_date(as_of, "--as-of"),
    )
    if fmt is Format.TABLE:
        facts = _row(v) | {
            "opened_by": v.opened_by,
            "resolved_by": v.resolved_by,
            "resolution": v.resolution,
        }
        for name, value in facts.items():
            if value:
                console.print(f"{name}: {value}", highlight=False, soft_wrap=True)
    lines = pl.DataFrame(
        [
            {
                "invoice": i.invoice,
                "number": i.number,
                "disputed": str(Money.from_minor(i.open_minor, v.currency).amount),
                "open": str(Money.from_minor(i.open_now_minor, v.currency).amount),
                "credit": None
                if i.credit_minor is None
                else str(Money.from_minor(i.credit_minor, v.currency).amount),
                "credit_note": i.credit_note,
            }
            for i in v.invoices
        ],
        schema=dict.fromkeys(
            ["invoice", "number", "disputed", "open", "credit", "credit_note"], pl.String
        ),
    )
    emit(
        lines,
        fmt,
        title=f"dispute {v.dispute_id}",
        right=("disputed", "open", "credit"),
        optional=("credit_note", "number"),
        wide=wide,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(dispute_app, name="dispute")
