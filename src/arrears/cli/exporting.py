"""``arrears export``: write the ledger out as CSV or Parquet, in the columns the importer reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.kinds import LedgerFile
from arrears.cli.output import console
from arrears.services.books.export import export_ledger
from arrears.services.uow import SqlUnitOfWork


def export(
    ctx: typer.Context,
    what: Annotated[LedgerFile, typer.Argument(help="What to export.")],
    out: Annotated[Path, typer.Argument(help="File to write: .csv or .parquet.")],
    portfolio: Annotated[
        str | None, typer.Option(help="Only this portfolio (default: all of them).")
    ] = None,
) -> None:
    """Export debtors, invoices (one row per instalment), payments (one row per allocation) or
    credit notes; text cells a spreadsheet would run as formulas are escaped in CSV."""
    ws = workspace(ctx)
    rows = export_ledger(SqlUnitOfWork(store(ws)), cli_actor(), what.kind, out, portfolio=portfolio)
    console.print(f"wrote {rows} {what.value.replace('-', ' ')} rows to {out}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
