"""Debtors new to the store (issue 20): their contact points and consents are written without
the reads an update needs, their tags and attributes encoded once per distinct combination.
Through ``arrears import``: the same rows as the update path writes, the same problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from arrears.cli.app import main
from channels_support import engine_of

HEADER = (
    "debtor_id,name,country,email,phone,address,consent_email,consent_sms,consent_whatsapp,"
    "consent_call,consent_letter,tags,segment,attr_archetype\n"
)
ROWS = (
    "D1,Acme,US,ap@acme.test,+12025550143,1 Main St,granted,denied,,granted,,"
    "vip;paperless,smb,slow\n"
    "D2,Beta,CO,,+573001234567,,,,granted,,denied,,consumer,\n"
    'D3,"Gómez, Ana",ES,ana@x.test,,"Calle Mayor 5, Madrid",denied,,,,granted,'
    "vip;paperless,smb,slow\n"
    "D4,Delta,US,d@delta.test,,,,,,,,,,never_pays\n"
    "D5,Épsilon,CO,,+57 300 123 4568,,,granted,,,,paperless,smb,slow\n"
)


def _workspace(root: Path) -> Path:
    assert main(["init", str(root)]) == 0
    return root


def _import(ws: Path, file: Path) -> int:
    return main(["-w", str(ws), "import", "debtors", str(file)])


def _stored(ws: Path) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "debtors": "SELECT external_id, tags, attributes FROM debtor ORDER BY 1",
        "points": "SELECT d.external_id, c.kind, c.value, c.is_primary, c.status "
        "FROM contact_point c JOIN debtor d ON d.id = c.debtor_id ORDER BY 1, 2, 3",
        "consents": "SELECT d.external_id, c.kind, c.value, k.channel, k.status, "
        "substr(k.source, 1, 7) FROM consent k JOIN contact_point c ON c.id = k.contact_point_id "
        "JOIN debtor d ON d.id = c.debtor_id ORDER BY 1, 2, 3, 4",
        "history": "SELECT d.external_id, h.channel, h.status FROM consent_history h "
        "JOIN contact_point c ON c.id = h.contact_point_id JOIN debtor d ON d.id = c.debtor_id "
        "ORDER BY 1, 2, 3",
    }
    with engine_of(ws).connect() as conn:
        return {k: [tuple(r) for r in conn.execute(text(q)).all()] for k, q in queries.items()}


def test_new_debtors_are_stored_as_the_update_path_stores_them(tmp_path: Path) -> None:
    full = tmp_path / "debtors.csv"
    full.write_text(HEADER + ROWS, encoding="utf-8")
    bare = tmp_path / "bare.csv"
    bare.write_text(
        "debtor_id,name,country\n" + "".join(f"D{i},X{i},US\n" for i in range(1, 6)),
        encoding="utf-8",
    )
    new = _workspace(tmp_path / "new")
    assert _import(new, full) == 0  # every debtor new: insert_new
    updated = _workspace(tmp_path / "updated")
    assert _import(updated, bare) == 0
    assert _import(updated, full) == 0  # every debtor known: upsert
    first, second = _stored(new), _stored(updated)
    assert first == second
    assert len(first["consents"]) == 3 + 3 * 3 + 2  # emails, phones (3 channels), addresses
    assert ("D5", "phone", "+573001234568", True, "valid") in first["points"]
    assert ("D1", "phone", "+12025550143", "sms", "denied", "import:") in first["consents"]
    assert ("D2", "postal", None) not in {r[:3] for r in first["consents"]}
    debtors = {d: (json.loads(str(t)), json.loads(str(a))) for d, t, a in first["debtors"]}
    assert debtors == {
        "D1": (["vip", "paperless"], {"archetype": "slow", "segment": "smb"}),
        "D2": ([], {"segment": "consumer"}),
        "D3": (["vip", "paperless"], {"archetype": "slow", "segment": "smb"}),
        "D4": ([], {"archetype": "never_pays"}),
        "D5": (["paperless"], {"archetype": "slow", "segment": "smb"}),
    }


def test_a_bad_row_among_new_debtors_stores_nothing_and_names_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = ROWS.replace("+573001234567", "12345").replace("ES,ana@x.test", "ES,not-an-email")
    file = tmp_path / "debtors.csv"
    file.write_text(HEADER + bad, encoding="utf-8")
    ws = _workspace(tmp_path / "ws")
    capsys.readouterr()
    assert _import(ws, file) == 1
    err = capsys.readouterr().err
    assert f"{file}:3:phone: '12345' is not a valid phone number for CO" in err
    assert f"{file}:4:email:" in err
    assert "nothing was imported" in err
    assert _stored(ws) == {"debtors": [], "points": [], "consents": [], "history": []}
