"""A debtor's opt-out outranks the ERP's debtors file (issue 21): opt out through the signed link,
import the debtors file again with the debtor's address changed, and the consent stays denied,
the ``debtor.updated`` activity lists what really changed, and dispatch does not email them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from arrears import config
from arrears.channels.base import opt_out_url
from arrears.cli.app import main
from arrears.store.schema import activity, consent, contact_point, debtor
from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace, engine_of, rows


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("channels")), tmp_path / "ws")


def _debtors_file(ws: Path, to: Path, change: dict[str, dict[str, str]]) -> Path:
    """The base workspace's debtors file with ``change`` ({external id: {column: value}})."""
    source = base_workspace(ws.parent).joinpath("data", "debtors.csv").read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(source)))
    for row in table:
        row.update(change.get(row["debtor_id"], {}))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table)
    to.write_text(out.getvalue(), encoding="utf-8")
    return to


def _consents(ws: Path, external_id: str, channel: str) -> list[tuple[str, str]]:
    with engine_of(ws).connect() as conn:
        query = (
            select(consent.c.status, consent.c.source)
            .join(contact_point, contact_point.c.id == consent.c.contact_point_id)
            .join(debtor, debtor.c.id == contact_point.c.debtor_id)
            .where(debtor.c.external_id == external_id, consent.c.channel == channel)
        )
        return [(r.status, r.source) for r in conn.execute(query)]


def _last_update(ws: Path, external_id: str) -> dict[str, object]:
    with engine_of(ws).connect() as conn:
        payload = conn.execute(
            select(activity.c.payload)
            .join(debtor, debtor.c.id == activity.c.debtor_id)
            .where(debtor.c.external_id == external_id, activity.c.kind == "debtor.updated")
            .order_by(activity.c.id.desc())
        ).first()
    assert payload is not None
    return dict(payload[0])


def test_a_reimport_does_not_undo_an_opt_out(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SENDING_ENV.items():  # a time the rules allow: only the opt-out blocks
        monkeypatch.setenv(name, value)
    email_row = next(r for r in rows(ws) if r["channel"] == "email" and r["status"] == "queued")
    with engine_of(ws).connect() as conn:
        ext = conn.execute(
            select(debtor.c.external_id).where(debtor.c.id == email_row["debtor_id"])
        ).scalar_one()
    secret = str(config.load(ws, env={}).get("channels.secret") or "")
    link = opt_out_url("https://x.test/o", secret, ext, "email")
    assert main(["-w", str(ws), "opt-out", link]) == 0
    assert {s for s, _ in _consents(ws, ext, "email")} == {"denied"}

    moved = {"address": "Calle Nueva 1, 080001 Barranquilla", "consent_email": "granted"}
    changed = _debtors_file(ws, ws.parent / "debtors.csv", {ext: moved})
    assert main(["-w", str(ws), "import", "debtors", str(changed)]) == 0

    assert _consents(ws, ext, "email") == [("denied", "opt-out link")]
    update = _last_update(ws, ext)
    changes = update["changes"]
    assert isinstance(changes, dict) and changes["address"]["after"] == moved["address"]
    assert update["consent_kept"] == {"email": "opt-out link"}

    capsys.readouterr()
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    after = {r["id"]: r for r in rows(ws)}[email_row["id"]]
    assert after["status"] == "blocked" and str(after["rule"]).endswith(".opt-out")
    assert after["sent_at"] is None


def test_an_import_still_sets_the_consent_of_a_debtor_who_never_opted_out(ws: Path) -> None:
    with engine_of(ws).connect() as conn:
        ext = conn.execute(select(debtor.c.external_id).order_by(debtor.c.id)).scalars().first()
    assert ext is not None
    changed = _debtors_file(ws, ws.parent / "debtors.csv", {ext: {"consent_email": "denied"}})
    assert main(["-w", str(ws), "import", "debtors", str(changed)]) == 0
    (status, source), *_ = _consents(ws, ext, "email")
    assert status == "denied" and source.startswith("import:")
    assert _last_update(ws, ext)["changes"]["consent_email"]["after"] == "denied"  # type: ignore[index]
    # the ERP's own denial is the ERP's to lift
    again = _debtors_file(ws, ws.parent / "debtors2.csv", {ext: {"consent_email": "granted"}})
    assert main(["-w", str(ws), "import", "debtors", str(again)]) == 0
    assert {s for s, _ in _consents(ws, ext, "email")} == {"granted"}


def test_only_an_explicit_grant_with_a_reason_lifts_an_opt_out(ws: Path) -> None:
    email_row = next(r for r in rows(ws) if r["channel"] == "email")
    with engine_of(ws).connect() as conn:
        ext = conn.execute(
            select(debtor.c.external_id).where(debtor.c.id == email_row["debtor_id"])
        ).scalar_one()
    secret = str(config.load(ws, env={}).get("channels.secret") or "")
    assert (
        main(["-w", str(ws), "opt-out", opt_out_url("https://x.test/o", secret, ext, "email")]) == 0
    )
    grant = ["-w", str(ws), "compliance", "grant", ext, "--channel", "email"]
    assert main([*grant, "--reason", " "]) == 1
    assert {s for s, _ in _consents(ws, ext, "email")} == {"denied"}
    assert main([*grant, "--reason", "signed consent form, 2026-12-07"]) == 0
    assert {s for s, _ in _consents(ws, ext, "email")} == {"granted"}
    with engine_of(ws).connect() as conn:
        payload = conn.execute(
            select(activity.c.payload).where(activity.c.kind == "consent.granted")
        ).scalar_one()
    assert payload["reason"] == "signed consent form, 2026-12-07"
