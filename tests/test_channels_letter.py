"""Letters carry the legally required text of the debtor's contact-rule pack, in the debtor's
language (``Pack.letter_notice``): read back from the PDF with pypdf."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from arrears.channels.base import ChannelSettings, Message
from arrears.channels.letter import letter_pdf, with_legal_notice
from arrears.contact.packs import PackError, effective_packs, shipped_packs

pypdf = pytest.importorskip("pypdf")

MINI_MIRANDA = "This communication is from a debt collector."
MINI_MIRANDA_ES = "Esta comunicación proviene de un cobrador de deudas."


def _letter(language: str = "en") -> Message:
    return Message(
        key="cycle:1:letter", idempotency_key="arrears-1", channel="letter",
        to="1 Main St, Springfield", debtor="D000001", language=language,
        subject="Statement of account", text="Invoice INV-1: $120.00, 40 days past due.",
        debtor_name="Ana Pérez",
    )  # fmt: skip


def _text(message: Message, tmp_path: Path) -> str:
    data = letter_pdf(message, ChannelSettings({"channels.creditor_name": "ACME"}, tmp_path))
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


@pytest.mark.parametrize(
    ("pack", "language", "expected"),
    [
        ("us-reg-f", "en", MINI_MIRANDA),
        ("us-reg-f", "es", MINI_MIRANDA_ES),
        ("co-ley-2300", "es", "Esta comunicación se envía conforme a la Ley 2300 de 2023."),
        ("co-ley-2300", "en", "in accordance with Colombian Law 2300 of 2023."),
        ("uk-fca", "en", "free and impartial debt advice is available from MoneyHelper"),
        ("uk-fca", "es", "free and impartial debt advice"),  # no Spanish text: English
    ],
)
def test_the_letter_ends_with_the_packs_notice_in_the_debtors_language(
    pack: str, language: str, expected: str, tmp_path: Path
) -> None:
    message = with_legal_notice(_letter(language), shipped_packs()[pack])
    assert message.legal_notice
    text = _text(message, tmp_path)
    assert expected in text
    assert text.index("40 days past due") < text.index(expected)  # after the letter's text


@pytest.mark.parametrize("pack", ["eu-b2b", "default"])
def test_packs_without_a_notice_print_none(pack: str, tmp_path: Path) -> None:
    message = with_legal_notice(_letter(), shipped_packs()[pack])
    assert message.legal_notice == ""
    text = _text(message, tmp_path)
    assert "debt collector" not in text and "Ley 2300" not in text
    assert text.endswith("40 days past due.")


def test_only_letters_get_the_notice() -> None:
    email = Message(
        key="k", idempotency_key="arrears-2", channel="email", to="a@example.com",
        debtor="D1", language="en", subject="s", text="t",
    )  # fmt: skip
    assert with_legal_notice(email, shipped_packs()["us-reg-f"]).legal_notice == ""
    assert with_legal_notice(_letter(), None).legal_notice == ""


def test_a_policy_can_replace_or_remove_the_notice(tmp_path: Path) -> None:
    # a mapping override is merged per language: an empty text removes that language
    packs = effective_packs(
        {
            "us-reg-f": {"letter_notice": {"en": "", "es": ""}},
            "uk-fca": {"letter_notice": {"en": "Our own text."}},
        }
    )
    assert with_legal_notice(_letter(), packs["us-reg-f"]).legal_notice == ""
    assert with_legal_notice(_letter("es"), packs["us-reg-f"]).legal_notice == ""
    assert "Our own text." in _text(with_legal_notice(_letter(), packs["uk-fca"]), tmp_path)
    with pytest.raises(PackError, match=r"letter_notice.*'EN'"):
        effective_packs({"uk-fca": {"letter_notice": {"EN": "x"}}})


def test_a_notice_with_characters_outside_latin_1_survives(tmp_path: Path) -> None:
    packs = effective_packs({"uk-fca": {"letter_notice": {"en": "Aviso — “counsel” ✓ Łódź"}}})
    text = _text(with_legal_notice(_letter(), packs["uk-fca"]), tmp_path)
    if Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():
        assert "Łódź" in text
    else:  # the core font: characters outside Latin-1 become "?"
        assert "Aviso" in text


def test_western_text_uses_the_core_font_and_other_text_embeds_a_unicode_font(
    tmp_path: Path,
) -> None:
    if not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():
        pytest.skip("DejaVu Sans is not installed")
    settings = ChannelSettings({"channels.creditor_name": "ACME"}, tmp_path)
    # U+202F is CLDR's group separator in fr_FR amounts: printed as a no-break space
    spanish = replace(_letter("es"), text="Total: 1.234,50 € – “pague”, señor; 1\u202f234,50 €")
    greek = replace(_letter("en"), debtor_name="Ανδρέας 😀")
    core, embedded = letter_pdf(spanish, settings), letter_pdf(greek, settings)
    assert b"/FontFile2" not in core and b"/Helvetica" in core  # nothing embedded
    assert b"/FontFile2" in embedded
    assert (
        "1.234,50 € – “pague”, señor" in pypdf.PdfReader(io.BytesIO(core)).pages[0].extract_text()
    )
    assert "Ανδρέας" in pypdf.PdfReader(io.BytesIO(embedded)).pages[0].extract_text()


# through ``arrears dispatch`` into the file sink ----------------------------------------------

CREDITOR_ENV = {
    "ARREARS_CHANNELS_LETTER": "pdf",
    "ARREARS_CHANNELS_CREDITOR_NAME": "Ejemplo Cobros S.A.",
    "ARREARS_CREDITOR_ADDRESS": "Paseo de la Castellana 1|28046 Madrid",
    "ARREARS_CREDITOR_REGISTRATION": "NIF B-12345678",
    "ARREARS_CREDITOR_BANK": "CaixaBank",
    "ARREARS_CREDITOR_IBAN": "ES91 2100 0418 4502 0005 1332",
    "ARREARS_CREDITOR_BIC": "CAIXESBBXXX",
    "ARREARS_CREDITOR_PAYMENT_REFERENCE": "ARR-{customer}",
}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pdf_text(data: bytes) -> str:
    return _flat(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages))


@pytest.fixture
def dispatched(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    from arrears.cli.app import main
    from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace

    for name, value in {**SENDING_ENV, **CREDITOR_ENV}.items():
        monkeypatch.setenv(name, value)
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("letters")), tmp_path / "ws")
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    return ws


def _open_invoices(ws: Path, external_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from arrears.store.schema import debtor, instalment, invoice
    from channels_support import engine_of

    with engine_of(ws).connect() as conn:
        query = (
            select(invoice.c.number, instalment.c.due_date, instalment.c.open_minor)
            .join(instalment, instalment.c.invoice_id == invoice.c.id)
            .join(debtor, debtor.c.id == invoice.c.debtor_id)
            .where(debtor.c.external_id == external_id, instalment.c.open_minor > 0)
        )
        return [dict(r._mapping) for r in conn.execute(query)]


def test_a_dispatched_letter_is_a_document_with_letterhead_table_totals_and_bank_details(
    dispatched: Path,
) -> None:
    from channels_support import DAY

    letters = sorted((dispatched / "outbox" / "letter").glob("*.pdf"))
    assert letters, "the base workspace sends letters"
    for path in letters:
        customer = path.name.split("-cycle")[0].split("-")[0]
        text = _pdf_text(path.read_bytes())
        # the letterhead, the return address line of the window, the customer and reference
        assert text.startswith("Ejemplo Cobros S.A. · NIF B-12345678 ")  # the page's footer
        assert "Paseo de la Castellana 1 28046 Madrid NIF B-12345678" in text
        assert "Ejemplo Cobros S.A., Paseo de la Castellana 1, 28046 Madrid" in text
        assert f"ARR-{customer}" in text
        # the invoice table: every open invoice of the debtor, by number
        assert any(h in text for h in ("Invoice Issued Due Days past due", "Factura Emisión"))
        for inv in _open_invoices(dispatched, customer):
            assert str(inv["number"]) in text
        overdue = [i for i in _open_invoices(dispatched, customer) if i["due_date"] < DAY]
        assert overdue and any(t in text for t in ("Total overdue", "Total vencido"))
        not_due = [i for i in _open_invoices(dispatched, customer) if i["due_date"] >= DAY]
        if not_due:  # the total that includes them says so
            assert (
                "Total open (overdue and not yet due)" in text or "(vencido y no vencido)" in text
            )
        else:
            assert "not yet due" not in text and "no vencido" not in text
        # how to pay, and then the page's last words: the law's notice if the pack has one
        assert "ES91 2100 0418 4502 0005 1332" in text and "CAIXESBBXXX" in text
        assert "Page 1 of" in text or "Página 1 de" in text


def test_the_statement_carries_the_table_and_no_opt_out_line(dispatched: Path) -> None:
    import email
    from email import policy
    from email.message import EmailMessage

    statements = []
    for path in (dispatched / "outbox" / "email").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        body = msg.get_body(("plain",))
        assert body is not None and "opt-out" in str(body.get_content())  # the email has it
        statements += [
            _pdf_text(part.get_content())
            for part in msg.iter_attachments()
            if part.get_content_type() == "application/pdf"
        ]
    assert statements, "dunning emails carry the statement"
    for text in statements:
        assert "Statement of account" in text or "Estado de cuenta" in text
        assert "opt-out" not in text and "To stop these emails" not in text
        assert "Para dejar de recibir" not in text
        assert "ES91 2100 0418 4502 0005 1332" in text
        assert "Total overdue" in text or "Total vencido" in text


def test_a_long_table_runs_over_pages_with_page_numbers_and_split_totals(tmp_path: Path) -> None:
    from datetime import date, timedelta

    from arrears.channels.base import Account

    day = date(2026, 12, 7)
    invoices = tuple(
        {
            "number": f"INV-{n:04d}",
            "issue_date": day - timedelta(days=60 - n),
            "due_date": day - timedelta(days=30 - n),
            "days_past_due": max(30 - n, 0),
            "currency": "EUR",
            "amount": 10_000,
            "open": 10_000,
        }
        for n in range(60)
    )
    letter = replace(_letter("es"), account=Account("C-7", day, invoices))
    settings = ChannelSettings(
        {"channels.creditor_name": "ACME", "creditor.iban": "ES91 2100 0418 4502 0005 1332"},
        tmp_path,
    )
    pages = pypdf.PdfReader(io.BytesIO(letter_pdf(letter, settings, day))).pages
    assert len(pages) == 2
    texts = [" ".join(p.extract_text().split()) for p in pages]
    assert "Página 1 de 2" in texts[0] and "Página 2 de 2" in texts[1]
    whole = " ".join(texts)
    assert all(f"INV-{n:04d}" in whole for n in range(60))
    # 30 invoices past due, 30 not yet due (due today or later): totals apart, labelled
    assert "Total vencido 3.000,00 €" in whole
    assert "Aún no vencido 3.000,00 €" in whole
    assert "Total pendiente (vencido y no vencido) 6.000,00 €" in whole
    assert "ES91 2100 0418 4502 0005 1332" in whole and "C-7" in whole


def test_the_creditors_logo_is_printed_and_a_bad_one_is_named(tmp_path: Path) -> None:
    from PIL import Image

    from arrears.channels.letter import LetterSetupError

    Image.new("RGB", (300, 100), (20, 60, 140)).save(tmp_path / "logo.png")
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")

    def pdf(logo: str) -> bytes:
        values = {"channels.creditor_name": "ACME", "creditor.logo": logo}
        return letter_pdf(_letter(), ChannelSettings(values, tmp_path))

    assert b"/Subtype /Image" in pdf("logo.png")  # relative to the workspace
    assert b"/Subtype /Image" not in letter_pdf(_letter(), ChannelSettings({}, tmp_path))
    with pytest.raises(LetterSetupError, match=r"creditor.logo .*missing.png: no such file"):
        pdf("missing.png")
    with pytest.raises(LetterSetupError, match=r"creditor.logo .*notes.txt: not a PNG or JPEG"):
        pdf("notes.txt")


#: the sentence of the final notice that needs an earlier contact, per language
DESPITE = {
    "en": "Despite our earlier reminders",
    "es": "Pese a nuestros recordatorios anteriores",
}


@pytest.fixture
def sunk(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The base workspace's letters dispatched into the default file sink, as final notices:
    D000016 (es) had a message sent ten days before, D000022 (en) and D000042 (es) none."""
    from datetime import timedelta

    from sqlalchemy import insert, select, update

    from arrears.cli.app import main
    from arrears.store.schema import debtor, outbox
    from channels_support import (
        DAY,
        SENDING_ENV,
        SENDING_TIME,
        base_workspace,
        copy_workspace,
        engine_of,
    )

    for name, value in SENDING_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ARREARS_CHANNELS_LETTER", raising=False)
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("letters")), tmp_path / "ws")
    with engine_of(ws).begin() as conn:
        ids: dict[str, int] = dict(conn.execute(select(debtor.c.external_id, debtor.c.id)).all())
        conn.execute(
            update(outbox).where(outbox.c.channel == "letter").values(template="notice_final")
        )
        letter = conn.execute(
            select(outbox).where(outbox.c.debtor_id == ids["D000016"], outbox.c.channel == "letter")
        ).one()
        sent = SENDING_TIME - timedelta(days=10)
        earlier = {
            **letter._asdict(),
            "key": "test:earlier-reminder:D000016", "channel": "email",
            "template": "notice_overdue", "status": "sent", "attempts": 1,
            "created_at": sent, "created_on": sent.date(), "sent_at": sent,
        }  # fmt: skip
        del earlier["id"]
        conn.execute(insert(outbox).values(**earlier))
    assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    return ws


