"""``arrears policy check`` and ``arrears policy schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from arrears import config
from arrears.cli.output import console, error
from arrears.policy.check import Templates
from arrears.policy.loading import load_policy
from arrears.policy.model import Policy

policy_app = typer.Typer(
    help="Collection policies: check them, print their schema.", no_args_is_help=True
)


def templates(policy: Path | None = None, ctx: typer.Context | None = None) -> Templates:
    """How a policy's templates are checked: by the channels that render them, in the folders
    beside the policy, then in the shipped ones; its WhatsApp steps against the approved
    templates of the policy's workspace (the folder holding the policy or its parent, else
    the command's workspace; none: not checked)."""
    from arrears.channels.templates import check_template, shipped_root

    found = Templates(check_template, shipped_root())
    ws = _workspace_of(policy, ctx) if policy is not None else None
    if ws is None:
        return found
    from dataclasses import replace
    from functools import partial

    from arrears.channels.base import ChannelSettings
    from arrears.channels.whatsapp import catalogue_problems

    check = partial(catalogue_problems, ChannelSettings(ws.values, ws.root))
    return replace(found, whatsapp=check)


def _workspace_of(policy: Path, ctx: typer.Context | None) -> config.Workspace | None:
    here = policy.resolve().parent
    for root in (here, here.parent):
        if (root / config.CONFIG_FILE).is_file():
            return config.load(root)
    if ctx is not None:
        from arrears.cli.context import workspace

        ws = workspace(ctx, must_exist=False)
        return ws if ws.exists else None
    return None


@policy_app.command("check")
def check(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Policy files (YAML).")],
) -> None:
    """Report every problem of each policy as file:line:column: message (exit 1 if any);
    in a workspace, its templates and the WhatsApp templates it approved too."""
    from arrears.io.headers import attribute_types
    from arrears.policy.features import attribute_features

    failed = False
    for path in files:
        ws = _workspace_of(path, ctx)  # its debtor attributes declared with a type
        declared = attribute_features(attribute_types(ws.columns.get("debtors", {}))) if ws else {}
        policy, problems = load_policy(path, templates(path, ctx), declared)
        for problem in problems:
            error(str(problem))
        if policy is not None:
            console.print(
                f"{path}: ok ({len(policy.stages)} stages, {len(policy.segments)} segments, "
                f"{sum(len(c.steps) for c in policy.cadences)} steps)"
            )
            _print_onboarding(policy)
            _print_rules_summary(policy)
        failed = failed or bool(problems)
    if failed:
        raise typer.Exit(1)


def _print_onboarding(policy: Policy) -> None:
    """Which stages a new case waits to enter (``onboarding``, docs/cycle.md: day one)."""
    from arrears.policy.onboarding import escalation_stages, waiting_stage

    stages = escalation_stages(policy)
    if not stages:
        console.print(
            "  onboarding: escalations proceed: a new case enters the stage it matches"
            if policy.onboarding.escalations == "proceed"
            else "  onboarding: no escalation stage (no placement or write-off step)"
        )
        return
    console.print(
        f"  onboarding: a new case matching {', '.join(stages)} waits for approval in "
        f"{waiting_stage(policy, stages[0])}",
        highlight=False,
    )


def _print_rules_summary(policy: Policy) -> None:
    """The effective contact rules in one line per pack (``policy rules`` prints them whole)."""
    from arrears.contact.packs import PackError, effective_packs

    try:
        packs = effective_packs(policy.contact_rules)
    except PackError:
        return  # reported above as a problem of the policy
    for name, pack in packs.items():
        spans: list[tuple[str, str, str]] = []  # consecutive days with the same hours
        for day, window in pack.hours.items():
            hours = f"{window.start:%H:%M}-{window.end:%H:%M}" if window else ""
            if spans and spans[-1][2] == hours:
                spans[-1] = (spans[-1][0], day, hours)
            else:
                spans.append((day, day, hours))
        open_days = ", ".join(
            (first if first == last else f"{first}-{last}") + f" {hours}"
            for first, last, hours in spans
            if hours
        )
        caps = ", ".join(f"{c.id} {c.max}/{c.days}d" for c in pack.caps) or "no caps"
        if pack.one_channel_per_week:
            caps += f", one channel a week ({pack.week})"
        mark = " (overridden)" if name in policy.contact_rules else ""
        console.print(
            f"  contact rules {name}{mark}: {open_days}; {caps}", highlight=False, markup=False
        )


@policy_app.command("rules")
def rules(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML).")],
    pack: Annotated[str | None, typer.Option(help="Only this pack.")] = None,
) -> None:
    """Print the effective contact rules of a policy: the shipped packs with its overrides."""
    import yaml

    from arrears.cli.app import UserError
    from arrears.contact.packs import PackError, effective_packs

    policy, problems = load_policy(file, templates())
    if policy is None:
        for problem in problems:
            error(str(problem))
        raise typer.Exit(1)
    try:
        packs = effective_packs(policy.contact_rules)
    except PackError as exc:
        raise UserError(str(exc)) from None
    if pack is not None and pack not in packs:
        raise UserError(f"--pack {pack!r}: no such pack; the packs are {', '.join(packs)}")
    shown = {
        name: value.model_dump(mode="json", exclude_none=True)
        for name, value in packs.items()
        if pack is None or name == pack
    }
    overridden = ", ".join(sorted(policy.contact_rules)) or "none"
    typer.echo(f"# effective contact rules of {file} (overridden packs: {overridden})")
    typer.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True), nl=False)


@policy_app.command("schema")
def schema() -> None:
    """Print the policy file's JSON Schema (for editor autocompletion)."""
    document = Policy.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "arrears collection policy"
    typer.echo(json.dumps(document, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
