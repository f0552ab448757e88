"""What a command imports when it starts (issue 19: four ``arrears dispatch`` workers each paid
about 2 s of CPU for the imports of every command). Each check runs the command line in a fresh
interpreter and reads its ``sys.modules``: an eager import of a heavy library that creeps back
fails here, not only in the dispatch benchmark."""

from __future__ import annotations

import json
import subprocess
import sys

import typer

from arrears.cli import app as cli

HEAVY = ("sklearn", "fpdf", "openpyxl", "lightgbm")


def imported_by(*argv: str) -> set[str]:
    """The modules loaded by ``arrears ARGV`` run through the console script's entry point."""
    code = (
        "import json, sys\n"
        "from arrears.cli.app import main\n"
        f"code = main({list(argv)!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_lists_every_command_without_the_heavy_libraries() -> None:
    modules = imported_by("--help")
    assert {m.split(".")[0] for m in modules} & set(HEAVY) == set()
    # the whole application: every command module is there, so the help is complete
    assert {f"arrears.cli.{m}" for m in cli.COMMAND_MODULES} <= modules


def test_a_command_imports_its_own_module_only() -> None:
    modules = imported_by("-w", "/nonexistent", "dispatch", "--help")
    others = {f"arrears.cli.{m}" for m in cli.COMMAND_MODULES} - {"arrears.cli.dispatch"}
    assert others & modules == set()
    assert "arrears.cli.dispatch" in modules
    # the use cases are imported when the command runs, not for its help
    assert {
        "arrears.services.outreach.dispatch",
        "arrears.services.cycle",
        "sqlalchemy",
    } & modules == set()
    assert {m.split(".")[0] for m in modules} & set(HEAVY) == set()


def test_the_index_of_commands_is_what_the_modules_register() -> None:
    """``COMMANDS`` (command -> module, read by ``main`` to import one module) is exactly the
    commands each module registers: a command moved or added without it would still run,
    through the whole application, but slowly."""
    registered: dict[str, str] = {}
    for module in cli.COMMAND_MODULES:
        group = typer.main.get_group(cli.build((module,)))
        registered.update(dict.fromkeys(group.commands, module))
    assert registered == cli.COMMANDS


def test_the_command_found_in_the_arguments() -> None:
    assert cli.command_of(["-w", "dispatch", "run", "--as-of", "x"]) == "run"
    assert cli.command_of(["--workspace", "/w", "dispatch"]) == "dispatch"
    assert cli.command_of(["--workspace=/w", "kpi", "dso"]) == "kpi"
    assert cli.command_of(["--help"]) is None
    assert cli.command_of([]) is None
