"""``arrears write-off``: propose, approve, refuse and list write-offs; record a recovery.

``arrears write-off INVOICE --on DAY --reason TEXT [--amount X]`` (the command of earlier
releases) is ``arrears write-off invoice INVOICE ...``: a proposal of that invoice, which posts at
once within the limit of whoever runs it (the command line acts as an admin: without a limit
unless the policy's ``write_off_limits`` gives ``admin`` one). Each command is one use case of
:mod:`arrears.services.arrangements.write_offs`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import polars as pl
import typer
from typer.core import TyperGroup

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.ledger import parse_amount, parse_date, parse_money
from arrears.cli.output import Format, FormatOpt, Wide, console, emit
from arrears.config import Workspace
from arrears.domain.allocation import AllocationRule
from arrears.domain.ledger import Payment
from arrears.domain.write_offs import Limits
from arrears.services.arrangements import write_offs
from arrears.services.arrangements.write_offs import Proposal
from arrears.services.uow import SqlUnitOfWork


class _WriteOffGroup(TyperGroup):
    """A group whose arguments, when the first is no sub-command (nor ``--help``), are the old
    ``arrears write-off INVOICE --on ...``: they run ``write-off invoice INVOICE --on ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["invoice", *args]
        return super().parse_args(ctx, args)


write_off_app = typer.Typer(
    cls=_WriteOffGroup,
    help="Write-offs: propose one (it posts within your limit, else waits for approval), "
    "approve or refuse it, list them, record a recovery.",
    no_args_is_help=True,
)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]
On = Annotated[str, typer.Option("--on", help="Day it takes effect (YYYY-MM-DD).")]


def _limits(ws: Workspace, portfolio: str) -> Limits:
    return write_offs.policy_limits(ws.policy_for(portfolio))


def _say(done: Proposal) -> str:
    what = f"invoice {done.invoice}" if done.invoice else done.debtor
    head = f"write-off {done.id} of {what}: {done.amount}"
    if not done.changed:
        return f"{head} already proposed ({done.status}); nothing changed"
    if done.status == "posted":
        return f"{head}; {done.posted} written off ({done.decision_note} by {done.decided_by})"
    if done.status == "refused":
        return f"{head} refused by {done.decided_by}: {done.decision_note}"
    return (
        f"{head} waits for approval (above the limit of {done.proposed_by}): "
        f"arrears write-off approve {done.id} | refuse {done.id} --reason TEXT"
    )


