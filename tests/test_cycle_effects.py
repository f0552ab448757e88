"""Decisions -> effects (``arrears.cycle.effects``): the kinds, keys from business ids only, and
the store applying them once, whatever its row ids (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text

from arrears.cli.app import main
from arrears.cycle.effects import KEY_LIMIT, KINDS, Effects, effects
from arrears.cycle.frames import CASE_DECISION_SCHEMA, STEP_DECISION_SCHEMA, Decisions
from arrears.domain.ledger import Channel, Consent, ContactKind, ContactPoint, Debtor, DebtorKind
from arrears.store.cycle import write
from arrears.store.cycle.write import commit_decisions
from arrears.store.database import connect, upgrade
from arrears.store.ledger import cases as ledger
from test_ledger_support import ACTOR, AT, Book

AS_OF = date(2026, 3, 15)
OPENED = date(2026, 3, 1)
#: Internal row ids no key may contain (distinctive, so a test can look for them).
ACME, ZETA, ZETA_CASE = 90127, 90131, 70311


def case(debtor_id: int, case_id: int | None, change: str, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case_id, "debtor_id": debtor_id, "currency": "EUR", "opened_on": OPENED,
        "change": change, "stage_before": None if change == "open" else "reminder",
        "stage": "reminder", "stage_entered_on": OPENED, "segment": "smb",
        "overdue_minor": 5000, "balance_minor": 5000, "days_past_due": 14, "priority": 2.0,
    } | extra  # fmt: skip


def step(
    debtor_id: int, case_id: int | None, step_id: str, action: str, **extra: Any
) -> dict[str, Any]:
    return {
        "case_id": case_id, "debtor_id": debtor_id, "currency": "EUR", "opened_on": OPENED,
        "step_id": step_id, "occurrence": 1, "action": action, "due_on": AS_OF,
        "status": "executed", "reason": "came due",
        "key": f"case:{debtor_id}:EUR:{OPENED}:{step_id}:1",  # the engine's key (internal id)
    } | extra  # fmt: skip


def small_decisions(acme: int = ACME, zeta: int = ZETA, zeta_case: int = ZETA_CASE) -> Decisions:
    """ACME's case opens with a reminder, a call, a credit hold, a late fee and a skipped SMS;
    ZETA's stored case moves to pre_legal: a settlement offer (with its message), a stage floor,
    a placement, a notice sent twice by a catch-up (queued once)."""
    cases = [
        case(acme, None, "open"),
        case(zeta, zeta_case, "stage", stage="pre_legal", stage_before="reminder"),
    ]
    steps = [
        step(acme, None, "email1", "send", channel="email", params='{"template": "r1"}'),
        step(acme, None, "call1", "call_task", task_priority=2, priority=7.5),
        step(acme, None, "sms1", "send", channel="sms", status="skipped", reason="no consent"),
        step(acme, None, "hold", "credit_hold"),
        step(acme, None, "fee", "late_fee", amount_minor=4000),
        step(zeta, zeta_case, "settle", "settlement_offer",
             params='{"template": "settle", "max_discount": "10"}'),
        step(zeta, zeta_case, "floor", "move_stage", params='{"to": "legal"}'),
        step(zeta, zeta_case, "agency", "place_with_agency", params='{"agency": "north"}'),
        step(zeta, zeta_case, "notice", "send", channel="letter", due_on=date(2026, 3, 13),
             params='{"template": "notice"}'),
        step(zeta, zeta_case, "notice2", "send", channel="letter", params='{"template": "notice"}'),
    ]  # fmt: skip
    return Decisions(
        features=pl.DataFrame(),
        cases=pl.DataFrame(cases, schema=CASE_DECISION_SCHEMA),
        steps=pl.DataFrame(steps, schema=STEP_DECISION_SCHEMA),
    )


def names(acme: int = ACME, zeta: int = ZETA) -> pl.DataFrame:
    return pl.DataFrame({"debtor_id": [acme, zeta], "debtor_external_id": ["ACME-1", "ZETA-9"]})


def small_effects(**ids: int) -> Effects:
    acme, zeta = ids.get("acme", ACME), ids.get("zeta", ZETA)
    return effects(small_decisions(**ids), portfolio="eu", as_of=AS_OF, debtors=names(acme, zeta))


def keys_of(frame: pl.DataFrame) -> list[str]:
    return sorted(frame["key"].to_list())


def test_decisions_become_typed_effects_keyed_by_business_ids() -> None:
    done = small_effects()
    for kind in KINDS:  # every kind's frame follows its declared schema
        assert dict(getattr(done, kind.name).schema) == kind.schema, kind.name
    acme = "cycle:eu:ACME-1:EUR:2026-03-01"
    zeta = "cycle:eu:ZETA-9:EUR:2026-03-01"
    assert keys_of(done.open_case) == ["case.opened:eu:ACME-1:EUR:2026-03-01:2026-03-15"]
    assert keys_of(done.change_case) == ["case.stage_changed:eu:ZETA-9:EUR:2026-03-01:2026-03-15"]
    assert done.record_step.height == 10
    assert done.record_step.filter(pl.col("status") == "skipped")["key"].to_list() == [
        f"{acme}:sms1:1"
    ]
    # the catch-up's two notices: only the one due last is queued; the offer's message too
    assert keys_of(done.queue_message) == [
        f"{acme}:email1:1",
        f"{zeta}:notice2:1",
        f"{zeta}:settle:1",
    ]
    assert done.create_task.select("key", "kind", "task_priority", "score").rows() == [
        (f"{acme}:call1:1", "call", 2, 7.5)
    ]
    assert done.make_offer.select("key", "kind", "expires_on").rows() == [
        (f"{zeta}:settle:1", "settlement", date(2026, 3, 29))
    ]
    assert done.hold_credit.select("key", "credit_from", "credit_to").rows() == [
        (f"{acme}:hold:1", "active", "on_hold")
    ]
    assert done.raise_stage_floor.select("key", "stage_floor").rows() == [
        (f"{zeta}:floor:1", "legal")
    ]
    assert done.place_with_agency.select("key", "agency").rows() == [(f"{zeta}:agency:1", "north")]
    # the case update agrees with its steps: the floor and the agency are on the case too
    assert done.change_case.select("stage_floor", "agency").rows() == [("legal", "north")]
    fee = done.post_fee.row(0, named=True)
    assert (fee["key"], fee["step_key"], fee["amount_minor"]) == (
        "fee:ACME-1:EUR:2026-03-01:fee:1",
        f"{acme}:fee:1",
        4000,
    )
    # what the debtor reads on the fee invoice is words and a date, not a key
    assert (fee["number"], fee["reference"]) == ("late fee 2026-03-15 (fee)", "late fee (fee)")
    # no key names a store row: the internal ids are nowhere in them
    for key in [*done.keys(), *done.frames()["record_step"]["payload"]]:
        assert not re.search(f"{ACME}|{ZETA}|{ZETA_CASE}", key), key
    assert "ACME-1:EUR:2026-03-01" in done.open_case["payload"][0]


def test_the_same_decisions_under_other_row_ids_have_the_same_keys() -> None:
    one = small_effects()
    other = small_effects(acme=5, zeta=3, zeta_case=1)  # another store's ids
    for name, frame in one.frames().items():
        assert keys_of(frame) == keys_of(other.frames()[name]), name


def test_keys_cannot_collide_or_overflow() -> None:
    decisions = small_decisions()
    a = effects(
        decisions, portfolio="a:b", as_of=AS_OF,
        debtors=pl.DataFrame({"debtor_id": [ACME, ZETA], "debtor_external_id": ["c", "z"]}),
    )  # fmt: skip
    b = effects(
        decisions, portfolio="a", as_of=AS_OF,
        debtors=pl.DataFrame({"debtor_id": [ACME, ZETA], "debtor_external_id": ["b:c", "z"]}),
    )  # fmt: skip
    assert keys_of(a.open_case) == ["case.opened:a%3Ab:c:EUR:2026-03-01:2026-03-15"]
    assert keys_of(b.open_case) == ["case.opened:a:b%3Ac:EUR:2026-03-01:2026-03-15"]
    long_id = "X" * 190
    c = effects(
        decisions, portfolio="eu", as_of=AS_OF,
        debtors=pl.DataFrame({"debtor_id": [ACME, ZETA], "debtor_external_id": [long_id, "z"]}),
    )  # fmt: skip
    again = effects(
        decisions, portfolio="eu", as_of=AS_OF,
        debtors=pl.DataFrame({"debtor_id": [ACME, ZETA], "debtor_external_id": [long_id, "z"]}),
    )  # fmt: skip
    keys = c.keys()
    assert keys.str.len_chars().max() == KEY_LIMIT  # the long ones end in a digest
    assert c.record_step["key"].n_unique() == c.record_step.height == 10
    assert keys.to_list() == again.keys().to_list()
    with pytest.raises(ValueError, match="no external id"):
        effects(decisions, portfolio="eu", as_of=AS_OF, debtors=names().head(1))


# The store applies effects ------------------------------------------------------------------


def book_in(engine: Engine, order: list[str]) -> dict[str, int]:
    """A store where ACME-1 and ZETA-9 owe money, their rows inserted in ``order`` (a debtor
    without invoices first shifts the row ids)."""
    with engine.begin() as conn:
        book = Book(conn)
        ids = {name: book.debtor(name) for name in order}
        book.invoice("I1", "ACME-1", ("2026-02-28", "50.00"), currency="EUR")
        book.invoice("I2", "ZETA-9", ("2026-02-28", "80.00"), currency="EUR")
    return ids


def open_both(ids: dict[str, int]) -> Decisions:
    """Day one: both cases open; ACME's steps and ZETA's run on new cases."""
    acme, zeta = ids["ACME-1"], ids["ZETA-9"]
    small = small_decisions(acme, zeta, 0)
    return Decisions(
        features=small.features,
        cases=small.cases.with_columns(
            pl.lit(None, pl.Int64()).alias("case_id"),
            pl.lit("open").alias("change"),
            pl.lit(None, pl.String()).alias("stage_before"),
        ),
        steps=small.steps.with_columns(pl.lit(None, pl.Int64()).alias("case_id")),
    )


def commit(engine: Engine, decisions: Decisions) -> Any:
    return commit_decisions(
        engine, portfolio="default", as_of=AS_OF, policy_name="b2b", policy_sha256="a" * 64,
        decisions=decisions, actor="system:cycle", at=datetime(2026, 3, 15, 6, tzinfo=UTC),
    )  # fmt: skip


STORED_KEYS = """
    SELECT 'step', key FROM case_step UNION ALL SELECT 'outbox', key FROM outbox
    UNION ALL SELECT 'task', key FROM task UNION ALL SELECT 'offer', key FROM offer
    UNION ALL SELECT kind, idempotency_key FROM activity
      WHERE kind LIKE 'case.%' OR kind LIKE 'step.%'
    UNION ALL SELECT 'fee', external_id FROM invoice WHERE external_id LIKE 'fee:%'"""


def stored_keys(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted((str(k), str(v)) for k, v in conn.execute(text(STORED_KEYS)))


def test_two_stores_with_other_row_ids_store_the_same_keys(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parametrised store (SQLite, PostgreSQL) and a SQLite store whose rows were inserted
    in another order write the same keys for the same day; a second commit writes nothing. The
    second store reads the portfolio's whole list of names, the first only the debtors decided."""
    upgrade(f"sqlite:///{tmp_path / 'other.db'}")
    other = connect(f"sqlite:///{tmp_path / 'other.db'}")
    ids = book_in(engine, ["ACME-1", "ZETA-9"])
    other_ids = book_in(other, ["NOBODY", "ZETA-9", "ACME-1"])
    assert ids["ACME-1"] != other_ids["ACME-1"]
    first = commit(engine, open_both(ids))
    assert (first.cases_opened, first.steps_executed, first.outbox, first.fees) == (2, 9, 3, 1)
    with monkeypatch.context() as patch:
        patch.setattr(write, "NAMES_BY_ID", 0)
        assert commit(other, open_both(other_ids)).cases_opened == 2
    keys = stored_keys(engine)
    assert keys == stored_keys(other)
    # steps, messages, the task, the offer, the case and step activities, the fee
    assert len(keys) == 10 + 3 + 1 + 1 + 2 + 10 + 1
    # each key names its debtor by its external id (equal keys under other ids: no row id)
    assert all(("ACME-1" in k) != ("ZETA-9" in k) for _, k in keys)
    again = commit(engine, open_both(ids))
    assert not again.written and stored_keys(engine) == keys
    other.dispose()


