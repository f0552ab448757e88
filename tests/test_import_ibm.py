"""The IBM accounts-receivable sample, converted by the recipe and imported through the normal
importer, reproduces its known figures: 2,466 invoices, 100 customers, 35.6 % paid late."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.ibm import convert
from arrears.io.importer import import_files
from arrears.store.portfolios import ensure_portfolio

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm-accounts-receivable.csv"

#: An invoice is paid late when the last allocation that settled it is dated after its due date.
PAID_LATE = """
SELECT count(*) AS invoices,
       sum(CASE WHEN settled > due THEN 1 ELSE 0 END) AS late
FROM (SELECT v.id, max(i.due_date) AS due, max(a.allocated_on) AS settled
      FROM invoice v JOIN instalment i ON i.invoice_id = v.id
      JOIN allocation a ON a.instalment_id = i.id AND a.reversed = false
      WHERE v.status = 'paid' GROUP BY v.id) AS paid
"""


@pytest.fixture
def sample() -> Path:
    """The sample lives in ../shared/data; CI always has it there, so its absence fails CI."""
    if not SAMPLE.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SAMPLE} is missing: CI checks out shared/ beside main")
        pytest.skip("the IBM sample is not checked out beside main")
    return SAMPLE


def test_ibm_sample_reproduces_its_figures(engine: Engine, tmp_path: Path, sample: Path) -> None:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
    files = convert(sample, tmp_path)
    for kind in (Kind.DEBTORS, Kind.INVOICES, Kind.PAYMENTS):
        report = import_files(engine, kind, [files[kind]], ReadOptions(), actor="test")
        assert report.problems == [], report.problems[:5]
        assert report.committed
    with engine.connect() as conn:
        debtors = conn.execute(text("SELECT count(*) FROM debtor")).scalar_one()
        invoices, late = conn.execute(text(PAID_LATE)).one()
        unallocated = conn.execute(text("SELECT sum(unallocated_minor) FROM payment")).scalar()
        disputed = conn.execute(text("SELECT count(*) FROM invoice WHERE disputed")).scalar_one()
        attributes = conn.execute(text("SELECT attributes FROM debtor")).scalars().all()
    assert (debtors, invoices) == (100, 2466)
    assert round(100 * late / invoices, 1) == 35.6
    assert unallocated == 0
    assert disputed > 0
    found = [a if isinstance(a, dict) else json.loads(a) for a in attributes]
    assert all(len(a["paperless_since"]) == 10 and a["paperless_since"][4] == "-" for a in found)
    again = import_files(engine, Kind.PAYMENTS, [files[Kind.PAYMENTS]], ReadOptions(), actor="t")
    assert (again.created, again.unchanged) == (0, 2466)
