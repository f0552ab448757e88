"""The README's main command: `arrears demo` builds a workspace, imports a portfolio, ages it."""

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.cli.app import main
from arrears.cli.output import amount_text
from arrears.store.database import connect
from arrears.store.schema import activity, debtor, import_batch, instalment


def _counts(ws: Path) -> tuple[int, int, int]:
    with connect(f"sqlite:///{ws / 'arrears.db'}").connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(debtor)).scalar_one(),
            conn.execute(select(func.count()).select_from(instalment)).scalar_one(),
            conn.execute(select(func.count()).select_from(activity)).scalar_one(),
        )


def test_demo_runs_end_to_end_and_again_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "demo"
    args = ["demo", str(ws), "--debtors", "150", "--months", "6", "--as-of", "2026-11-23"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "$ arrears init" in out and "aging of default as of 2026-11-23" in out
    debtors, instalments, activities = _counts(ws)
    assert debtors == 150 and instalments > 150
    assert main(args) == 0
    assert "$ arrears init" not in capsys.readouterr().out  # the workspace is reused
    # Second run: three more import batches, each all unchanged; nothing else changed.
    assert _counts(ws) == (debtors, instalments, activities + 3)
    with connect(f"sqlite:///{ws / 'arrears.db'}").connect() as conn:
        last = conn.execute(select(import_batch).order_by(import_batch.c.id.desc()).limit(3))
        assert all(r.created == 0 and r.updated == 0 and r.unchanged > 0 for r in last)


def test_demo_rejects_a_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", str(tmp_path / "d"), "--as-of", "23/11/2026"]) == 1
    assert "is not a date; write it as YYYY-MM-DD" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("value", "currency", "locale", "text"),
    [
        ("1234567.5", "USD", "en_US", "1,234,567.50"),
        ("1234567.5", "COP", "es_CO", "1.234.567,50"),
        ("0", "EUR", "de_DE", "0,00"),
        ("1234", "JPY", "en_US", "1,234"),
    ],
)
def test_amounts_are_formatted_for_the_locale(
    value: str, currency: str, locale: str, text: str
) -> None:
    assert amount_text(Decimal(value), currency, locale) == text
