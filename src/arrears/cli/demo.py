"""``arrears demo``: the whole product on a generated portfolio, with no server, as a short tour.

It runs the same commands a user would, each printed before it runs, in a workspace folder:
``init`` (first time only), ``generate``, ``import`` of debtors, invoices and payments, ``policy
check`` of the shipped B2B policy, ``aging`` (one table of buckets, every currency in US dollars
at the demo's ``[rates]``), ``run`` of the daily cycle with that policy, the top of the
collectors' ``worklist`` and ``dispatch`` of the day's messages to the file sink (``outbox/`` in
the workspace); then the next three things to try. Each command prints its summary (their
``--summary`` options): the whole tour fits in about two screens. With ``--full`` the commands
print their full tables instead (and the aging per currency and by debtor).

Running it again changes nothing: the files are the same for the same arguments, importing them
again finds every row unchanged, and the cycle has already run for the day.
"""

from __future__ import annotations

import shlex
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from arrears import config
from arrears.cli.output import console

#: The demo's common unit: its ``[rates]`` give each currency's value in US dollars.
UNIT = "USD"
#: The demo's user of the web pages (``arrears serve``): a collector with a published password,
#: for a demo on the loopback only.
DEMO_USER, DEMO_PASSWORD = "demo", "arrears-demo"


def _run(args: list[str]) -> None:
    """Run one ``arrears`` command as the user would, printed whole first (one line, for the
    terminal to wrap: copied, it is the command); stop the demo if it fails."""
    from arrears.cli.app import app

    console.print(f"$ arrears {shlex.join(args)}", style="bold", soft_wrap=True, markup=False)
    code = app(args=args, prog_name="arrears", standalone_mode=False)
    if isinstance(code, int) and code != 0:
        raise typer.Exit(code)


def _say(text: str) -> None:
    """A line of the tour's own, between the commands' output."""
    console.print(text, style="italic", highlight=False, markup=False)


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
    full: Annotated[
        bool,
        typer.Option("--full", help="Print every command's full tables instead of its summary."),
    ] = False,
) -> None:
    """Create a workspace, generate a demo portfolio, import it, age it, run the cycle and send
    the day's messages: a short tour (--full: every table)."""
    from arrears.cli.app import UserError

    try:
        day = date.fromisoformat(as_of) if as_of else config.default_today()
    except ValueError:
        raise UserError(f"--as-of {as_of!r} is not a date; write it as YYYY-MM-DD") from None
    # The commands name the folder as the user did: short, and copied as they are they work
    # from the same folder.
    ws = directory
    data = ws / "data"
    workspace = ["--workspace", str(ws)]
    brief = [] if full else ["--summary"]
    if not (ws / "arrears.toml").is_file():
        _run(["init", str(ws)])
        _add_rates(ws / "arrears.toml")
    sizes = ["--debtors", str(debtors), "--months", str(months), "--seed", str(seed)]
    _run(["generate", str(data), *sizes, "--as-of", day.isoformat(), *brief])
    for kind in ("debtors", "invoices", "payments"):
        _run([*workspace, "import", kind, str(data / f"{kind}.csv"), *brief])
    _run(["policy", "check", str(ws / "policies" / "b2b.yaml")])
    aging = [*workspace, "aging", "--as-of", day.isoformat()]
    if full:
        _run(aging)
        _run([*aging, "--by", "debtor", "--top", "10"])
    else:
        _run([*aging, "--by", "bucket", "--in", UNIT])
        _say("At the [rates] in arrears.toml; each currency on its own: arrears aging")
    _run([*workspace, "run", "--as-of", day.isoformat(), *brief])
    _run([*workspace, "worklist", "--top", "10" if full else "5"])
    _run([*workspace, "dispatch", "--as-of", day.isoformat()])
    _say(_held_note())
    _demo_user(ws)
    _next(ws, day)


def _held_note() -> str:
    """What "held for later" means, with the time the contact rules were judged at."""
    from arrears.cli.dispatch import now

    return (
        f"Held, not lost: the contact rules judge the real time of sending (now {now():%H:%M} "
        "UTC, the debtor's local time counts); run `arrears dispatch` again later, or keep "
        "`arrears worker` running, and what is held goes out when allowed."
    )


def _next(ws: Path, day: date) -> None:
    """The next three things to try, in the workspace (the commands need no --workspace)."""
    debtor = _first_on_worklist(ws) or "DEBTOR_ID"
    tomorrow = (day + timedelta(days=1)).isoformat()
    console.print("next", style="bold")
    lines = [
        f"The messages are in {ws / 'outbox'} (.eml, .json). Next, in the workspace:",
        f"  cd {shlex.quote(str(ws))}",
        f"  arrears explain {debtor}   # why the cycle did what it did for the top debtor",
        "  arrears approve-waiting agency   # the backlog waiting for approval proceeds",
        f"  arrears plan --as-of {tomorrow} --summary   # tomorrow, writing nothing",
        f"Then: arrears serve, and log in at http://127.0.0.1:8000/login as {DEMO_USER},",
        f"password {DEMO_PASSWORD} (the collectors' pages); arrears demo --full.",
    ]
    console.print("\n".join(lines), highlight=False, markup=False)


def _demo_user(ws: Path) -> None:
    """The collector the README logs in as after ``arrears serve ./demo`` (once)."""
    import contextlib
    from datetime import UTC, datetime

    from arrears import config
    from arrears.cli.context import cli_actor, store
    from arrears.domain.errors import Conflict
    from arrears.services.uow import SqlUnitOfWork
    from arrears.services.users import add_user

    engine = store(config.load(ws))
    with contextlib.suppress(Conflict):  # the demo ran here before
        add_user(
            SqlUnitOfWork(engine), cli_actor(), username=DEMO_USER, role="collector",
            password=DEMO_PASSWORD, at=datetime.now(UTC),
        )  # fmt: skip


def _first_on_worklist(ws: Path) -> str | None:
    """The debtor of the worklist's first task, to explain (None: no task)."""
    from arrears import config
    from arrears.cli.context import cli_actor, store
    from arrears.services.casework.collection import worklist
    from arrears.services.uow import SqlUnitOfWork

    settings = config.load(ws)
    frame = worklist(
        SqlUnitOfWork(store(settings)), cli_actor(), portfolio=settings.get("portfolio"), top=1
    )
    return str(frame["debtor"][0]) if frame.height else None


def _add_rates(config: Path) -> None:
    """Give the new demo workspace a ``[rates]`` table for its currencies: the worklist then
    ranks balances in COP, EUR, GBP, MXN and USD in one unit (US dollars); and the fake card
    provider, so that the debtor's page can be paid from in the demo."""
    from arrears.demo.geography import usd_values

    lines = [
        "",
        "# The demo's currencies: what one unit is worth in US dollars (illustrative rates),",
        "# so that the worklist ranks balances in different currencies in one unit.",
        "[rates]",
        *(f'{code} = "{value}"' for code, value in usd_values().items()),
        "",
        "# Paying online on the debtor's page: the app's own fake card provider, for trying it",
        '# out (a real workspace names its hosted checkout: provider = "hosted", url, secret).',
        "[checkout]",
        'provider = "fake"',
    ]
    with config.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
