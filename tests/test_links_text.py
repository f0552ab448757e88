"""Imported data as it reaches messages through ``arrears dispatch`` into the file sink and PDF
letters: the debtor's id is percent-encoded in the payment link (it cannot become a path or a
query), and names, invoice numbers and addresses lose their bidirectional overrides and control
characters and their line breaks where they are one line (a postal address keeps its lines)."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, update

from arrears.cli.app import main
from arrears.store.schema import contact_point, debtor, invoice, outbox
from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace, engine_of, rows

#: an id that would climb out of the payment URL's path and add a query
EVIL_ID = "../../admin?paid=1#x"
NAME = "Ana \u202eyap ton od\u202c María\r\nBcc: spy@evil.test\u2028Second line\u2066"
NUMBER = "\u202e\r\nX-Injected: 1"
POSTAL = "1 Main St\r\n\u202eApt 2\u202c\rSpringfield"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)  # `arrears dispatch` sends at the day's sending time
    monkeypatch.setenv("ARREARS_CHANNELS_LETTER", "pdf")
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("links")), tmp_path / "ws")
    email_debtor = next(r["debtor_id"] for r in rows(ws) if r["channel"] == "email")
    with engine_of(ws).begin() as conn:
        conn.execute(update(debtor).values(name=NAME))
        conn.execute(update(debtor).where(debtor.c.id == email_debtor).values(external_id=EVIL_ID))
        conn.execute(update(invoice).values(number=invoice.c.number + NUMBER))
        conn.execute(
            update(contact_point).where(contact_point.c.kind == "postal").values(value=POSTAL)
        )
    return ws


def _emails(ws: Path) -> list[EmailMessage]:
    found = []
    for path in sorted((ws / "outbox" / "email").glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        found.append(msg)
    return found


def _body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def test_the_payment_link_encodes_the_debtors_id(ws: Path) -> None:
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    with engine_of(ws).connect() as conn:
        sent = (
            conn.execute(
                select(outbox.c.status)
                .join(debtor, debtor.c.id == outbox.c.debtor_id)
                .where(debtor.c.external_id == EVIL_ID, outbox.c.channel == "email")
            )
            .scalars()
            .all()
        )
    assert sent and set(sent) == {"sent"}
    texts = [_body(m, "plain") + _body(m, "html") for m in _emails(ws)]
    mine = [t for t in texts if "admin" in t]
    assert mine, "the message of the debtor with the hostile id"
    for text in mine:
        assert "https://pay.example.com/..%2F..%2Fadmin%3Fpaid%3D1%23x" in text
        assert "pay.example.com/../" not in text and "?paid=1" not in text


def test_imported_text_reaches_messages_without_bidi_controls_or_added_lines(ws: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    emails = _emails(ws)
    assert emails
    for msg in emails:
        text, html = _body(msg, "plain"), _body(msg, "html")
        for part in (text, html, str(msg["To"]), str(msg["Subject"])):
            assert not set(part) & set(BIDI), part
        # the name is one line, whatever line breaks it was imported with
        named = [line for line in text.splitlines() if "María" in line]
        assert named and all("Bcc: spy@evil.test" in line for line in named)
        assert all("Second line" in line for line in named)
        assert not any(line.startswith(("Bcc:", "Second line")) for line in text.splitlines())
        # an invoice number with CR LF stays on its line
        assert not any(line.startswith("X-Injected") for line in text.splitlines())
        assert msg["X-Injected"] is None and msg["Bcc"] is None
    letters = sorted((ws / "outbox" / "letter").glob("*.pdf"))
    assert letters
    for path in letters:
        lines = pypdf.PdfReader(str(path)).pages[0].extract_text().splitlines()
        assert not set("".join(lines)) & set(BIDI)
        name = [line for line in lines if "María" in line]
        assert name and all("Bcc: spy@evil.test" in line for line in name)
        assert not any(line.startswith(("Bcc:", "Second line")) for line in lines)
        # the address keeps its own lines
        assert {"1 Main St", "Apt 2", "Springfield"} <= {line.strip() for line in lines}


def test_every_open_invoice_is_a_line_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped templates list invoices one a line (a ``{% endif %}`` at the end of the
    line took the line break with it: every invoice of a message ran into one line)."""
    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("links")), tmp_path / "ws")
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    listed = 0
    for msg in _emails(ws):
        for line in _body(msg, "plain").splitlines():
            if line.startswith("- "):
                assert len(re.findall(r"INV-\d+", line)) == 1, line
                listed += 1
    assert listed > len(_emails(ws))  # some message lists several invoices
