"""The ``arrears`` application: global options, command registration, and error handling.

Exit codes: 0 success, 1 a problem with the user's input or environment (any
:class:`arrears.domain.errors.ArrearsError`, printed as one line per problem, never a traceback),
2 a usage error (unknown option, missing argument).
"""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.output import error
from arrears.domain.errors import ArrearsError, InvalidInput

#: Command modules; each defines ``register(app)``.
COMMAND_MODULES: tuple[str, ...] = (
    "workspace",
    "policy",
    "generate",
    "aging",
    "kpi",
    "report",
    "forecast",
    "exporting",
    "importing",
    "ledger",
    "write_offs",
    "disputes",
    "agencies",
    "cases",
    "agreements",
    "cycle",
    "compliance",
    "dispatch",
    "demo",
    "model",
    "web",
    "users",
    "tokens",
    "webhooks",
)


#: The top-level commands each command module registers (tests/test_cli_startup.py checks this
#: against the modules): ``arrears <command>`` imports that one module, not all of them, so a
#: command (four ``arrears dispatch`` workers, ``arrears worker``) does not pay for the imports
#: of the others (Polars' and scikit-learn's models, fpdf2, openpyxl...). A command missing
#: here still works, through the whole application.
COMMANDS: dict[str, str] = {
    command: module
    for module, commands in {
        "workspace": ("config", "db", "init", "portfolio"),
        "policy": ("policy",),
        "generate": ("generate",),
        "aging": ("aging",),
        "kpi": ("experiment", "kpi"),
        "report": ("report",),
        "forecast": ("forecast",),
        "exporting": ("export",),
        "importing": ("import",),
        "ledger": ("activity", "credit-note", "ledger", "payment"),
        "write_offs": ("write-off",),
        "disputes": ("dispute",),
        "agencies": ("agency",),
        "cases": ("approve", "contact", "hold", "promise", "task", "worklist"),
        "agreements": ("offer", "payment-plan", "settlement"),
        "cycle": ("approve-waiting", "explain", "plan", "run"),
        "compliance": ("call", "compliance"),
        "dispatch": ("dispatch", "inbound", "opt-out", "template", "worker"),
        "demo": ("demo",),
        "model": ("model",),
        "web": ("serve",),
        "users": ("user",),
        "tokens": ("token",),
        "webhooks": ("webhooks",),
    }.items()
    for command in commands
}
#: The options of the root callback that take a value (``arrears -w DIR dispatch``).
_VALUED = ("-w", "--workspace")


def _root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder (default: $ARREARS_WORKSPACE or the current folder).",
            envvar="ARREARS_WORKSPACE",
            show_envvar=False,
        ),
    ] = None,
) -> None:
    ctx.obj = {"workspace": workspace}


def build(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    """The application with the commands of ``modules`` (default: all of them)."""
    built = typer.Typer(
        name="arrears",
        help="arrears: recover overdue receivables. Ledger, aging, collection strategy as code.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(_root)
    for name in modules:
        importlib.import_module(f"arrears.cli.{name}").register(built)
    return built


@functools.cache
def whole() -> typer.Typer:
    """The application with every command, built once (``arrears.cli.app.app``)."""
    return build()


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole application, its command modules imported on first use."""
    if name == "app":
        return whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word after the root's options), if any."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif word == "--":
            return next(words, None)
    return None


def app_for(argv: list[str]) -> typer.Typer:
    """The application that runs ``argv``: the named command's module alone when the index
    knows it (:data:`COMMANDS`), else every command (``--help``, a typo and its suggestion)."""
    module = COMMANDS.get(command_of(argv) or "")
    return whole() if module is None else build((module,))


class UserError(InvalidInput):
    """An error the user can fix; printed as one line, exit status 1."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: usage errors exit 2 (Click), user errors exit 1."""
    from arrears.domain.problems import ProblemsFound

    args = sys.argv[1:] if argv is None else argv
    try:
        app_for(args)(args=args, prog_name="arrears")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ArrearsError as exc:
        if isinstance(exc, ProblemsFound):
            for problem in exc.problems:
                error(str(problem))
        else:
            error(str(exc))
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
