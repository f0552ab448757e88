"""Letters carry the legally required text of the debtor's contact-rule pack, in the debtor's
language (``Pack.letter_notice``): read back from the PDF with pypdf."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

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
