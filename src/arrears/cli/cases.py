"""``arrears promise``, ``hold``, ``contact``, ``approve``, ``worklist`` and ``task``.

What a collector records by hand between cycle runs, each one use case of
``arrears.services.casework.collection`` (one transaction with its activity record, naming
``cli:USER``),
and the worklist of open call tasks the cycle created. Dates are ISO 8601 (default: today);
amounts are read as ``Decimal``; a bad value is one line on stderr and exit status 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import polars as pl
import typer

from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.ledger import parse_amount, parse_date
from arrears.cli.output import Format, FormatOpt, Wide, amount_text, console, emit
from arrears.domain.money import from_minor
from arrears.services.casework import collection
from arrears.services.ports import PromiseView
from arrears.services.uow import SqlUnitOfWork

promise_app = typer.Typer(
    help="Promises to pay: record one, cancel one, list them with their outcome.",
    no_args_is_help=True,
)
hold_app = typer.Typer(help="Holds: pause collecting from a debtor.", no_args_is_help=True)
contact_app = typer.Typer(help="Contact attempts made by hand.", no_args_is_help=True)
task_app = typer.Typer(
    help="Collectors' tasks: mark one done, assign one to a collector.", no_args_is_help=True
)

Portfolio = Annotated[
    str | None, typer.Option(help="Portfolio code (default: the workspace's portfolio).")
]
On = Annotated[str | None, typer.Option("--on", help="Day it happened (YYYY-MM-DD; today).")]


def _day(ctx: typer.Context, text: str | None, option: str) -> date:
    return workspace_today(ctx) if text is None else parse_date(text, option)


def _now() -> datetime:
    return datetime.now(UTC)


@promise_app.command("add")
def promise_add(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    amount: Annotated[
        str | None, typer.Argument(help="Amount promised by --due, e.g. 250.00.")
    ] = None,
    due: Annotated[
        str | None, typer.Option("--due", help="Day AMOUNT is promised by (YYYY-MM-DD).")
    ] = None,
    pay: Annotated[
        list[str] | None,
        typer.Option(
            "--pay",
            metavar="YYYY-MM-DD=AMOUNT",
            help="One of several dated amounts (repeat it: --pay 2027-01-10=100 "
            "--pay 2027-01-24=150); with AMOUNT --due, that is one more.",
        ),
    ] = None,
    on: On = None,
    grace: Annotated[int, typer.Option(help="Days of grace after the (last) due day.")] = 0,
    currency: Annotated[
        str | None, typer.Option(help="ISO 4217 currency (default: the debtor's).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="What was said.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Record a debtor's promise to pay an amount by a day, or several dated amounts (the case
    pauses until the last day plus grace; the promise is then kept, partly kept or broken)."""
    from arrears.cli.app import UserError

    ws = workspace(ctx)
    if amount is not None and due is None:
        raise UserError("AMOUNT needs --due YYYY-MM-DD (or give dated amounts with --pay)")
    if due is not None and amount is None:
        raise UserError("--due needs AMOUNT (or give dated amounts with --pay)")
    if amount is None and not pay:
        raise UserError("say AMOUNT --due YYYY-MM-DD, or --pay YYYY-MM-DD=AMOUNT (repeated)")
    dated = []
    for part in pay or []:
        day, sep, value = part.partition("=")
        if not sep:
            raise UserError(f"--pay {part!r}: write YYYY-MM-DD=AMOUNT, e.g. 2027-01-10=100.00")
        dated.append((parse_date(day.strip(), "--pay"), parse_amount(value.strip(), "--pay")))
    added = collection.add_promise(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        amount=None if amount is None else parse_amount(amount, "AMOUNT"),
        due_on=None if due is None else parse_date(due, "--due"),
        amounts=dated,
        currency=currency,
        made_on=_day(ctx, on, "--on"),
        grace_days=grace,
        note=note,
        at=_now(),
    )
    code = added.amount.currency
    console.print(f"promise {added.promise_id}: {debtor} to pay {added.amount.amount} {code} "
                  f"by {added.due_on}", highlight=False)  # fmt: skip
    if len(added.schedule) > 1:
        for when, money in added.schedule:
            console.print(f"  {when}  {money.amount} {code}", highlight=False)


