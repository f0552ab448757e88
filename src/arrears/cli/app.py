"""The ``arrears`` application: global options, command registration, and error handling.

Exit codes: 0 success, 1 a problem with the user's input or environment (any
:class:`arrears.domain.errors.ArrearsError`, printed as one line per problem, never a traceback),
2 a usage error (unknown option, missing argument).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.output import error
from arrears.domain.errors import ArrearsError, InvalidInput

app = typer.Typer(
    name="arrears",
    help="arrears: recover overdue receivables. Ledger, aging, collection strategy as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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


@app.callback()
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


for _name in COMMAND_MODULES:
    importlib.import_module(f"arrears.cli.{_name}").register(app)


class UserError(InvalidInput):
    """An error the user can fix; printed as one line, exit status 1."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: usage errors exit 2 (Click), user errors exit 1."""
    from arrears.domain.problems import ProblemsFound

    try:
        app(args=argv, prog_name="arrears")
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
