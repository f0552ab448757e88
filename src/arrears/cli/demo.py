"""``arrears demo``: the whole product on a generated portfolio, with no server.

It runs the same commands a user would, each printed before it runs, in a workspace folder:
``init`` (first time only), ``generate``, ``import`` of debtors, invoices and payments, ``policy
check`` of the shipped B2B policy, ``aging`` (totals, then the ten debtors with the most
overdue), ``run`` of the daily cycle with that policy (the summary of its decisions), the top
of the collectors' ``worklist`` and ``dispatch`` of the day's messages to the file sink
(``outbox/`` in the workspace). Running it again changes nothing: the files are the same for the
same arguments, importing them again finds every row unchanged, and the cycle has already run
for the day.
"""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.output import console


def _run(args: list[str]) -> None:
    """Run one ``arrears`` command as the user would; stop the demo if it fails."""
    from arrears.cli.app import app

    console.rule(f"[bold]$ arrears {shlex.join(args)}", align="left")
    code = app(args=args, prog_name="arrears", standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise typer.Exit(code)


def demo_command(
    directory: Annotated[Path, typer.Argument(help="Workspace folder for the demo.")] = Path(
        "demo"
    ),
    debtors: Annotated[int, typer.Option(help="Number of debtors to generate.")] = 2_000,
    months: Annotated[int, typer.Option(help="Months of invoice history.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 7,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The demo's 'today', YYYY-MM-DD.")
    ] = None,
) -> None:
    """Create a workspace, generate a demo portfolio, import it, age it and run the cycle."""
    from arrears.cli.app import UserError

    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise UserError(f"--as-of {as_of!r} is not a date; write it as YYYY-MM-DD") from None
    ws = directory.resolve()
    data = ws / "data"
    workspace = ["--workspace", str(ws)]
    if not (ws / "arrears.toml").is_file():
        _run(["init", str(ws)])
        _add_rates(ws / "arrears.toml")
    sizes = ["--debtors", str(debtors), "--months", str(months), "--seed", str(seed)]
    _run(["generate", str(data), *sizes, "--as-of", day.isoformat()])
    for kind in ("debtors", "invoices", "payments"):
        _run([*workspace, "import", kind, str(data / f"{kind}.csv")])
    _run(["policy", "check", str(ws / "policies" / "b2b.yaml")])
    _run([*workspace, "aging", "--as-of", day.isoformat()])
    _run([*workspace, "aging", "--as-of", day.isoformat(), "--by", "debtor", "--top", "10"])
    _run([*workspace, "run", "--as-of", day.isoformat()])
    _run([*workspace, "worklist", "--top", "10"])
    _run([*workspace, "dispatch", "--as-of", day.isoformat()])
    console.rule("[bold]next", align="left")
    console.print(
        f"The workspace is {ws} (store: {ws / 'arrears.db'}).\n"
        f"The day's messages are in {ws / 'outbox'} (.eml emails, .json SMS and letters). Try:\n"
        f"  arrears -w {ws} explain DEBTOR_ID      (why the cycle did what it did)\n"
        f"  arrears -w {ws} plan --as-of YYYY-MM-DD (what the next days would do)\n"
        f"  arrears -w {ws} aging --by segment --format csv\n"
        f"  arrears -w {ws} activity --limit 20\n"
        f"  arrears -w {ws} export invoices invoices.csv\n"
        f"  arrears -w {ws} ledger check"
    )


def _add_rates(config: Path) -> None:
    """Give the new demo workspace a ``[rates]`` table for its currencies: the worklist then
    ranks balances in COP, EUR, GBP, MXN and USD in one unit (US dollars)."""
    from arrears.demo.geography import usd_values

    lines = [
        "",
        "# The demo's currencies: what one unit is worth in US dollars (illustrative rates),",
        "# so that the worklist ranks balances in different currencies in one unit.",
        "[rates]",
        *(f'{code} = "{value}"' for code, value in usd_values().items()),
    ]
    with config.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