@promise_app.command("list")
def promise_list(
    ctx: typer.Context,
    debtor: Annotated[str | None, typer.Option(help="Only this debtor's promises.")] = None,
    fmt: FormatOpt = Format.TABLE,
    portfolio: Portfolio = None,
    wide: Wide = False,
) -> None:
    """Promises, newest first, with their outcome once the cycle has found it (the day after
    the last date plus grace): kept, partial (with the share kept) or broken; a promise of
    several dated amounts lists them."""
    ws = workspace(ctx)
    views = collection.list_promises(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
    )
    locale = ws.get("locale")

    def money(minor: int | None, code: str) -> str | None:
        return None if minor is None else amount_text(from_minor(minor, code), code, locale)

    def outcome(view: PromiseView) -> str:
        if view.status == "cancelled":
            return "cancelled"
        if view.outcome is None:
            return "open"
        if view.outcome == "partial":
            share = collection.kept_share(view)
            return f"partial ({int((share or 0) * 100)} %)"
        return view.outcome

    def amounts(view: PromiseView) -> str | None:
        """A promise of several dated amounts: each one (``due`` is the last date)."""
        if len(view.schedule) < 2:
            return None
        return "; ".join(f"{d} {money(m, view.currency)}" for d, m in view.schedule)

    frame = pl.DataFrame(
        {
            "promise": [v.promise_id for v in views],
            "debtor": [v.debtor for v in views],
            "amount": [f"{money(v.amount_minor, v.currency)} {v.currency}" for v in views],
            "made": [v.made_on for v in views],
            "due": [v.due_on for v in views],
            "amounts": [amounts(v) for v in views],
            "grace": [v.grace_days for v in views],
            "outcome": [outcome(v) for v in views],
            "paid": [money(v.kept_minor, v.currency) for v in views],
            "found": [v.outcome_on for v in views],
        },
        schema={
            "promise": pl.Int64(),
            "debtor": pl.String(),
            "amount": pl.String(),
            "made": pl.Date(),
            "due": pl.Date(),
            "amounts": pl.String(),
            "grace": pl.Int64(),
            "outcome": pl.String(),
            "paid": pl.String(),
            "found": pl.Date(),
        },
    )
    if fmt is Format.TABLE and frame["amounts"].is_null().all():
        frame = frame.drop("amounts")  # no promise of several amounts: no column for them
    emit(
        frame,
        fmt,
        title="promises",
        right=("amount", "paid"),
        key=("promise", "debtor"),
        optional=("paid", "found", "grace", "amounts"),
        wrap=("amounts",),
        wide=wide,
    )


@promise_app.command("cancel")
def promise_cancel(
    ctx: typer.Context,
    promise_id: Annotated[int, typer.Argument(metavar="ID", help="The promise's id.")],
    on: On = None,
) -> None:
    """Cancel a promise (it no longer pauses the collection)."""
    ws = workspace(ctx)
    day = _day(ctx, on, "--on")
    done = collection.cancel_promise(
        SqlUnitOfWork(store(ws)), cli_actor(), promise_id, on=day, at=_now()
    )
    word = "cancelled" if done.changed else "was already cancelled; nothing changed"
    console.print(f"promise {promise_id} {word}")


