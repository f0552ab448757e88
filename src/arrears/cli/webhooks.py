"""``arrears webhooks add|list|remove|deliver|log``: outbound webhooks (docs/web.md, "Outbound
webhooks"), each one use case of ``arrears.services.outreach.webhooks``. Schedule ``arrears webhooks
deliver`` (cron, a systemd timer) as often as clients should hear of events: it sends what
happened since its last run and retries what failed when its time comes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import Format, FormatOpt, console, emit
from arrears.services.outreach import webhooks
from arrears.services.uow import SqlUnitOfWork
from arrears.webhooks.events import NAMES

webhooks_app = typer.Typer(
    help="Outbound webhooks: signed events (payment recorded, promise broken, case stage "
    "changed, dispute opened...) sent to your URLs, retried, logged.",
    no_args_is_help=True,
)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@webhooks_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name: lowercase letters, digits, . _ -")],
    url: Annotated[str, typer.Argument(help="The http(s) URL that receives the events.")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", help=f"An event to send (repeat; default all): {', '.join(NAMES)}."
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(help="The signing secret (default: a new one, printed once)."),
    ] = None,
    portfolio: Portfolio = None,
) -> None:
    """Send the events of what happens from now on to URL, signed with the endpoint's secret."""
    ws = workspace(ctx)
    found, key = webhooks.add_endpoint(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        name=name, url=url, event_names=event, at=_now(), secret=secret,
    )  # fmt: skip
    console.print(
        f"webhook {found.name} added: {len(found.events)} events to {found.url}",
        highlight=False,
        markup=False,
    )
    if secret is None:
        console.print("its signing secret, shown this once:", highlight=False, markup=False)
        console.print(key, highlight=False, markup=False, soft_wrap=True)


@webhooks_app.command("list")
def list_(ctx: typer.Context, portfolio: Portfolio = None, fmt: FormatOpt = Format.TABLE) -> None:
    """The endpoints, their events and their deliveries by state."""
    ws = workspace(ctx)
    found = webhooks.list_endpoints(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio")
    )
    if not found and fmt is Format.TABLE:
        console.print("no webhooks yet: arrears webhooks add NAME URL")
        return
    frame = pl.DataFrame(
        {
            "webhook": [e.name for e in found],
            "url": [e.url for e in found],
            "events": [" ".join(e.events) for e in found],
            "pending": [e.pending for e in found],
            "delivered": [e.delivered for e in found],
            "failed": [e.failed for e in found],
            "added": [_stamp(e.created_at) for e in found],
        },
        schema={"webhook": pl.String, "url": pl.String, "events": pl.String,
                "pending": pl.Int64, "delivered": pl.Int64, "failed": pl.Int64,
                "added": pl.String},
    )  # fmt: skip
    emit(frame, fmt, title="Webhooks", key=("webhook",), wrap=("events", "url"))


@webhooks_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The webhook's name.")],
    portfolio: Portfolio = None,
) -> None:
    """Stop sending to an endpoint (its delivery log stays)."""
    ws = workspace(ctx)
    webhooks.remove_endpoint(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        name=name, at=_now(),
    )  # fmt: skip
    console.print(f"webhook {name.strip()} removed", highlight=False, markup=False)


@webhooks_app.command("deliver")
def deliver(
    ctx: typer.Context,
    portfolio: Portfolio = None,
    retry_now: Annotated[
        bool,
        typer.Option("--retry-now", help="Also retry now what waits for a later retry."),
    ] = False,
) -> None:
    """Turn what happened since the last run into events, send what is due, then exit."""
    ws = workspace(ctx)
    done = webhooks.deliver(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        clock=_now, every_pending=retry_now,
    )  # fmt: skip
    console.print(
        f"{done.collected} new events; {done.delivered} delivered, {done.retrying} to retry, "
        f"{done.failed} failed",
        highlight=False,
        markup=False,
    )


@webhooks_app.command("log")
def log(
    ctx: typer.Context,
    endpoint: Annotated[str | None, typer.Option("--webhook", help="One webhook's only.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="How many attempts.")] = 50,
    portfolio: Portfolio = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """The delivery log: every attempt, newest first, with the answer and what comes next."""
    ws = workspace(ctx)
    found = webhooks.delivery_log(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        endpoint=endpoint, limit=limit,
    )  # fmt: skip
    frame = pl.DataFrame(
        {
            "at": [_stamp(a.attempted_at) for a in found],
            "webhook": [a.endpoint for a in found],
            "delivery": [a.delivery for a in found],
            "event": [a.event for a in found],
            "record": [a.record_id for a in found],
            "attempt": [a.attempt for a in found],
            "status": [a.status for a in found],
            "state": [a.state for a in found],
            "next": [_stamp(a.next_attempt_at) for a in found],
            "error": [a.error or "" for a in found],
        },
        schema={"at": pl.String, "webhook": pl.String, "delivery": pl.Int64,
                "event": pl.String, "record": pl.Int64, "attempt": pl.Int64,
                "status": pl.Int64, "state": pl.String, "next": pl.String, "error": pl.String},
    )  # fmt: skip
    emit(frame, fmt, title="Webhook deliveries", key=("delivery", "attempt"), wrap=("error",))


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")