def old_step_key() -> pl.Expr:
    """A step's key before business keys: ``case:<debtor row id>:<currency>:<opened>:...``."""
    return pl.format(
        "case:{}:{}:{}:{}:{}", "debtor_id", "currency", "opened_on", "step_id", "occurrence"
    )


def with_old_keys(done: Effects) -> Effects:
    """The same effects under the keys a store from before business keys wrote."""
    old_case = pl.format(
        "{}:{}:{}:{}:" + AS_OF.isoformat(),
        pl.col("event").fill_null("case.updated"), "debtor_id", "currency", "opened_on",
    )  # fmt: skip
    steps = done.record_step.select("key", old_step_key().alias("old"))
    frames: dict[str, pl.DataFrame] = {}
    for name, frame in done.frames().items():
        if name in ("open_case", "change_case"):
            frames[name] = frame.with_columns(old_case.alias("key"))
        elif name == "post_fee":
            frames[name] = (
                frame.join(steps.rename({"key": "step_key"}), on="step_key")
                .with_columns(
                    pl.col("old").alias("step_key"), ("fee:" + pl.col("old")).alias("key")
                )
                .drop("old")
            )
        else:
            frames[name] = (
                frame.join(steps, on="key", maintain_order="left")
                .with_columns(pl.col("old").alias("key"))
                .drop("old")
            )
    return Effects(**frames)


