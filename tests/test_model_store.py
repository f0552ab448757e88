"""The model's store (issue 18), on SQLite and PostgreSQL: one debtor's history read alone
(``arrears model explain``) equals the whole history's rows of that debtor; the day's scores
(``debtor_score``, migrations 0014 and 0020) keep one row per debtor, currency, day and
version, a day's version written again replaces its rows, another version is kept beside it
(the last scored read by default), and rows older than the retention are deleted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from arrears.demo.generate import generate
from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.store.database import connect
from arrears.store.portfolios import UnknownPortfolio, ensure_portfolio
from arrears.store.scoring.history import read_debtor_history, read_debtors, read_history
from arrears.store.scoring.scores import RETENTION_DAYS, read_scores, scored_days, write_scores

END = date(2026, 3, 31)
AT = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model-store")
    generate(12, 4, 5, END, out)
    return out


def test_one_debtor_history_and_the_day_scores(store_url: str, files: Path) -> None:
    engine = connect(store_url)
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="test")
    for kind in ("debtors", "invoices", "payments"):
        report = import_files(
            engine,
            Kind(kind),
            [files / f"{kind}.csv"],
            ReadOptions(),
            actor="test",
            rule=AllocationRule.OLDEST_DUE_FIRST,
            at=AT,
        )
        assert not report.problems, report.problems[:3]
    whole = read_history(engine, portfolio="default")
    debtors = read_debtors(engine, portfolio="default")
    compared = 0
    for did, external in debtors.select("debtor_id", "debtor_external_id").iter_rows():
        alone = read_debtor_history(engine, portfolio="default", debtor=external)
        assert alone is not None
        mine = whole.instalments.filter(pl.col("debtor_id") == did)
        assert_frame_equal(alone.instalments, mine, check_exact=True)
        paid = whole.allocations.join(mine.select("instalment_id"), on="instalment_id", how="semi")
        assert_frame_equal(alone.allocations, paid, check_exact=True)
        compared += alone.allocations.height > 0
    assert compared > 3
    assert read_debtor_history(engine, portfolio="default", debtor="NOBODY") is None
    with pytest.raises(UnknownPortfolio):
        read_debtor_history(engine, portfolio="nowhere", debtor="D000001")

    ids = debtors["debtor_id"].to_list()[:3]
    scores = pl.DataFrame(
        {
            "debtor_id": ids,
            "currency": ["USD"] * 3,
            "score": [0.1, 0.5, 0.9],
            "band": ["E", "C", "A"],
            "expected_days_to_pay": [40.0, None, 3.5],
            "source": ["v1"] * 3,
            "reasons": [["usually pays 20 days late (lowers the score by 0.21)"], [], ["a", "b"]],
        }
    )
    with engine.begin() as conn:
        assert write_scores(
            conn, portfolio="default", as_of=END, scores=scores, at=AT, version="v1"
        )
        # the same day and version again: replaced, not added
        again = scores.with_columns(pl.lit("model v1 again").alias("source"))
        write_scores(conn, portfolio="default", as_of=END, scores=again, at=AT, version="v1")
        write_scores(
            conn, portfolio="default", as_of=END + timedelta(1), scores=scores, at=AT, version="v1"
        )
    with engine.connect() as conn:
        stored = read_scores(conn, portfolio="default", as_of=END)
        assert stored.height == 3 and set(stored["source"]) == {"model v1 again"}
        assert stored.sort("debtor_id")["reasons"].to_list() == scores["reasons"].to_list()
        assert stored.sort("debtor_id")["expected_days_to_pay"].to_list() == [40.0, None, 3.5]
        assert scored_days(conn, portfolio="default") == [END, END + timedelta(1)]
    # another version the same day: kept beside the first; the last scored is read by default
    later_at = AT + timedelta(hours=1)
    with engine.begin() as conn:
        v2 = scores.head(2).with_columns(
            pl.lit("model v2").alias("source"), pl.lit(0.3).alias("score")
        )
        write_scores(conn, portfolio="default", as_of=END, scores=v2, at=later_at, version="v2")
    with engine.connect() as conn:
        last = read_scores(conn, portfolio="default", as_of=END).sort("debtor_id")
        assert last["version"].to_list() == ["v2", "v2", "v1"]
        assert last["score"].to_list() == [0.3, 0.3, 0.9]
        assert read_scores(conn, portfolio="default", as_of=END, version="v1").height == 3
    # a day past the retention deletes what is older
    later = END + timedelta(RETENTION_DAYS + 1)
    with engine.begin() as conn:
        write_scores(conn, portfolio="default", as_of=later, scores=scores, at=AT, version="v1")
    with engine.connect() as conn:
        assert scored_days(conn, portfolio="default") == [END + timedelta(1), later]
    engine.dispose()
