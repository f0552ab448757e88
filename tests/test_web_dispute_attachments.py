"""A debtor disputes an invoice with a file through HTTP (``multipart/form-data`` on
``/pay/<token>/dispute``): a PDF, JPEG or PNG by its content, at most
``web.attachment_max_bytes``; anything else is refused in the debtor's language with nothing
stored (not even the dispute). Collectors, managers and auditors download it from
``/disputes`` (linked from the account page); a debtor's token, anyone's, gets nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from arrears import config
from arrears.channels.base import debtor_token
from arrears.domain.actor import debtor as debtor_actor
from arrears.domain.errors import NotAllowed
from arrears.services.arrangements import disputes
from arrears.services.uow import SqlUnitOfWork, open_store
from arrears.store.schema import activity, dispute, dispute_attachment, invoice
from arrears.store.schema import debtor as debtor_table
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace, engine_of
from test_web_app import NOW, add_user, login

MAX = 40_000  # web.attachment_max_bytes in these tests
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\r\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x0dIHDR" + bytes(500)


@dataclass
class Site:
    ws: Path
    client: TestClient
    secret: str

    def link(self, debtor: str) -> str:
        return f"/pay/{debtor_token(self.secret, debtor)}"


@pytest.fixture
def site(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("attach")), tmp_path / "ws")
    for name, role in (("maria", "collector"), ("ana", "auditor"), ("mo", "manager")):
        assert add_user(ws, monkeypatch, name, role) == 0
    now: list[datetime] = [NOW]
    env = {"ARREARS_WEB_ATTACHMENT_MAX_BYTES": str(MAX)}
    app = create_app(config.load(ws, env=env), clock=lambda: now[0])
    with TestClient(app, follow_redirects=False) as client:
        yield Site(ws, client, config.load(ws, env={}).get("channels.secret"))


def _debtor(ws: Path, language: str) -> tuple[str, str]:
    """A debtor speaking ``language`` with an open invoice no dispute holds, and its number."""
    with engine_of(ws).connect() as conn:
        row = conn.execute(
            select(debtor_table.c.external_id, invoice.c.number)
            .join(invoice, invoice.c.debtor_id == debtor_table.c.id)
            .where(
                invoice.c.status == "open",
                invoice.c.disputed.is_(False),
                debtor_table.c.language.startswith(language),
            )
            .order_by(debtor_table.c.external_id, invoice.c.number)
            .limit(1)
        ).one()
    return str(row[0]), str(row[1])


def _count(ws: Path, table: object) -> int:
    with engine_of(ws).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _send(site: Site, debtor: str, number: str, name: str, content: bytes, kind: str) -> object:
    return site.client.post(
        f"{site.link(debtor)}/dispute",
        data={"invoice": number, "reason": "the delivery note shows 3 boxes, not 5"},
        files={"attachment": (name, content, kind)},
    )


def test_a_debtor_attaches_a_pdf_and_the_collectors_download_it(site: Site) -> None:
    debtor, number = _debtor(site.ws, "en")
    form = site.client.get(site.link(debtor)).text.split('id="dispute-form"')[1].split("</form>")[0]
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form
    sent = _send(site, debtor, number, "delivery note.pdf", PDF, "application/pdf")
    assert sent.status_code == 303, sent.text  # type: ignore[attr-defined]
    with engine_of(site.ws).connect() as conn:
        stored = conn.execute(select(dispute_attachment)).mappings().one()
        added = conn.execute(
            select(activity.c.actor, activity.c.payload).where(
                activity.c.kind == "dispute.attachment_added"
            )
        ).one()
    assert stored["media_type"] == "application/pdf" and stored["size_bytes"] == len(PDF)
    assert stored["sha256"] == hashlib.sha256(PDF).hexdigest() and stored["content"] == PDF
    assert stored["file_name"] == "delivery note.pdf" and added.actor == f"debtor:{debtor}"
    dispute_id, attachment_id = stored["dispute_id"], stored["id"]
    href = f"/disputes/{dispute_id}/attachments/{attachment_id}"

    # nobody logged in (a debtor with their own token included): nothing
    assert site.client.get(href).status_code in (303, 401)
    for role_user in ("maria", "mo", "ana"):  # collector, manager, auditor
        site.client.cookies.clear()
        assert login(site.client, role_user) == 303
        account = site.client.get(f"/accounts/{debtor}").text
        assert f'href="/disputes?debtor={debtor}"' in account
        listed = site.client.get(f"/disputes?debtor={debtor}")
        assert listed.status_code == 200 and f'href="{href}"' in listed.text
        assert "delivery note.pdf" in listed.text
        got = site.client.get(href)
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith(
            'attachment; filename="delivery note.pdf"'
        )
        assert (
            site.client.get(f"/disputes/{dispute_id}/attachments/{attachment_id + 9}").status_code
            == 404
        )
    # the same file sent again with the invoice's dispute open is stored once
    site.client.cookies.clear()
    again = _send(site, debtor, number, "copy.pdf", PDF, "application/pdf")
    assert again.status_code == 303 and _count(site.ws, dispute_attachment) == 1  # type: ignore[attr-defined]
    # a second file for the open dispute is added to it
    png = _send(site, debtor, number, "photo.png", PNG, "image/png")
    assert png.status_code == 303  # type: ignore[attr-defined]
    with engine_of(site.ws).connect() as conn:
        kinds = conn.execute(
            select(dispute_attachment.c.dispute_id, dispute_attachment.c.media_type).order_by(
                dispute_attachment.c.id
            )
        ).all()
    assert kinds == [(dispute_id, "application/pdf"), (dispute_id, "image/png")]


def test_the_debtor_token_of_another_debtor_gets_nothing(site: Site) -> None:
    debtor, number = _debtor(site.ws, "en")
    other, _ = _debtor(site.ws, "es")
    assert other != debtor
    assert _send(site, debtor, number, "n.pdf", PDF, "application/pdf").status_code == 303  # type: ignore[attr-defined]
    # another debtor may not dispute this debtor's invoice nor see the file
    refused = _send(site, other, number, "x.pdf", PDF + b"x", "application/pdf")
    assert refused.status_code == 422 and _count(site.ws, dispute_attachment) == 1  # type: ignore[attr-defined]
    assert "n.pdf" not in site.client.get(site.link(other)).text
    with engine_of(site.ws).connect() as conn:
        ids = conn.execute(select(dispute_attachment.c.dispute_id, dispute_attachment.c.id)).one()
    engine = open_store(f"sqlite:///{site.ws / 'arrears.db'}", checked=False)
    for who in (other, debtor):  # a debtor's actor may not read attachments through the use case
        with pytest.raises(NotAllowed):
            disputes.attachment_file(SqlUnitOfWork(engine), debtor_actor(who), ids[0], ids[1])


@pytest.mark.parametrize(
    ("name", "content", "kind", "english"),
    [
        ("invoice.pdf", b"MZ\x90\x00 not a pdf" * 10, "application/pdf",
         "the file is not a PDF, JPEG or PNG (by its content)"),
        ("page.html", b"<html><script>alert(1)</script></html>", "text/html",
         "the file is not a PDF, JPEG or PNG (by its content)"),
        ("photo.pdf", PNG, "application/pdf", "the file&#39;s name does not end in .png"),
        ("big.pdf", PDF[:9] + bytes(MAX), "application/pdf", f"at most {MAX} bytes"),
        ("huge.pdf", PDF[:9] + bytes(MAX + 200_000), "application/pdf", f"at most {MAX} bytes"),
    ],
)  # fmt: skip
def test_a_wrong_or_too_big_file_is_refused_and_nothing_is_stored(
    site: Site, name: str, content: bytes, kind: str, english: str
) -> None:
    debtor, number = _debtor(site.ws, "en")
    before = (_count(site.ws, dispute), _count(site.ws, dispute_attachment))
    answer = _send(site, debtor, number, name, content, kind)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    problems = answer.text.split('id="problems-dispute"')[1].split("</div>")[0]  # type: ignore[attr-defined]
    assert english in problems and "Document" in problems
    assert (_count(site.ws, dispute), _count(site.ws, dispute_attachment)) == before


def test_a_spanish_debtor_reads_the_refusal_in_spanish(site: Site) -> None:
    debtor, number = _debtor(site.ws, "es")
    before = (_count(site.ws, dispute), _count(site.ws, dispute_attachment))
    wrong = _send(site, debtor, number, "factura.pdf", b"GIF89a....", "application/pdf")
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert "El archivo no es un PDF, JPEG ni PNG" in wrong.text  # type: ignore[attr-defined]
    big = _send(site, debtor, number, "f.png", PNG + bytes(MAX), "image/png")
    said = re.sub(r"\s+", " ", big.text)  # type: ignore[attr-defined]
    assert big.status_code == 422 and f"se aceptan como mucho {MAX} bytes" in said  # type: ignore[attr-defined]
    assert "Documento" in said and "No se guardó nada" in said
    assert (_count(site.ws, dispute), _count(site.ws, dispute_attachment)) == before
