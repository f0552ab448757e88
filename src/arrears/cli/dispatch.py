"""``arrears dispatch``, ``arrears worker``, ``arrears template render`` and ``template check``:
delivering the outbox and its templates (docs/channels.md)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from arrears import config
from arrears.cli.context import cli_actor, store, workspace
from arrears.cli.output import Format, Wide, console, emit, emit_json

if TYPE_CHECKING:
    from arrears.channels.dispatch import Report
    from arrears.contact.model import Pack
    from arrears.services.outreach.dispatch import Sending

template_app = typer.Typer(help="Message templates.", no_args_is_help=True)


Job = Callable[[], None]


def _roots(ws: config.Workspace) -> list[Path]:
    from arrears.channels.templates import shipped_root

    folder = Path(ws.get("channels.templates"))
    roots = [folder if folder.is_absolute() else ws.root / folder]
    shipped = shipped_root()
    if shipped is not None:
        roots.append(shipped)
    return [r for r in roots if r.is_dir()]


#: Tests only: an ISO time that freezes the clock the contact rules judge sending by (the
#: time a message "leaves"), for a command run in a subprocess. Leases keep the real clock.
TEST_CLOCK = "ARREARS_TEST_DISPATCH_NOW"


def now() -> datetime:
    """The time a message leaves: the real clock (tests: ``ARREARS_TEST_DISPATCH_NOW``)."""
    frozen = os.environ.get(TEST_CLOCK)
    if frozen:
        at = datetime.fromisoformat(frozen)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return datetime.now(UTC)


def _sending(
    ctx: typer.Context, portfolio: str | None, *, until: datetime | None = None
) -> tuple[config.Workspace, Sending]:
    from arrears.channels.base import ChannelSettings
    from arrears.channels.dispatch import Options
    from arrears.cli.app import UserError
    from arrears.services.cycle import PolicyProblems, load_compiled
    from arrears.services.outreach.dispatch import Sending

    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    try:
        compiled = load_compiled(ws.policy_for(code))
    except (PolicyProblems, FileNotFoundError) as exc:
        raise UserError(f"the contact rules come from the policy: {exc}") from None
    packs, pause = compiled.packs, compiled.policy.disputes.pause
    try:
        options = Options(
            batch_size=int(ws.get("dispatch.batch_size")),
            max_attempts=int(ws.get("dispatch.max_attempts")),
            backoff_seconds=float(ws.get("dispatch.backoff_seconds")),
            lease_seconds=float(ws.get("dispatch.lease_seconds")),
        )
    except ValueError as exc:
        raise UserError(f"a dispatch.* setting is not a number: {exc}") from None
    settings = ChannelSettings(ws.values, ws.root)
    sending = Sending(code, packs, settings, _roots(ws), options, clock=now, until=until)
    return ws, replace(sending, dispute_pause=pause)


def _where(ws: config.Workspace) -> None:
    from arrears.domain.ledger import SENT_CHANNELS

    used = {ws.get(f"channels.{c}") for c in SENT_CHANNELS}
    if used & {"file", "pdf"}:
        console.print(f"messages written to the file sink: {ws.get('channels.outbox_dir')}")


def dispatch(
    ctx: typer.Context,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Catch up a day (YYYY-MM-DD): send what was due by the end of it, with its "
            "days past due counted on that day. The contact rules judge each message at the "
            "time it leaves: what they do not allow now waits for the debtor's next allowed "
            "time.",
        ),
    ] = None,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            help="Output format: what was sent, and what was not and why, by rule (csv: one "
            "row per outcome and rule).",
        ),
    ] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Send the messages that are due (queued, send time passed), then exit; say what was not
    sent and why (held for later by a contact rule, blocked, failed), by rule."""
    cutoff: datetime | None = None
    day = _day(as_of) if as_of is not None else None
    if day is not None:
        # the end of that day anywhere on Earth (UTC-12)
        cutoff = datetime.combine(day + timedelta(days=1), dtime(12), tzinfo=UTC)
    ws, sending = _sending(ctx, portfolio, until=cutoff)
    from arrears.services.outreach import dispatch as services
    from arrears.services.uow import SqlUnitOfWork

    report = services.dispatch(SqlUnitOfWork(store(ws)), cli_actor(), replace(sending, today=day))
    _summary(report, fmt, wide=wide)
    if fmt is Format.TABLE:
        _where(ws)
    _webhooks(ws, sending.portfolio, say=fmt is Format.TABLE)()


def _webhooks(ws: config.Workspace, portfolio: str, *, say: bool, idle: bool = True) -> Job:
    """The delivery of the day's events to the workspace's webhooks (``arrears webhooks``), when
    it has any: what happened since the last delivery, signed, each due retry sent once. One
    store for every call (the worker calls it after each pass); ``say``: print the counts
    (``idle``: even when nothing happened)."""
    from arrears.services.outreach import webhooks
    from arrears.services.uow import SqlUnitOfWork

    uow = SqlUnitOfWork(store(ws))

    def deliver() -> None:
        if not webhooks.list_endpoints(uow, cli_actor(), portfolio=portfolio):
            return
        done = webhooks.deliver(uow, cli_actor(), portfolio=portfolio, clock=now)
        if say and (idle or done.collected or done.delivered or done.retrying or done.failed):
            console.print(
                f"webhooks: {done.collected} new events; {done.delivered} delivered, "
                f"{done.retrying} to retry, {done.failed} failed",
                highlight=False,
                markup=False,
            )

    return deliver


