"""``arrears init``, ``arrears config``, ``arrears db`` and ``arrears portfolio``."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from arrears import config
from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import Format, Wide, console, emit
from arrears.domain.money import MoneyError, is_currency
from arrears.services import workspace as service
from arrears.services.uow import SqlUnitOfWork

db_app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)
portfolio_app = typer.Typer(
    help="Portfolios: creditors, business units or agency clients.", no_args_is_help=True
)


def _examples_dir() -> Path | None:
    packaged = resources.files("arrears").joinpath("_examples")
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "examples"
    return checkout if checkout.is_dir() else None


def _copy_missing(source: Path, target: Path) -> None:
    """Copy the files of ``source`` that ``target`` lacks: a policy or template the user
    edited is never overwritten when ``init`` runs again on a workspace."""
    for path in sorted(source.rglob("*")):
        if path.is_file() and not (target / path.relative_to(source)).exists():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(source))


def init(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Argument(help="Workspace folder (created).")] = None,
    currency: Annotated[str, typer.Option(help="Base currency (ISO 4217).")] = "USD",
    timezone: Annotated[str, typer.Option(help="Default debtor time zone.")] = "America/New_York",
    country: Annotated[str, typer.Option(help="Default debtor country (ISO 3166).")] = "US",
    locale: Annotated[str, typer.Option(help="Locale for amounts and dates.")] = "en_US",
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (default: SQLite file in the workspace).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing arrears.toml.")] = False,
) -> None:
    """Create a workspace: arrears.toml, secrets.toml (a random channels.secret), example
    policies, reference_rates.csv (ECB rates for the EU late-payment interest), a migrated
    store, a default portfolio. Run again on an existing workspace, it keeps arrears.toml (and
    any file the user edited) and adds a secret if the workspace has none."""
    root = (directory or (ctx.find_root().obj or {}).get("workspace") or Path(".")).resolve()
    currency = currency.upper()
    if not is_currency(currency):
        raise MoneyError(f"--currency {currency!r} is not an ISO 4217 currency code")
    root.mkdir(parents=True, exist_ok=True)
    path = root / config.CONFIG_FILE
    if path.exists() and not force:
        console.print(f"{path} exists: keeping it (use --force to rewrite it)")
    else:
        path.write_text(
            config.render_config(
                base_currency=currency,
                timezone=timezone,
                country=country.upper(),
                locale=locale,
                database_url=database_url,
            ),
            encoding="utf-8",
        )
    written = config.write_secret(root)
    if written is not None:
        console.print(f"wrote a random channels.secret to {written} (keep it private)")
    examples = _examples_dir()
    for folder in ("policies", "templates"):
        if examples is not None and (examples / folder).is_dir():
            _copy_missing(examples / folder, root / folder)
    starter = examples / config.REFERENCE_RATES_FILE if examples is not None else None
    if starter is not None and starter.is_file() and not (root / starter.name).exists():
        shutil.copy2(starter, root / starter.name)  # never overwrites the user's table
        console.print(
            f"wrote {root / starter.name}: ECB reference rates up to mid-2025, for the EU "
            "late-payment interest; keep it current"
        )
    ws = config.load(root)
    service.set_up_store(
        ws.database_url,
        cli_actor(),
        portfolio=ws.get("portfolio"),
        base_currency=ws.get("base_currency"),
    )
    console.print(f"workspace ready in {root} (store: {ws.database_url})")


def show_config(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Show the effective settings and where each came from (default, file or environment);
    secrets are masked."""
    ws = workspace(ctx, must_exist=False)
    frame = pl.DataFrame(
        {
            "setting": [s.key for s in config.SETTINGS],
            "value": [config.shown(s.key, ws.values[s.key]) for s in config.SETTINGS],
            "source": [ws.sources[s.key] for s in config.SETTINGS],
            "environment variable": [s.env for s in config.SETTINGS],
        }
    )
    emit(
        frame,
        fmt,
        title=f"workspace {ws.root}",
        wrap=("value", "source"),
        optional=("environment variable",),
        wide=wide,
    )
    for kind, mapping in sorted(ws.columns.items()):
        for column, header in sorted(mapping.items()):
            console.print(f"import.columns.{kind}.{column} = {header!r} ({ws.config_path})")
    for code, rate in ws.rates.items():
        console.print(f"rates.{code} = {rate} ({ws.config_path})", markup=False)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the workspace's database to the current schema."""
    ws = workspace(ctx)
    revision = service.upgrade_store(ws.database_url, cli_actor())
    console.print(f"database at schema {revision}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's schema revision and the one this version of arrears expects."""
    ws = workspace(ctx)
    revisions = service.schema_revisions(ws.database_url, cli_actor())
    console.print(f"database: {revisions.current or 'empty'}; expected: {revisions.expected}")


@portfolio_app.command("add")
def portfolio_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. 'acme-es'.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    currency: Annotated[str | None, typer.Option(help="Base currency.")] = None,
) -> None:
    """Add a portfolio (a creditor, business unit or agency client)."""
    ws = workspace(ctx)
    service.add_portfolio(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        code,
        name=name,
        base_currency=(currency or ws.get("base_currency")).upper(),
    )
    console.print(f"portfolio {code} ready")


@portfolio_app.command("list")
def portfolio_list(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """List the workspace's portfolios."""
    ws = workspace(ctx)
    portfolios = service.list_portfolios(SqlUnitOfWork(store(ws)), cli_actor())
    frame = pl.DataFrame([asdict(p) for p in portfolios])
    emit(frame, fmt, wrap=("name",), wide=wide)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("config")(show_config)
    app.add_typer(db_app, name="db")
    app.add_typer(portfolio_app, name="portfolio")
