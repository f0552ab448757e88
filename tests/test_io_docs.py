"""docs/io.md's column catalogue is the one in ``arrears.domain.columns``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from arrears.domain.columns import COLUMNS

DOC = Path(__file__).parents[1] / "docs" / "io.md"
MARKERS = re.compile(r"(<!-- columns:start -->\n).*?(<!-- columns:end -->)", re.S)


def catalogue() -> str:
    lines: list[str] = []
    for kind, columns in COLUMNS.items():
        lines += [
            f"### {kind.value}",
            "",
            "| column | type | required | default | aliases | meaning |",
        ]
        lines.append("|---|---|---|---|---|---|")
        for c in columns:
            typed = f"{c.type.value} ({', '.join(c.choices)})" if c.choices else c.type.value
            field = f" -> `{c.field}`" if c.field != c.name else ""
            lines.append(
                f"| `{c.name}`{field} | {typed} | {'yes' if c.required else ''} | "
                f"{c.default or ''} | {', '.join(c.aliases)} | {c.doc} |"
            )
        lines.append("")
    return "\n".join(lines)


def test_the_column_catalogue_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    if os.environ.get("ARREARS_UPDATE_GOLDEN"):
        text = MARKERS.sub(lambda m: m[1] + catalogue() + m[2], text)
        DOC.write_text(text, encoding="utf-8")
    match = MARKERS.search(text)
    assert match is not None
    assert match[0] == f"<!-- columns:start -->\n{catalogue()}<!-- columns:end -->"