def _summary(report: Report, fmt: Format, *, wide: bool = False) -> None:
    """What ``dispatch`` did: the counts by outcome, then what it did not send and why."""
    import polars as pl

    not_sent = report.not_sent()
    schema = {
        "outcome": pl.String,
        "rule": pl.String,
        "why": pl.String,
        "messages": pl.Int64,
        "next": pl.String,
    }
    if fmt is Format.JSON:
        keys = ("sent", "deferred", "blocked", "retry", "fallback", "failed", "reconciled")
        emit_json({**{k: report.counts[k] for k in keys}, "not_sent": not_sent})
        return
    if fmt is Format.CSV:
        sent = [
            {
                "outcome": "sent",
                "rule": "",
                "why": "",
                "messages": report.counts["sent"],
                "next": "",
            }
        ]
        emit(pl.DataFrame(sent + not_sent, schema=schema), fmt)
        return
    console.print(f"dispatch: {report}")
    held = sum(row["messages"] for row in not_sent if row["outcome"] == "held")
    if not_sent:
        title = f"not sent: {held} held for later, {report.counts['blocked']} blocked, "
        title += f"{report.counts['failed']} failed"
        emit(pl.DataFrame(not_sent, schema=schema), fmt, title=title, wide=wide)


def _day(text: str) -> date:
    from arrears.cli.app import UserError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD") from None


def worker(
    ctx: typer.Context,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Count days past due on this day (YYYY-MM-DD), catching up a past day. The "
            "clock stays the real one: what is due, the leases, and the time the contact rules "
            "judge each message by (the time it leaves).",
        ),
    ] = None,
) -> None:
    """Keep sending due messages; stop cleanly on SIGTERM or Ctrl-C after the message in hand."""
    day = _day(as_of) if as_of is not None else None
    ws, sending = _sending(ctx, portfolio)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from arrears.services.outreach import dispatch as services
    from arrears.services.uow import SqlUnitOfWork

    services.work(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        replace(sending, today=day),
        poll_seconds=float(ws.get("dispatch.poll_seconds")),
        stopping=lambda: stopping,
        started=lambda worker: console.print(f"worker {worker} sending for {sending.portfolio}"),
        reported=lambda report: console.print(f"worker: {report}"),
        also=_webhooks(ws, sending.portfolio, say=True, idle=False),
    )
    console.print("worker stopped")


