"""Problems in user input are data: each says where (file, row, column or line) and what to do.

Every loader returns its problems all at once instead of stopping at the first; the CLI prints them
as ``file:row:column: message`` and exits with status 1.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    source: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f":{self.row}"
        if self.column:
            where += f":{self.column}"
        return f"{where}: {self.message}"


class ProblemsFound(Exception):
    """Raised at a use case's boundary when user input has problems; carries all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")
