"""The core imports no database, web, network or CLI library, and the packages import each other
only downwards.

The contracts themselves are in pyproject.toml ([tool.importlinter]); the checks of the layers
below hold whatever those contracts say.
"""

import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_layers_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[1-9]\d* kept, 0 broken", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        # The column catalogue is the domain's: the store loads what io reads, never io itself.
        ("arrears.store", "arrears.io"),
        # The policy names templates; the channels render them and are given to the check.
        ("arrears.policy", "arrears.channels"),
    ],
)
def test_a_lower_package_never_imports_an_upper_one(lower: str, upper: str) -> None:
    """No chain of imports (direct, indirect, inside a function or under TYPE_CHECKING) leads
    from ``lower`` to ``upper``."""
    graph = grimp.build_graph("arrears", cache_dir=None)
    chains = graph.find_shortest_chains(importer=lower, imported=upper, as_packages=True)
    assert sorted(" -> ".join(chain) for chain in chains) == []


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