def _sunk_letters(ws: Path) -> dict[str, dict[str, Any]]:
    import json

    paths = sorted((ws / "outbox" / "letter").glob("*.json"))
    letters = {(b := json.loads(p.read_text("utf-8")))["debtor"]: b for p in paths}
    assert {"D000016", "D000022", "D000042"} <= set(letters), sorted(letters)
    return letters


def test_a_letters_text_leaves_the_debtors_name_to_the_address_block(sunk: Path) -> None:
    for body in _sunk_letters(sunk).values():
        assert body["to"]  # the address block of the PDF says who the letter is for
        assert not body["text"].startswith(("Customer:", "Cliente:")), body["text"]
        assert body["text"].startswith(("Dear ", "Respetados señores:", "Estimado/a "))


def test_the_file_sinks_letter_carries_the_invoice_table_and_totals(sunk: Path) -> None:
    from channels_support import DAY

    for customer, body in _sunk_letters(sunk).items():
        # what the text refers to ("the open invoices ... are listed at the end of this letter")
        open_ = _open_invoices(sunk, customer)
        assert open_ and body["customer"] == customer
        assert [(i["number"], i["due_date"], i["open"]) for i in body["invoices"]] == sorted(
            ((str(i["number"]), i["due_date"].isoformat(), i["open_minor"]) for i in open_),
            key=lambda r: (r[1], r[0]),
        )
        for inv in body["invoices"]:
            days = (DAY - date.fromisoformat(inv["due_date"])).days
            assert inv["days_past_due"] == max(days, 0)
            assert inv["open_text"] and inv["currency"]
        (total,) = body["totals"]  # the base workspace's debtors owe in one currency
        overdue = sum(i["open_minor"] for i in open_ if i["due_date"] < DAY)
        assert total["overdue"] == overdue and total["overdue_text"]
        assert total["open"] == sum(i["open_minor"] for i in open_)
        assert total["not_yet_due"] == total["open"] - overdue


def test_the_final_notice_says_despite_earlier_reminders_only_after_an_earlier_contact(
    sunk: Path,
) -> None:
    letters = _sunk_letters(sunk)
    assert letters["D000016"]["language"] == "es"
    assert DESPITE["es"] in letters["D000016"]["text"]
    for customer in ("D000022", "D000042"):  # a first contact: no earlier reminders to cite
        body = letters[customer]
        assert body["subject"] in ("Final notice", "Último aviso")
        assert not any(d in body["text"] for d in DESPITE.values()), body["text"]
        assert "remain unpaid" in body["text"] or "siguen pendientes de pago" in body["text"]
