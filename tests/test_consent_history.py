"""The consent history on SQLite and PostgreSQL, through real imports, the web's opt-out and
contacts logged by hand: every consent ever in force is kept (``consent_history``, written by
the database's triggers), a refusal outranks a later debtors file, and the compliance audit
judges each contact by the consent in force when it was made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from arrears.contact.audit import audit
from arrears.contact.packs import effective_packs
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.columns import Kind
from arrears.io.batches import ReadOptions
from arrears.io.importer import import_files
from arrears.services.outreach import messages
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle import collection
from arrears.store.messages.compliance import read_compliance
from arrears.store.portfolios import ensure_portfolio
from arrears.store.schema import consent, consent_history, contact_point, debtor

HEADER = "debtor_id,name,kind,country,timezone,currency,email,consent_email\n"
MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in Bogota and New York


def _import(engine: Engine, tmp_path: Path, at: datetime, c1: str, g1: str) -> None:
    path = tmp_path / f"debtors-{at:%d%H}.csv"
    path.write_text(
        HEADER
        + f"C1,Carmen,person,CO,America/Bogota,COP,c1@example.co,{c1}\n"
        + f"G1,Gus,person,US,America/New_York,USD,g1@example.com,{g1}\n",
        encoding="utf-8",
    )
    report = import_files(engine, Kind.DEBTORS, [path], ReadOptions(), actor="erp", at=at)
    assert report.committed and not report.problems


def _email(engine: Engine, ext: str, at: datetime) -> None:
    with engine.begin() as conn:
        collection.log_contact(
            conn, portfolio="default", debtor_external_id=ext, channel="email",
            outcome="no_answer", on=at.date(), actor="collector", at=at,
        )  # fmt: skip


def _history(engine: Engine, ext: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        query = (
            select(consent_history.c.status, consent_history.c.source)
            .join(contact_point, contact_point.c.id == consent_history.c.contact_point_id)
            .join(debtor, debtor.c.id == contact_point.c.debtor_id)
            .where(debtor.c.external_id == ext)
            .order_by(consent_history.c.id)
        )
        return [(r.status, r.source) for r in conn.execute(query)]


def test_contacts_are_judged_by_the_consent_of_their_time(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        ensure_portfolio(conn, "default", name=None, base_currency="USD", actor="erp")
    _import(engine, tmp_path, MONDAY - timedelta(days=7), c1="unknown", g1="granted")
    _email(engine, "C1", MONDAY)  # C1: Colombia, email not authorised: a violation
    _email(engine, "G1", MONDAY)  # G1: granted: fine
    done = messages.opt_out(
        SqlUnitOfWork(engine), debtor_actor("G1"), portfolio="default", channel="email",
        at=MONDAY + timedelta(days=1), source="opt-out link", debtor="G1",
    )  # fmt: skip
    assert done.recorded
    _email(engine, "G1", MONDAY + timedelta(days=2))  # after the opt-out: a violation
    # the ERP's file grants both: C1's consent changes, G1's refusal outranks the file
    _import(engine, tmp_path, MONDAY + timedelta(days=3), c1="granted", g1="granted")

    assert _history(engine, "C1") == [("unknown", "import:1"), ("granted", "import:2")]
    assert _history(engine, "G1") == [("granted", "import:1"), ("denied", "opt-out link")]
    with engine.connect() as conn:
        now = conn.execute(
            select(consent.c.status)
            .join(contact_point)
            .where(contact_point.c.value == "g1@example.com")
        ).scalar_one()
    assert now == "denied"

    data = read_compliance(
        engine, portfolio="default", start=MONDAY.date(), end=MONDAY.date() + timedelta(days=6)
    )
    checked = audit(
        data.contacts, data.debtors, data.points, data.consent_history, data.history,
        effective_packs(),
    )  # fmt: skip
    ids = dict(data.debtors.select("debtor_id", "debtor_external_id").iter_rows())
    verdicts = sorted(
        (ids[r["debtor_id"]], r["at"].date().isoformat(), r["rule"])
        for r in checked.iter_rows(named=True)
    )
    assert verdicts == [
        ("C1", "2026-03-02", "co-ley-2300.consent-required"),
        ("G1", "2026-03-02", None),
        ("G1", "2026-03-04", "us-reg-f.opt-out"),
    ]
