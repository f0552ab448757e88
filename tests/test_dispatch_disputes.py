"""A dispute opened after a reminder was queued, through ``arrears dispute open`` then
``arrears dispatch`` (the file sink): under the policy's default ``disputes.pause: invoices`` the
reminder still leaves for what is not in dispute and does not list the disputed invoice; under
``pause: case`` the dispute holds every message to the debtor (blocked, ``<pack>.dispute``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.cli.app import main
from arrears.store.schema import debtor, instalment, invoice, outbox
from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace, engine_of


def _a_reminded_debtor_with_two_open_invoices(ws: Path) -> tuple[int, str, list[str]]:
    """A debtor with a queued email due today and two or more invoices open: its store id,
    external id and open invoice numbers."""
    with engine_of(ws).connect() as conn:
        emailed = select(outbox.c.debtor_id).where(
            outbox.c.channel == "email", outbox.c.status == "queued"
        )
        row = conn.execute(
            select(instalment.c.debtor_id)
            .where(instalment.c.open_minor > 0, instalment.c.debtor_id.in_(emailed))
            .group_by(instalment.c.debtor_id)
            .having(func.count(func.distinct(instalment.c.invoice_id)) >= 2)
            .order_by(instalment.c.debtor_id)
            .limit(1)
        ).one()
        did = int(row.debtor_id)
        external = conn.execute(select(debtor.c.external_id).where(debtor.c.id == did)).scalar()
        numbers = conn.execute(
            select(invoice.c.number)
            .join(instalment, instalment.c.invoice_id == invoice.c.id)
            .where(instalment.c.debtor_id == did, instalment.c.open_minor > 0)
            .distinct()
            .order_by(invoice.c.number)
        ).scalars()
        return did, str(external), [str(n) for n in numbers]


def _sent_text(ws: Path, external: str) -> str:
    """The emails sent to the debtor, decoded (the file sink's ``email/<debtor>-<key>.eml``)."""
    from email import message_from_bytes, policy

    texts = []
    for eml in sorted((ws / "outbox" / "email").glob(f"{external}-*.eml")):
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        texts.append(body.get_content() if body is not None else "")
    return "\n".join(texts)


def _status(ws: Path, did: int) -> set[str]:
    with engine_of(ws).connect() as conn:
        return set(
            conn.execute(
                select(outbox.c.status).where(
                    outbox.c.debtor_id == did, outbox.c.channel == "email"
                )
            ).scalars()
        )


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The channels' workspace, with the settings to send from it."""
    root = copy_workspace(base_workspace(tmp_path_factory.mktemp("disp")), tmp_path / "ws")
    for k, v in SENDING_ENV.items():
        monkeypatch.setenv(k, v)
    return root


def _open_dispute(ws: Path, invoice: str) -> None:
    assert main(["-w", str(ws), "dispute", "open", invoice, "--reason", "quality",
                 "--on", DAY.isoformat()]) == 0  # fmt: skip


def test_a_reminder_leaves_without_the_disputed_invoice(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    did, external, numbers = _a_reminded_debtor_with_two_open_invoices(ws)
    disputed, kept = numbers[0], numbers[1]
    _open_dispute(ws, disputed)
    capsys.readouterr()
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    said = capsys.readouterr().out
    assert "dispute" not in said, said  # nothing blocked for the dispute
    assert _status(ws, did) == {"sent"}
    text = _sent_text(ws, external)
    assert kept in text, text
    assert disputed not in text, text


def test_under_pause_case_the_dispute_holds_every_message(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    did, _, numbers = _a_reminded_debtor_with_two_open_invoices(ws)
    policy = ws / "policies" / "b2b.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "\ndisputes:" not in text
    policy.write_text(text + "\ndisputes:\n  pause: case\n", encoding="utf-8")
    _open_dispute(ws, numbers[0])
    capsys.readouterr()
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat(), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(r["rule"].endswith(".dispute") for r in report["not_sent"]), report
    assert _status(ws, did) == {"blocked"}
