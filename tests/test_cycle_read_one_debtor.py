"""The cycle's input of one debtor (``read_cycle_input(debtor_ids=...)``, what the account
page's explain view and "may I call now?" read): the same frames as the whole portfolio's read
restricted to that debtor, on both backends."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, text

from arrears.store.cycle.read import read_cycle_input
from arrears.store.ledger import cases as ledger
from test_cycle_store import AS_OF, build_book, commit, decisions_day_one, deny_email, frames_of
from test_ledger_support import ACTOR, AT, d


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns) if frame.height else frame


def test_one_debtors_read_is_the_portfolios_restricted_to_it(engine: Engine) -> None:
    ids = build_book(engine)
    commit(engine, decisions_day_one(engine))  # a case, its steps
    with engine.begin() as conn:
        deny_email(conn, ids["D2"], "d2@example.com")
        ledger.log_contact(
            conn, portfolio="default", debtor_external_id="D2", channel="call",
            outcome="reached", on=d("2026-03-14"), note=None, actor=ACTOR, at=AT,
        )  # fmt: skip
        assert conn.execute(text("SELECT COUNT(*) FROM collection_case")).scalar() == 1
    whole = read_cycle_input(engine, portfolio="default", as_of=AS_OF, reopen_within_days=30)
    seen = set()
    for debtor in ("D1", "D2"):
        one = read_cycle_input(
            engine, portfolio="default", as_of=AS_OF, reopen_within_days=30,
            debtor_ids=[ids[debtor]],
        )  # fmt: skip
        expected = whole.for_debtors(pl.Series([ids[debtor]]))
        for name, frame in frames_of(one).items():
            want = frames_of(expected)[name]
            assert frame.schema == want.schema, name
            assert _sorted(frame).equals(_sorted(want)), (debtor, name)
            if frame.height:
                seen.add(name)
    # every frame the book fills was compared with rows in it
    assert {"instalments", "debtors", "settled", "last_payments", "promises", "holds",
            "contacts", "last_contacts", "cases", "steps_done", "consents",
            "history"} <= seen  # fmt: skip
