"""The core imports no database, web, network or CLI library.

The contract itself is in pyproject.toml ([tool.importlinter]).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_core_never_reads_the_clock() -> None:
    offenders = []
    core = [
        ROOT / "src/arrears" / name
        for name in ("domain", "kpi", "policy", "cycle", "contact", "scoring")
    ]
    for path in (p for folder in core for p in folder.rglob("*.py")):
        text = path.read_text()
        for needle in ("date.today(", "datetime.now(", "datetime.utcnow(", "time.time("):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []
