"""Loading debtors: create, re-import unchanged, update with a logged change, consent."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Engine, text

from arrears.domain.columns import Kind
from arrears.store.loading.entry import LoadContext, load_frame, open_batch
from arrears.store.portfolios import ensure_portfolio

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def debtors(**overrides: list[object]) -> pl.DataFrame:
    data: dict[str, list[object]] = {
        "debtor_id": ["D1", "D2"],
        "name": ["Acme Ltd", "Ana Gómez"],
        "kind": ["company", "person"],
        "country": ["US", "CO"],
        "email": ["ap@acme.test", None],
        "phone": [None, "+573001234567"],
        "consent_email": ["granted", None],
        "consent_sms": [None, "denied"],
        "tags": [["vip"], []],
        "source": ["debtors.csv", "debtors.csv"],
        "row": [2, 3],
    }
    data.update(overrides)
    return pl.DataFrame(data, schema_overrides={"tags": pl.List(pl.String)})


def load(engine: Engine, frame: pl.DataFrame):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="t")
        batch = open_batch(conn, Kind.DEBTORS, file_name="f", file_sha256="x", actor="t", at=AT)
        return load_frame(conn, Kind.DEBTORS, frame, LoadContext(batch, "t", AT))


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def test_debtors_are_created_with_contacts_and_consent(engine: Engine) -> None:
    result = load(engine, debtors())
    assert (result.created, result.updated, result.unchanged, result.problems) == (2, 0, 0, [])
    assert rows(
        engine, "SELECT external_id, name, country, timezone, currency FROM debtor ORDER BY 1"
    ) == [
        ("D1", "Acme Ltd", "US", "America/New_York", "USD"),
        ("D2", "Ana Gómez", "CO", "America/New_York", "USD"),
    ]
    assert rows(
        engine,
        "SELECT d.external_id, c.kind, c.value, k.channel, k.status FROM consent k "
        "JOIN contact_point c ON c.id = k.contact_point_id JOIN debtor d ON d.id = c.debtor_id "
        "ORDER BY 1, 4",
    ) == [
        ("D1", "email", "ap@acme.test", "email", "granted"),
        ("D2", "phone", "+573001234567", "call", "unknown"),
        ("D2", "phone", "+573001234567", "sms", "denied"),
        ("D2", "phone", "+573001234567", "whatsapp", "unknown"),
    ]


def test_reimporting_the_same_rows_changes_nothing(engine: Engine) -> None:
    load(engine, debtors())
    before = rows(engine, "SELECT * FROM debtor ORDER BY id")
    again = load(engine, debtors(row=[7, 8]))  # other row numbers: same records
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert rows(engine, "SELECT * FROM debtor ORDER BY id") == before
    assert rows(engine, "SELECT count(*) FROM activity WHERE kind = 'debtor.updated'") == [(0,)]


def test_a_changed_row_updates_the_debtor_and_logs_the_change(engine: Engine) -> None:
    load(engine, debtors())
    changed = load(engine, debtors(name=["Acme Inc", "Ana Gómez"], consent_sms=[None, "granted"]))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 0)
    assert rows(engine, "SELECT name FROM debtor WHERE external_id = 'D1'") == [("Acme Inc",)]
    assert rows(engine, "SELECT k.status FROM consent k WHERE k.channel = 'sms'") == [("granted",)]
    with engine.connect() as conn:
        payloads = conn.execute(
            text(
                "SELECT subject_id, payload FROM activity WHERE kind = 'debtor.updated' ORDER BY 1"
            )
        ).all()
    d1 = (
        payloads[0][1]
        if isinstance(payloads[0][1], dict)
        else __import__("json").loads(payloads[0][1])
    )
    assert payloads[0][0] == "D1"
    assert d1["changes"] == {"name": {"before": "Acme Ltd", "after": "Acme Inc"}}


def test_unknown_portfolio_is_a_problem(engine: Engine) -> None:
    result = load(engine, debtors(portfolio=["nope", None]))
    assert [str(p) for p in result.problems] == [
        "debtors.csv:2:portfolio: unknown portfolio 'nope': create it with "
        "`arrears portfolio add nope`"
    ]
    assert result.created == 1
