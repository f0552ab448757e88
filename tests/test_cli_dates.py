"""One date vocabulary across the commands (docs/development.md, "Conventions").

``--on`` the day something happens, ``--as-of`` the day a report or the cycle is computed for,
``--from``/``--to`` a period (both days included), ``--until`` the day something stops, ``--due``
the day a promise falls due, ``--at`` a moment. Renamed options keep their old name, hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from arrears.cli.app import app, main
from arrears.store.database import connect
from test_ledger_support import Book

VOCABULARY = {"--on", "--as-of", "--from", "--to", "--until", "--due", "--at"}
#: Options whose help speaks of days or times without taking one.
NOT_A_DAY = {"--timezone", "--grace", "--date-format", "--profile", "--timing"}
#: Old name -> new name, per command; the old names work for a release, hidden from --help.
RENAMED = {
    ("payment", "add"): ("--date", "--on"),
    ("credit-note", "add"): ("--date", "--on"),
    ("generate",): ("--end", "--as-of"),
}


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command of the CLI (Typer's own Click objects) with its name."""
    yield " ".join(("arrears", *path)), command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def date_options() -> list[tuple[str, list[str]]]:
    """The options whose help speaks of a day, a date or a time."""
    words = re.compile(r"\b(day|date|time|when)\b|YYYY-MM-DD", re.IGNORECASE)
    return [
        (name, param.opts)
        for name, command in commands(typer.main.get_command(app))
        for param in command.params
        if param.param_type_name == "option"
        and not param.hidden
        and not param.is_flag
        and words.search(param.help or "")
    ]


def test_every_date_option_speaks_the_vocabulary() -> None:
    found = date_options()
    assert len(found) > 20  # the check sees the commands' options
    odd = [
        f"{name} {'/'.join(opts)}"
        for name, opts in found
        if not set(opts) <= VOCABULARY | NOT_A_DAY
    ]
    assert odd == []


@pytest.mark.parametrize("path", list(RENAMED))
def test_help_shows_the_new_name_only(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = RENAMED[path]
    assert main([*path, "--help"]) == 0
    shown = capsys.readouterr().out
    assert new in shown and old not in shown


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        book.debtor("D1")
        book.invoice("I1", "D1", ("2026-01-31", "60.00"))
    engine.dispose()
    capsys.readouterr()
    return root


@pytest.mark.parametrize("name", ["--on", "--date"])
def test_payment_and_credit_note_take_on_and_still_date(
    ws: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    money = ["--amount", "10.00", "--currency", "USD"]
    pay = ["payment", "add", "--debtor", "D1", "--id", f"P{name}", name, "2026-02-01", *money]
    assert main(["-w", str(ws), *pay]) == 0
    printed = capsys.readouterr()
    assert "applied to I1/1 10.00" in printed.out
    assert ("--date is now --on" in printed.err) is (name == "--date")
    note = ["credit-note", "add", "--debtor", "D1", "--id", f"C{name}", f"{name}=2026-02-02"]
    assert main(["-w", str(ws), *note, *money]) == 0
    assert "credit note" in capsys.readouterr().out
    assert main(["-w", str(ws), "activity", "--format", "csv"]) == 0
    assert "2026-02-01" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["--as-of", "--end"])
def test_generate_takes_as_of_and_still_end(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", str(tmp_path / "data"), "--debtors", "20", "--months", "2", "--json"]
    assert main([*args, name, "2026-01-31"]) == 0
    assert '"debtors": 20' in capsys.readouterr().out
    assert main([*args, name, "2026-02-30"]) == 1
    assert "--as-of '2026-02-30' is not a date" in capsys.readouterr().err
