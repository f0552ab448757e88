"""Problems in user input are data: each says where (file, row, column or line) and what to do.

Every loader returns its problems all at once instead of stopping at the first; the CLI prints them
as ``file:row:column: message`` and exits with status 1. A problem is one line whatever its text
quotes: line breaks, escape sequences and other invisible characters of a user's cell are written
escaped (``'U\\r\\nS'``), so that a cell cannot forge a line of the report or repaint the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from arrears.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    source: str
    row: int | None
    column: str | None
    message: str

    @property
    def where(self) -> str:
        """``file:row:column``, as much of it as is known (not yet made printable)."""
        where = self.source
        if self.row is not None:
            where += f":{self.row}"
        if self.column:
            where += f":{self.column}"
        return where

    def __str__(self) -> str:
        return printable(f"{self.where}: {self.message}")


def printable(text: str) -> str:
    """``text`` with every non-printable character (line breaks, tabs, escapes, bidirectional
    controls, non-breaking spaces) written as its Python escape: ``\\n``, ``\\x1b``, ``\\u202e``."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


class ProblemsFound(InvalidInput):
    """Raised at a use case's boundary when user input has problems; carries all of them (the
    command line prints one line each, the web answers one item each)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")

    @classmethod
    def of(cls, source: str, *messages: str) -> ProblemsFound:
        """The problems ``messages`` of one ``source`` that has no row or column (a request)."""
        return cls([Problem(source, None, None, m) for m in messages])
