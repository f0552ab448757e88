"""The README's main command: `arrears demo` builds a workspace, imports a portfolio, ages it,
runs the cycle and sends the day's messages, as a short tour (golden: tests/golden/demo.txt,
refreshed with ``ARREARS_UPDATE_GOLDEN=1 pytest tests/test_cli_demo.py``; review the diff)."""

import math
import os
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from arrears import config
from arrears.channels.base import debtor_token
from arrears.cli.app import main
from arrears.cli.output import amount_text, console
from arrears.store.database import connect
from arrears.store.schema import activity, debtor, import_batch, instalment
from arrears.web import create_app


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
    assert main([*args, "--full"]) == 0
    again = capsys.readouterr().out
    assert "$ arrears init" not in again  # the workspace is reused
    # --full: the commands' whole tables, the aging per currency
    assert "aging of default as of 2026-11-23 (USD)" in again
    assert "cases by segment and stage" in again and "run --as-of 2026-11-23\n" in again
    # aging in one unit needs a rate for it; by bucket, per currency, the shares sum to 100 %
    assert main(["-w", str(ws), "aging", "--as-of", "2026-11-23", "--in", "JPY"]) == 1
    assert "[rates] gives no rate for JPY" in capsys.readouterr().err
    by_bucket = ["aging", "--as-of", "2026-11-23", "--by", "bucket", "--currency", "EUR"]
    assert main(["-w", str(ws), *by_bucket, "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "bucket,currency,count,total,share %" and rows[1].startswith("current,EUR,")
    assert sum(float(row.rsplit(",", 1)[1]) for row in rows[1:]) == pytest.approx(100, abs=0.05)
    # Second run: three more import batches, each all unchanged; nothing else changed.
    assert _counts(ws) == (debtors, instalments, activities + 3)
    with connect(f"sqlite:///{ws / 'arrears.db'}").connect() as conn:
        last = conn.execute(select(import_batch).order_by(import_batch.c.id.desc()).limit(3))
        assert all(r.created == 0 and r.updated == 0 and r.unchanged > 0 for r in last)
        owing = conn.execute(
            select(debtor.c.external_id)
            .join(instalment, instalment.c.debtor_id == debtor.c.id)
            .where(instalment.c.open_minor > 0)
            .limit(1)
        ).scalar_one()
    # the demo's debtors can pay by card on their own page (the app's fake provider)
    loaded = config.load(ws)
    site = TestClient(create_app(loaded))
    page = site.get(f"/pay/{debtor_token(loaded.get('channels.secret'), owing)}")
    assert page.status_code == 200 and 'id="pay-online"' in page.text, page.text


GOLDEN = Path(__file__).parent / "golden" / "demo.txt"
#: The small demo of the golden test and the line count: its day, and the dispatch clock.
SMALL = ["--debtors", "300", "--months", "6", "--seed", "7", "--as-of", "2026-11-23"]
NOW = "2026-11-23T15:00:00+00:00"


def test_the_demo_reads_as_a_short_tour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each step's summary, the aging in one table in US dollars, the top five of the
    worklist, what was sent and held and why, and the next three things to try (golden)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARREARS_TEST_DISPATCH_NOW", NOW)
    monkeypatch.setenv("COLUMNS", "1000")  # no line wraps: the golden does not depend on tmp_path
    assert main(["demo", "demo", *SMALL]) == 0
    out = capsys.readouterr().out.replace(str(tmp_path), "<tmp>")
    if os.environ.get("ARREARS_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8")


def test_the_demo_fits_in_two_screens_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARREARS_TEST_DISPATCH_NOW", NOW)
    monkeypatch.setenv("COLUMNS", "80")
    assert console.width == 80
    assert main(["demo", "demo", *SMALL]) == 0
    lines = capsys.readouterr().out.splitlines()
    # as a terminal shows them: a command longer than the terminal wraps onto more rows
    rows = sum(max(1, math.ceil(len(line) / 80)) for line in lines)
    assert rows <= 105, f"the demo prints {rows} rows at 80 columns"
    assert not any("\u2026" in line for line in lines)  # nothing cut with an ellipsis
    commands = [line for line in lines if line.startswith("$ arrears ")]
    assert len(commands) == 10  # every step, whole, as the user would type it
    assert "$ arrears --workspace demo aging --as-of 2026-11-23 --by bucket --in USD" in commands


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