@write_off_app.command("propose")
def propose(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    on: On,
    reason: Annotated[str, typer.Option(help="Why it is written off.")],
    amount: Annotated[str | None, typer.Option(help="Amount (default: all that is open).")] = None,
    currency: Annotated[
        str | None, typer.Option(help="Currency of the balance (default: the debtor's).")
    ] = None,
    invoice: Annotated[str | None, typer.Option(help="Only this invoice.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Propose writing off a debtor's open balance (or one invoice's): it posts at once within
    your limit (the policy's write_off_limits), otherwise it waits for a manager's approval."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    done = write_offs.propose(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        debtor,
        portfolio=code,
        on=parse_date(on, "--on"),
        reason=reason,
        limits=_limits(ws, code),
        currency=currency,
        invoice=invoice,
        amount=None if amount is None else parse_amount(amount, "--amount"),
        at=datetime.now(UTC),
    )
    console.print(_say(done), highlight=False, soft_wrap=True)


@write_off_app.command("invoice")
def invoice(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice's external id.")],
    on: On,
    reason: Annotated[str, typer.Option(help="Why it is written off.")],
    amount: Annotated[
        str | None, typer.Option(help="Amount in the invoice's currency (default: all open).")
    ] = None,
    portfolio: Portfolio = None,
) -> None:
    """Propose writing off all or part of one invoice (also `arrears write-off INVOICE`)."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    done = write_offs.propose_invoice(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        number,
        portfolio=code,
        on=parse_date(on, "--on"),
        reason=reason,
        limits=_limits(ws, code),
        amount=None if amount is None else parse_amount(amount, "--amount"),
        at=datetime.now(UTC),
    )
    if done.status == "posted" and done.changed:
        console.print(
            f"invoice {number}: {done.posted} written off", highlight=False, soft_wrap=True
        )
    elif done.status == "posted":
        console.print(f"invoice {number}: this write-off was already recorded; nothing changed")
    else:
        console.print(_say(done), highlight=False, soft_wrap=True)


@write_off_app.command("approve")
def approve(
    ctx: typer.Context,
    proposal: Annotated[int, typer.Argument(help="The proposal's number.")],
    on: On,
) -> None:
    """Approve a write-off waiting for approval: it posts."""
    ws = workspace(ctx)
    done = write_offs.approve(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        proposal,
        on=parse_date(on, "--on"),
        at=datetime.now(UTC),
    )
    console.print(_say(done), highlight=False, soft_wrap=True)


@write_off_app.command("refuse")
def refuse(
    ctx: typer.Context,
    proposal: Annotated[int, typer.Argument(help="The proposal's number.")],
    on: On,
    reason: Annotated[str, typer.Option(help="Why it is refused.")],
) -> None:
    """Refuse a write-off waiting for approval: nothing posts."""
    ws = workspace(ctx)
    done = write_offs.refuse(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        proposal,
        on=parse_date(on, "--on"),
        reason=reason,
        at=datetime.now(UTC),
    )
    console.print(_say(done), highlight=False, soft_wrap=True)


@write_off_app.command("from-policy")
def from_policy(ctx: typer.Context, on: On, portfolio: Portfolio = None) -> None:
    """Propose the write-offs the policy's propose_write_off steps asked for (open write_off
    tasks of the cycle): each waits for approval."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    made = write_offs.propose_from_cycle(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        on=parse_date(on, "--on"),
        limits=_limits(ws, code),
        at=datetime.now(UTC),
    )
    for done in made:
        console.print(_say(done), highlight=False, soft_wrap=True)
    if not made:
        console.print("no write-off to propose from the policy; nothing changed")


@write_off_app.command("list")
def list_(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option("--pending", help="Only those waiting.")] = False,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Write-off proposals, newest first: pending, posted or refused, by whom."""
    ws = workspace(ctx)
    found = write_offs.list_proposals(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        status="pending" if pending else None,
    )
    columns = [
        "id", "debtor", "invoice", "amount", "currency", "posted", "status", "proposed_by",
        "proposed_on", "decided_by", "decided_on", "reason", "note",
    ]  # fmt: skip
    frame = pl.DataFrame(
        [
            {
                "id": str(p.id),
                "debtor": p.debtor,
                "invoice": p.invoice,
                "amount": str(p.amount.amount),
                "currency": p.amount.currency,
                "posted": str(p.posted.amount),
                "status": p.status,
                "proposed_by": p.proposed_by,
                "proposed_on": p.proposed_on.isoformat(),
                "decided_by": p.decided_by,
                "decided_on": None if p.decided_on is None else p.decided_on.isoformat(),
                "reason": p.reason,
                "note": p.decision_note,
            }
            for p in found
        ],
        schema=dict.fromkeys(columns, pl.String),
    )
    emit(
        frame,
        fmt,
        title="write-offs",
        wrap=("reason", "note"),
        optional=("decided_on", "proposed_on", "note"),
        wide=wide,
    )


@write_off_app.command("recover")
def recover(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    id_: Annotated[str, typer.Option("--id", help="Payment's external id.")],
    on: Annotated[str, typer.Option("--on", help="Day it was received (YYYY-MM-DD).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 120.00.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of the payment.")],
    reference: Annotated[str | None, typer.Option(help="Bank reference.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Record money received on a written-off debt: posted as a payment, and what finds
    nothing open counted as a recovery (write_off.recovered)."""
    ws = workspace(ctx)
    payment = Payment(
        id_,
        debtor,
        parse_date(on, "--on"),
        parse_money(amount, currency, "--amount"),
        None,
        reference,
        portfolio or ws.get("portfolio"),
    )
    done = write_offs.record_recovery(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        payment,
        rule=AllocationRule(ws.get("allocation_rule")),
        at=datetime.now(UTC),
    )
    if not done.changed:
        console.print(f"payment {id_} already recorded; nothing changed")
    else:
        console.print(
            f"payment {id_} of {done.amount} posted; {done.recovered} recovered after write-off",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(write_off_app, name="write-off")