@template_app.command("render")
def template_render(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Template name (as in the policy).")],
    debtor_id: Annotated[str, typer.Option("--debtor", help="The debtor's id (external).")],
    channel: Annotated[str, typer.Option(help="email, sms, whatsapp or letter.")] = "email",
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
) -> None:
    """Preview a message for a debtor (subject, text and HTML), in the debtor's language (else
    the fallback, which it names), with the notices the debtor's contact-rule pack adds."""
    from arrears.channels.base import ChannelSettings

    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    from arrears.services.outreach import dispatch as services
    from arrears.services.uow import SqlUnitOfWork

    seen = services.preview(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, debtor_id=debtor_id,
        template=name, channel=channel, settings=ChannelSettings(ws.values, ws.root),
        template_roots=_roots(ws), packs=_packs(ws, code), today=ws.today(),
    )  # fmt: skip
    message = seen.message
    where = seen.folder / seen.template
    if seen.fallback:
        said = (
            f"template: {where} (language {seen.language}: no {seen.wanted!r} template "
            f"{name!r}; order: the debtor's language, the portfolio's, English)"
        )
    else:
        said = f"template: {where} (language {seen.language})"
    console.print(said, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"to: {message.to or '(no address)'}", markup=False, highlight=False, soft_wrap=True
    )
    if channel == "email":
        console.print(f"subject: {message.subject}", markup=False, highlight=False, soft_wrap=True)
    console.print("", message.text, sep="\n", markup=False, highlight=False, soft_wrap=True)
    if message.html:
        console.print(
            "",
            "--- html ---",
            message.html,
            sep="\n",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


#: ``template: NAME`` in a policy (block or flow style), for the place of a reference.
_TEMPLATE_REF = r"\btemplate:\s*['\"]?([A-Za-z0-9_\-]+)"


@template_app.command("check")
def template_check(
    ctx: typer.Context,
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", help="A language templates must have (repeatable)."),
    ] = None,
) -> None:
    """Check every template (the workspace's and the shipped ones): each renders in its
    language for a sample debtor, uses only the documented variables, and each template the
    portfolio's policy names exists in every language of the portfolio's debtors (and of
    --language). Every problem as file:line: message; exit 1 if any."""
    import re

    from arrears.channels.templates import (
        Need,
        check_all,
        template_languages,
        template_names,
    )
    from arrears.cli.output import error
    from arrears.domain.errors import ArrearsError

    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    roots = _roots(ws)
    policy = ws.policy_for(code)
    needs: list[Need] = []
    if policy.is_file():
        for i, line in enumerate(policy.read_text(encoding="utf-8").splitlines(), 1):
            needs += [Need(m, f"{policy}:{i}") for m in re.findall(_TEMPLATE_REF, line)]
    from arrears.services.outreach import dispatch as services
    from arrears.services.uow import SqlUnitOfWork

    try:
        spoken = services.debtor_languages(SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code)
    except ArrearsError:
        spoken = {}  # no store or no such portfolio yet: the portfolio's language only
    wanted = dict.fromkeys(
        [*(x.replace("-", "_") for x in spoken), ws.get("locale").split("_")[0], *(language or [])]
    )
    problems = check_all(roots, needs, [x for x in wanted if x])
    if policy.is_file():  # WhatsApp steps need an approved template (docs/channels.md)
        from arrears.channels.base import ChannelSettings
        from arrears.channels.whatsapp import check_policy

        problems += check_policy(policy, ChannelSettings(ws.values, ws.root))
    for problem in problems:
        error(problem)
    names = template_names(roots)
    speakers = ", ".join(f"{k} ({n})" for k, n in sorted(spoken.items())) or "none yet"
    console.print(
        f"templates: {len(names)} in {', '.join(template_languages(roots))}; "
        f"{len(dict.fromkeys(n.name for n in needs))} named by {policy.name}; "
        f"required in {', '.join(x for x in wanted if x)} (debtors by language: {speakers}): "
        + (f"{len(problems)} problems" if problems else "no problems"),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if problems:
        raise typer.Exit(1)


def _packs(ws: config.Workspace, code: str) -> dict[str, Pack]:
    """The contact-rule packs of the portfolio's policy; the shipped ones if it cannot load."""
    from arrears.contact.packs import shipped_packs
    from arrears.services.cycle import PolicyProblems, load_compiled

    try:
        return load_compiled(ws.policy_for(code)).packs
    except (PolicyProblems, FileNotFoundError):
        return shipped_packs()


def opt_out(
    ctx: typer.Context,
    link: Annotated[str, typer.Argument(help="The opt-out link a debtor followed.")],
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
) -> None:
    """Record an opt-out from a signed link (channels.secret verifies it)."""
    from urllib.parse import parse_qs, urlsplit

    from arrears.channels.base import verify_opt_out
    from arrears.cli.app import UserError
    from arrears.domain.ledger import SENT_CHANNELS
    from arrears.services.outreach import messages
    from arrears.services.uow import SqlUnitOfWork

    ws = workspace(ctx)
    if not ws.get("channels.secret"):
        raise UserError(
            "channels.secret is not set: no opt-out link can be verified (the empty key is "
            "known to everyone). Run `arrears init <workspace>` to write a random one, or set "
            "ARREARS_CHANNELS_SECRET to the key the links were signed with"
        )
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    debtor, channel, signature = query.get("d", ""), query.get("c", ""), query.get("s", "")
    if channel not in SENT_CHANNELS or not verify_opt_out(
        ws.get("channels.secret"), debtor, channel, signature
    ):
        raise UserError("not a valid opt-out link (wrong signature, debtor or channel)")
    done = messages.opt_out(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        channel=channel, at=datetime.now(UTC), source="opt-out link", debtor=debtor,
    )  # fmt: skip
    console.print(f"{debtor} opted out of {channel} ({done.changed} contact points changed)")


def inbound(
    ctx: typer.Context,
    sender: Annotated[str, typer.Option("--from", help="The number the reply came from.")],
    text: Annotated[str, typer.Option(help="The reply's text.")],
    channel: Annotated[str, typer.Option(help="sms or whatsapp.")] = "sms",
    portfolio: Annotated[str | None, typer.Option(help="Portfolio code.")] = None,
) -> None:
    """Record an inbound SMS/WhatsApp reply: STOP, BAJA and the like are opt-outs."""
    from arrears.channels.http import is_opt_out
    from arrears.cli.app import UserError
    from arrears.services.outreach import messages
    from arrears.services.uow import SqlUnitOfWork

    if channel not in ("sms", "whatsapp"):
        raise UserError("--channel is sms or whatsapp")
    if not is_opt_out(text):
        console.print("not an opt-out; nothing recorded")
        return
    ws = workspace(ctx)
    done = messages.opt_out(
        SqlUnitOfWork(store(ws)), cli_actor(), portfolio=portfolio or ws.get("portfolio"),
        channel=channel, at=datetime.now(UTC), source=f"inbound {channel} reply", number=sender,
    )  # fmt: skip
    console.print(f"{sender} opted out of {channel} ({done.changed} contact points changed)")


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)
    app.command("worker")(worker)
    app.add_typer(template_app, name="template")
    app.command("opt-out")(opt_out)
    app.command("inbound")(inbound)