def test_a_store_from_before_business_keys_is_not_written_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows logged under the old keys (internal ids) count as done: steps by their case, step
    and occurrence (and so their messages, tasks, offers, holds and fees), case events by their
    old key."""
    ids = book_in(engine, ["ACME-1", "ZETA-9"])
    with monkeypatch.context() as patch:
        patch.setattr(write, "effects", lambda *a, **k: with_old_keys(effects(*a, **k)))
        assert commit(engine, open_both(ids)).steps_executed == 9
    before = stored_keys(engine)
    assert all(":ACME-1:" not in k and ":ZETA-9:" not in k for _, k in before)
    again = commit(engine, open_both(ids))
    assert not again.written, again
    assert stored_keys(engine) == before


# The same day twice through `arrears run` -----------------------------------------------------


def reachable(external_id: str, phone: str) -> Debtor:
    points = (
        ContactPoint(ContactKind.EMAIL, f"{external_id.lower()}@example.com"),
        ContactPoint(ContactKind.PHONE, phone, {Channel.CALL: Consent.GRANTED}),
    )
    return Debtor(
        external_id, f"Debtor {external_id}", DebtorKind.COMPANY, "US", "USD",
        "America/New_York", "en", contacts=points,
    )  # fmt: skip


def workspace(root: Path, order: list[str]) -> Path:
    assert main(["init", str(root)]) == 0
    engine = connect(f"sqlite:///{root / 'arrears.db'}")
    with engine.begin() as conn:
        book = Book(conn)
        for n, name in enumerate(order):
            ledger.add_debtor(conn, reachable(name, f"+1212555010{n}"), actor=ACTOR, at=AT)
        book.invoice("I1", "D1", ("2026-01-31", "1000.00"))
        book.invoice("I2", "D2", ("2025-12-15", "6000.00"), issued="2025-11-15")
    engine.dispose()
    return root


def test_arrears_run_twice_applies_once_and_two_stores_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = workspace(tmp_path / "one", ["D1", "D2"])
    two = workspace(tmp_path / "two", ["D0", "D2", "D1"])
    for day in ("2026-02-01", "2026-02-20", "2026-03-05"):
        for ws in (one, two):
            assert main(["-w", str(ws), "run", "--as-of", day]) == 0
    capsys.readouterr()
    engines = [connect(f"sqlite:///{ws / 'arrears.db'}") for ws in (one, two)]
    keys = stored_keys(engines[0])
    assert len(keys) > 10 and keys == stored_keys(engines[1])
    assert main(["-w", str(one), "run", "--as-of", "2026-03-05", "--format", "json"]) == 0
    assert '"cases_opened": 0' in capsys.readouterr().out
    assert stored_keys(engines[0]) == keys
    for engine in engines:
        engine.dispose()
