"""The email as sent: its MIME boundaries are made without a regular expression per message
(issue 19's throughput), and still never appear in the parts they separate."""

from __future__ import annotations

import email
from pathlib import Path

import pytest

from arrears.channels import smtp
from arrears.channels.base import Attachment, Message
from arrears.channels.samples import sample_settings


def test_a_boundary_that_occurs_in_the_parts_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([7, 8])
    monkeypatch.setattr(smtp.random, "randrange", lambda _n: next(draws))
    taken = smtp._Generator._make_boundary(None)  # the first draw, 7
    draws = iter([7, 8])
    text = f"a part\r\n--{taken}\r\nthat looks like a boundary".encode()
    chosen = smtp._Generator._make_boundary(text)
    assert chosen != taken
    assert chosen.endswith(f"{8:0{smtp._BOUNDARY_DIGITS}d}==")
    assert f"--{chosen}".encode() not in text


def test_an_email_with_html_and_a_statement_parses_back_into_its_parts() -> None:
    message = Message(
        key="k1", idempotency_key="k1-id", channel="email", to="ana@example.com", debtor="D1",
        language="es", subject="Factura vencida", text="Hola,\n\nsu factura está vencida.",
        html="<p>Hola,</p><p>su factura está vencida.</p>",
        attachments=(Attachment("statement.pdf", b"%PDF-1.4 ...", "application/pdf"),),
    )  # fmt: skip
    wire = smtp.email_bytes(smtp.build_email(message, sample_settings(Path("."))))
    parsed = email.message_from_bytes(wire)
    kinds = [part.get_content_type() for part in parsed.walk()]
    assert kinds == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf",
    ]  # fmt: skip
    parts = list(parsed.walk())
    assert parts[2].get_payload(decode=True).decode() == "Hola,\r\n\r\nsu factura está vencida."
    assert parts[4].get_payload(decode=True) == b"%PDF-1.4 ..."
    assert parsed.get_boundary() != parts[1].get_boundary()
    assert b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")