@hold_app.command("add")
def hold_add(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    until: Annotated[str, typer.Option("--until", help="Day the hold ends (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option("--reason", help="Why collection is held.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Day the hold starts (YYYY-MM-DD; today).")
    ] = None,
    portfolio: Portfolio = None,
) -> None:
    """Hold the collection of a debtor from a day until another (the cycle pauses it)."""
    ws = workspace(ctx)
    starts_on = _day(ctx, from_, "--from")
    ends_on = parse_date(until, "--until")
    added = collection.add_hold(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        at=_now(),
    )
    console.print(
        f"hold {added.hold_id}: {debtor} from {starts_on} until {ends_on}", highlight=False
    )


@hold_app.command("release")
def hold_release(
    ctx: typer.Context,
    hold_id: Annotated[int, typer.Argument(metavar="ID", help="The hold's id.")],
    on: On = None,
) -> None:
    """End a hold early."""
    ws = workspace(ctx)
    day = _day(ctx, on, "--on")
    done = collection.release_hold(
        SqlUnitOfWork(store(ws)), cli_actor(), hold_id, on=day, at=_now()
    )
    console.print(f"hold {hold_id} {'released' if done.changed else 'was already released'}")


@contact_app.command("add")
def contact_add(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    channel: Annotated[str, typer.Option(help=f"One of {', '.join(collection.CHANNELS)}.")],
    outcome: Annotated[
        str,
        typer.Option(
            help="A call's: right_party, no_answer, wrong_number, refused or promise (closes the "
            "debtor's open call task; no_answer leaves it open until tomorrow); else free text "
            "(reached, left_message...)."
        ),
    ],
    on: On = None,
    at: Annotated[
        str | None,
        typer.Option(
            help="When, as YYYY-MM-DD HH:MM in the workspace's time zone, or ISO 8601 with an "
            "offset (default: now; with only --on, noon that day).",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="What happened.")] = None,
    portfolio: Portfolio = None,
) -> None:
    """Log a contact attempt made by hand (the cycle and the compliance report count it)."""
    from zoneinfo import ZoneInfo

    from arrears.cli.app import UserError

    ws = workspace(ctx)
    zone = ZoneInfo(ws.get("timezone"))
    when = _now()
    if at is not None:
        try:
            parsed = datetime.fromisoformat(at.strip())
        except ValueError:
            raise UserError(
                f"--at {at!r} is not a time; write YYYY-MM-DD HH:MM (or ISO 8601 with an offset)"
            ) from None
        when = (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(UTC)
    elif on is not None:
        when = datetime.combine(_day(ctx, on, "--on"), time(12), tzinfo=zone).astimezone(UTC)
    day = when.astimezone(zone).date() if on is None else _day(ctx, on, "--on")
    logged = collection.log_contact(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        channel=channel.strip().lower(),
        outcome=outcome,
        on=day,
        note=note,
        at=when,
    )
    console.print(f"contact with {debtor} by {channel} on {day}: {outcome}", highlight=False)
    for task_id in logged.closed:
        console.print(f"task {task_id} done: {collection.CALL_OUTCOMES[logged.outcome]}")
    for task_id in logged.rescheduled:
        console.print(f"task {task_id} stays open: call again from {day + timedelta(days=1)}")


def approve(
    ctx: typer.Context,
    debtor: Annotated[str, typer.Argument(help="Debtor's external id.")],
    stage: Annotated[str, typer.Argument(help="The stage to approve entering.")],
    currency: Annotated[
        str | None, typer.Option(help="The case's currency (default: the debtor's).")
    ] = None,
    on: On = None,
    portfolio: Portfolio = None,
) -> None:
    """Approve a debtor's open case entering a stage that needs a person's approval."""
    ws = workspace(ctx)
    approved = collection.approve_stage(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        debtor=debtor,
        currency=currency,
        stage=stage,
        on=_day(ctx, on, "--on"),
        at=_now(),
    )
    if approved.changed:
        console.print(f"{debtor}: entering {stage!r} approved", highlight=False)
    else:
        console.print(f"{debtor}: {stage!r} was already approved; nothing changed")


def worklist(
    ctx: typer.Context,
    collector: Annotated[
        str | None, typer.Option(help="Only this collector's tasks (and unassigned ones).")
    ] = None,
    mine: Annotated[
        bool, typer.Option("--mine", help="Only the tasks assigned to me (my user name).")
    ] = False,
    assignee: Annotated[
        str | None, typer.Option(help="Only the tasks assigned to this collector.")
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many tasks, best first.")] = 50,
    fmt: FormatOpt = Format.TABLE,
    portfolio: Portfolio = None,
    wide: Wide = False,
) -> None:
    """Open call tasks, best first: score, then task priority, then the oldest."""
    from arrears.cli.app import UserError

    ws = workspace(ctx)
    if mine and assignee is not None:
        raise UserError("--mine and --assignee: choose one")
    me = cli_actor()
    frame = collection.worklist(
        SqlUnitOfWork(store(ws)),
        me,
        portfolio=portfolio or ws.get("portfolio"),
        collector=collector,
        top=top,
        assignee=collection.collector_name(me) if mine else assignee,
    )
    if fmt is Format.TABLE:  # what a collector reads, in 80 columns, amounts in the locale
        locale = ws.get("locale")
        shown = [
            "" if m is None else amount_text(from_minor(int(m), c), c, locale) + f" {c}"
            for m, c in zip(frame["overdue_minor"], frame["currency"], strict=True)
        ]
        frame = frame.with_columns(pl.Series("overdue", shown, dtype=pl.String()))
        keep = ["task_id", "debtor", "name", "stage", "overdue", "score", "step_id"]
        frame = frame.with_columns(pl.col("flags").str.strip_chars().replace("", None))
        # the assignee once any task listed has one (a team that assigns none sees no column)
        keep += [c for c in ("flags", "queue", "collector") if frame[c].is_not_null().any()]
        frame = frame.select(keep).with_columns(pl.col("score").round(0).cast(pl.Int64))
        frame = frame.rename(
            {"task_id": "task", "score": "priority", "step_id": "step", "collector": "assignee"},
            strict=False,
        )
    else:
        frame = frame.select(
            "task_id", "score", "task_priority", "created_on", "debtor", "name", "stage",
            "overdue", "queue", "collector", "step_id", "flags", "not_before",
        )  # fmt: skip
    emit(
        frame,
        fmt,
        title="worklist",
        right=("overdue", "priority"),
        key=("task", "debtor"),
        wrap=("name", "flags"),
        optional=("step", "queue", "assignee", "name"),
        wide=wide,
    )


@task_app.command("done")
def task_done(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", help="The task's id.")],
    note: Annotated[str | None, typer.Option(help="The outcome.")] = None,
    on: On = None,
) -> None:
    """Mark a task done."""
    ws = workspace(ctx)
    day = _day(ctx, on, "--on")
    done = collection.close_task(
        SqlUnitOfWork(store(ws)), cli_actor(), task_id, note=note, on=day, at=_now()
    )
    word = "done" if done.changed else "was already closed; nothing changed"
    console.print(f"task {task_id} {word}")


@task_app.command("assign")
def task_assign(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", help="The task's id.")],
    to: Annotated[
        str | None, typer.Option("--to", help="The collector's name (their user name).")
    ] = None,
    nobody: Annotated[bool, typer.Option("--nobody", help="Unassign it.")] = False,
    on: On = None,
) -> None:
    """Assign a task to a collector (`arrears worklist --mine` is theirs)."""
    from arrears.cli.app import UserError

    if (to is None) == (not nobody):
        raise UserError("say --to NAME, or --nobody")
    ws = workspace(ctx)
    done = collection.assign_task(
        SqlUnitOfWork(store(ws)), cli_actor(), task_id, to=to, on=_day(ctx, on, "--on"), at=_now()
    )
    who = done.collector or "nobody"
    word = f"assigned to {who}" if done.changed else f"was assigned to {who}; nothing changed"
    console.print(f"task {task_id} {word}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(promise_app, name="promise")
    app.add_typer(hold_app, name="hold")
    app.add_typer(contact_app, name="contact")
    app.command("approve")(approve)
    app.command("worklist")(worklist)
    app.add_typer(task_app, name="task")
