"""Golden files: every shipped template in every shipped language, rendered for the sample
debtor of the language (``arrears.channels.templates.sample_variables``), is compared with
``tests/golden/templates/<lang>/<name>.txt``: the subject, the text, the email's HTML, and for a
letter the text of its PDF (pypdf). A change of wording shows as a diff of those files in
review. Refresh them, then read the diff:

    ARREARS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_template_golden.py
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from arrears.channels.base import Account, ChannelSettings, Message
from arrears.channels.letter import letter_pdf
from arrears.channels.templates import (
    LANGUAGES,
    SAMPLE_DAY,
    render,
    sample_debtor,
    sample_variables,
    shipped_root,
    template_names,
)

GOLDEN = Path(__file__).parent / "golden" / "templates"
ROOT = shipped_root()
assert ROOT is not None
NAMES = template_names([ROOT])
#: the creditor of the golden letters: its letterhead, bank details and payment reference
CREDITOR = {
    "channels.creditor_name": "Example Company",
    "creditor.address": "1 Creditor Road|10115 Example City",
    "creditor.registration": "HRB 123456",
    "creditor.bank": "Example Bank",
    "creditor.iban": "DE89 3704 0044 0532 0130 00",
    "creditor.bic": "COBADEFFXXX",
    "creditor.payment_reference": "ARR-{customer}",
}
LETTERS = {"notice_final", "pre_legal_notice", "carta_prejuridica"}


def channel_of(name: str) -> str:
    if name in LETTERS:
        return "letter"
    if name.endswith("_whatsapp"):
        return "whatsapp"
    return "sms" if name.endswith("_sms") else "email"


def rendered(name: str, lang: str) -> str:
    """What template ``name`` says in ``lang`` to the sample debtor, as the golden file holds
    it."""
    assert ROOT is not None
    channel = channel_of(name)
    debtor, country, _ = sample_debtor(lang)
    variables = sample_variables(lang, channel)
    out = render([ROOT], name, lang, country, variables)
    assert out.language == lang  # no shipped template falls back
    parts = [f"# {out.template} ({channel}), {debtor}, {country}, {SAMPLE_DAY.isoformat()}"]
    if channel in ("email", "letter"):
        parts += [f"subject: {out.subject}"]
    parts += ["--- text ---", out.text]
    if channel == "email":
        parts += ["--- html ---", out.html or ""]
    if channel == "letter":
        message = Message(
            key="golden", idempotency_key="golden", channel="letter",
            to=str(variables["debtor"]["postal"]), debtor="C-10042", language=lang,
            subject=out.subject, text=out.text, debtor_name=debtor,
            account=Account("C-10042", SAMPLE_DAY, tuple(variables["invoices"])),
        )  # fmt: skip
        settings = ChannelSettings(CREDITOR, ROOT)
        pdf = PdfReader(io.BytesIO(letter_pdf(message, settings, SAMPLE_DAY)))
        parts += ["--- letter PDF (text) ---", *(p.extract_text() for p in pdf.pages)]
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_shipped_template_reads_as_its_golden_file(lang: str) -> None:
    update = bool(os.environ.get("ARREARS_UPDATE_GOLDEN"))
    folder = GOLDEN / lang
    if update:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in set(folder.glob("*.txt")) - {folder / f"{n}.txt" for n in NAMES}:
            stale.unlink()
    differ = []
    for name in NAMES:
        path = folder / f"{name}.txt"
        text = rendered(name, lang)
        if update:
            path.write_text(text, encoding="utf-8")
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            differ.append(name)
    assert not differ, f"{lang}: {differ} differ from {folder} (ARREARS_UPDATE_GOLDEN=1: refresh)"
    assert sorted(p.stem for p in folder.glob("*.txt")) == NAMES  # none stale, none missing


def test_every_shipped_template_is_in_every_shipped_language() -> None:
    assert ROOT is not None
    for lang in LANGUAGES:
        assert sorted(p.stem for p in (ROOT / lang).glob("[!_]*.j2")) == NAMES, lang
        assert (ROOT / lang / "_layout.html").is_file()


#: the final notice's sentence that cites earlier contacts, per language
EARLIER = {
    "en": "Despite our earlier reminders",
    "es": "Pese a nuestros recordatorios anteriores",
    "pt": "Apesar dos nossos lembretes anteriores",
    "fr": "Malgré nos précédentes relances",
    "de": "Trotz unserer bisherigen Mahnungen",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_final_notice_cites_earlier_reminders_only_after_an_earlier_contact(
    lang: str,
) -> None:
    assert ROOT is not None
    _, country, _ = sample_debtor(lang)
    for name in ("notice_final",):
        first = sample_variables(lang, "letter") | {"earlier_contacts": 0}
        again = sample_variables(lang, "letter") | {"earlier_contacts": 1}
        assert EARLIER[lang] not in render([ROOT], name, lang, country, first).text
        assert EARLIER[lang] in render([ROOT], name, lang, country, again).text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_letters_leave_the_debtor_to_the_address_block_and_emails_name_it(lang: str) -> None:
    assert ROOT is not None
    debtor, country, _ = sample_debtor(lang)
    for name in NAMES:
        text = render([ROOT], name, lang, country, sample_variables(lang, channel_of(name))).text
        first_line = text.strip().splitlines()[0]
        if channel_of(name) == "letter":
            assert not first_line.endswith(f": {debtor}"), (name, first_line)
        elif channel_of(name) == "email":
            assert first_line.endswith(f": {debtor}"), (name, first_line)
