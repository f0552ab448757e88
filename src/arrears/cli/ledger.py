"""``arrears payment``, ``credit-note``, ``ledger`` and ``activity`` (``write-off``: own module).

Single-record changes a person makes by hand, each one use case of
:mod:`arrears.services.books.ledger` (one transaction with its activity record, naming who ran the
command). Amounts are read as ``Decimal`` (never float) and dates as ISO 8601; a bad value is one
line on stderr and exit status 1.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, renamed, store, workspace
from arrears.cli.output import Format, FormatOpt, Wide, console, emit
from arrears.domain.allocation import AllocationRule
from arrears.domain.ledger import CreditNote, Payment
from arrears.domain.money import Money, MoneyError, parse_decimal
from arrears.domain.problems import Problem, ProblemsFound
from arrears.services.books import ledger
from arrears.services.books.ledger import Posting
from arrears.services.uow import SqlUnitOfWork

payment_app = typer.Typer(
    help="Payments: post one, or reverse a bounced one.", no_args_is_help=True
)
credit_note_app = typer.Typer(help="Credit notes: issue one.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger's books: check them, apply credit.", no_args_is_help=True)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]


def _problem(option: str, message: str) -> ProblemsFound:
    return ProblemsFound([Problem(option, None, None, message)])


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _problem(option, f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_amount(text: str, option: str) -> Decimal:
    """An exact Decimal amount as written (its currency is the use case's to check)."""
    try:
        return parse_decimal(text)
    except MoneyError as exc:
        raise _problem(option, str(exc)) from None


def parse_money(text: str, currency: str, option: str) -> Money:
    """Exact Decimal amount; too many decimals for the currency is reported by the use case."""
    try:
        return Money(parse_decimal(text), currency.upper())
    except MoneyError as exc:
        raise _problem(option, str(exc)) from None


def _describe(posting: Posting, what: str) -> str:
    if not posting.changed:
        return f"{what} already recorded; nothing changed"
    currency = posting.unallocated.currency
    applied = ", ".join(
        f"{a.invoice}/{a.seq} {Money.from_minor(a.amount_minor, currency).amount}"
        for a in posting.applied
    )
    return f"{what}: applied to {applied or 'nothing'}; unallocated {posting.unallocated}"


@payment_app.command("add", context_settings=renamed(date="on"))
def payment_add(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Option(help="Debtor's external id.")],
    id_: Annotated[str, typer.Option("--id", help="Payment's external id.")],
    on: Annotated[str, typer.Option("--on", help="Day it was received (YYYY-MM-DD).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 1250.50.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of the payment.")],
    invoice: Annotated[str | None, typer.Option(help="Apply only to this invoice.")] = None,
    method: Annotated[str | None, typer.Option(help="Transfer, card, cheque...")] = None,
    reference: Annotated[str | None, typer.Option(help="Bank reference.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Post a payment; it is applied by the workspace's allocation rule (oldest due first)."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    new = Payment(
        id_,
        debtor,
        parse_date(on, "--on"),
        parse_money(amount, currency, "--amount"),
        method,
        reference,
        code,
    )
    posting = ledger.record_payment(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        new,
        invoice=invoice,
        rule=AllocationRule(ws.get("allocation_rule")),
        at=datetime.now(UTC),
    )
    console.print(_describe(posting, f"payment {id_} posted"), highlight=False)


@payment_app.command("reverse")
def payment_reverse(
    ctx: typer.Context,
    payment: Annotated[str, typer.Argument(help="Payment's external id.")],
    on: Annotated[str, typer.Option(help="Day of the reversal (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option(help="Bounced cheque, chargeback...")],
    portfolio: Portfolio = None,
) -> None:
    """Reverse a payment: its allocations are undone and the invoices reopen."""
    ws = workspace(ctx)
    posting = ledger.reverse_payment(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        payment,
        portfolio=portfolio or ws.get("portfolio"),
        on=parse_date(on, "--on"),
        reason=reason,
        at=datetime.now(UTC),
    )
    if posting.changed:
        restored = len(posting.applied)
        console.print(f"payment {payment} reversed; {restored} allocation(s) restored")
    else:
        console.print(f"payment {payment} already reversed; nothing changed")


@credit_note_app.command("add", context_settings=renamed(date="on"))
def credit_note_add(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Option(help="Debtor's external id.")],
    id_: Annotated[str, typer.Option("--id", help="Credit note's external id.")],
    on: Annotated[str, typer.Option("--on", help="Day it was issued (YYYY-MM-DD).")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 99.90.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")],
    invoice: Annotated[str | None, typer.Option(help="The invoice it credits.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why it was issued.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Issue a credit note, applied to its invoice (or like a payment when it names none)."""
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    note = CreditNote(
        id_,
        debtor,
        parse_date(on, "--on"),
        parse_money(amount, currency, "--amount"),
        invoice,
        reason,
        code,
    )
    posting = ledger.add_credit_note(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        note,
        rule=AllocationRule(ws.get("allocation_rule")),
        at=datetime.now(UTC),
    )
    console.print(_describe(posting, f"credit note {id_} issued"), highlight=False)


@ledger_app.command("check")
def ledger_check(ctx: typer.Context) -> None:
    """Check that every balance agrees with its allocations; exit 1 listing what does not."""
    ws = workspace(ctx)
    problems = ledger.check_ledger(SqlUnitOfWork(store(ws)), cli_actor())
    if problems:
        raise ProblemsFound(problems)
    console.print("the ledger reconciles")


@ledger_app.command("apply-credit")
def ledger_apply_credit(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    on: Annotated[str, typer.Option(help="Day of the application (YYYY-MM-DD).")],
    portfolio: Portfolio = None,
) -> None:
    """Apply a debtor's unallocated payments and credit notes to its open instalments."""
    ws = workspace(ctx)
    postings = ledger.apply_credit(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        debtor,
        portfolio=portfolio or ws.get("portfolio"),
        on=parse_date(on, "--on"),
        rule=AllocationRule(ws.get("allocation_rule")),
        at=datetime.now(UTC),
    )
    for posting in postings:
        console.print(_describe(posting, f"credit from {posting.document}"), highlight=False)
    if not postings:
        console.print(f"debtor {debtor}: no credit to apply; nothing changed")


def show_activity(
    ctx: typer.Context,
    debtor: Annotated[str | None, typer.Option(help="Only this debtor's records.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many records, newest first.")] = 50,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Show the activity log, newest first (times in UTC)."""
    ws = workspace(ctx)
    records = ledger.recent_activity(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        limit=limit,
    )
    columns = ["occurred_at", "kind", "actor", "portfolio", "debtor", "subject", "payload"]
    frame = pl.DataFrame(
        [
            {
                "occurred_at": str(r.occurred_at),
                "kind": r.kind,
                "actor": r.actor,
                "portfolio": r.portfolio,
                "debtor": r.debtor,
                "subject": f"{r.subject_kind} {r.subject_id}",
                "payload": json.dumps(r.payload, ensure_ascii=False, sort_keys=True),
            }
            for r in records
        ],
        schema=dict.fromkeys(columns, pl.String),
    )
    if fmt is Format.TABLE:  # to the second, which is what a person reads
        frame = frame.with_columns(pl.col("occurred_at").str.slice(0, 19))
    emit(
        frame,
        fmt,
        title="activity (UTC)",
        wrap=("actor", "payload"),
        optional=("portfolio", "actor"),
        wide=wide,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(payment_app, name="payment")
    app.add_typer(credit_note_app, name="credit-note")
    app.add_typer(ledger_app, name="ledger")
    app.command("activity")(show_activity)
