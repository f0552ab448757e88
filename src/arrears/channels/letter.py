"""Letters as PDF (fpdf2): the rendered letter (the template's text: the debtor, every open
invoice with its days past due, the totals, how to pay) on an A4 page with the creditor's and
the debtor's details, written to ``<channels.outbox_dir>/letter/<debtor>-<key>.pdf``; that folder
is the print batch for a mail house. fpdf2 because it is pure Python (no system libraries, small
wheel) and embeds a TrueType font for non-Latin text; ReportLab would also do but is larger and
its open-source edition lacks nothing we need from it.

The legally required text of the debtor's jurisdiction (``Message.legal_notice``, from the
contact-rule pack's ``letter_notice`` in the debtor's language: :func:`with_legal_notice`, which
the dispatcher applies to every letter and statement through
:func:`arrears.channels.notices.with_notices`) ends the letter, under a rule, so it cannot be
mistaken for part of the template's text.

The debtor's name and the creditor's are printed as one line each and the postal address with
its own lines, without bidirectional or other control characters
(:func:`arrears.channels.templates.safe_line`): an imported name cannot reorder what is printed
or add lines to the address block.

A letter whose text is all Windows-1252 (English and Spanish, with the euro sign and typographic
quotes) is set in the PDF's built-in Helvetica: nothing to embed, about six times faster than
embedding a TrueType font (parsing and subsetting it is most of a PDF's cost, and every dunning
email carries one). Other text needs a Unicode TrueType font: ``letter.font`` (a .ttf path),
else DejaVu Sans when the system has it, else the core font with unknown characters replaced by
``?``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from babel.dates import format_date
from fpdf import FPDF

from arrears.channels.base import ChannelSettings, Message, PermanentFailure
from arrears.channels.filesink import safe_name, write_atomically
from arrears.channels.templates import locale_for, safe_line, safe_lines
from arrears.contact.model import Pack

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_CORE_ENCODING = "windows-1252"
#: Spaces CLDR puts in amounts and dates (U+202F in fr_FR "1 234,50 €", U+2009) printed as the
#: no-break and plain spaces that Windows-1252 has, so such text still takes the core font.
_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2007": "\u00a0", "\u2009": " ", "\u200a": " "})


_TEXT_FIELDS = ("debtor_name", "to", "subject", "text", "legal_notice")


def _lines(pdf: FPDF, height: float, text: str) -> None:
    """``text`` line by line, each line wrapped at word boundaries to the page width (left
    aligned) and written as cells. fpdf2's ``multi_cell`` would justify, but its line breaking
    measures every character through several Python objects: a statement took 55 ms that way,
    8 ms with cells for the lines that fit, and the wrapping here is about 4x cheaper again. A
    word wider than the page still goes through ``multi_cell`` (it breaks inside the word)."""
    width, space = pdf.epw, pdf.get_string_width(" ")

    def out(words: list[str]) -> None:
        pdf.cell(0, height, " ".join(words), new_x="LMARGIN", new_y="NEXT")

    for line in text.split("\n"):
        if pdf.get_string_width(line) <= width:
            pdf.cell(0, height, line, new_x="LMARGIN", new_y="NEXT")
            continue
        words: list[str] = []
        used = 0.0
        for word in line.split(" "):
            size = pdf.get_string_width(word)
            if size > width:
                if words:
                    out(words)
                words, used = [], 0.0
                pdf.multi_cell(0, height, word, new_x="LMARGIN", new_y="NEXT", align="L")
            elif words and used + space + size > width:
                out(words)
                words, used = [word], size
            else:
                used = size if not words else used + space + size
                words.append(word)
        if words:
            out(words)


def _fits_core_font(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode(_CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def with_legal_notice(message: Message, pack: Pack | None) -> Message:
    """``message`` with the legal notice of ``pack`` (the debtor's contact-rule pack) in the
    message's language, for letters; other channels and packs without a notice are unchanged."""
    if pack is None or message.channel != "letter":
        return message
    return replace(message, legal_notice=pack.notice(message.language))


def letter_pdf(message: Message, settings: ChannelSettings, today: date | None = None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.core_fonts_encoding = _CORE_ENCODING
    pdf.add_page()
    creditor = settings.get("channels.creditor_name") or settings.get("channels.from_name")
    message = replace(
        message,
        debtor_name=safe_line(message.debtor_name),
        to=safe_lines(message.to),
        subject=safe_line(message.subject),
    )
    message = replace(
        message,
        **{f: getattr(message, f).translate(_SPACES) for f in _TEXT_FIELDS},
    )
    creditor = safe_line(creditor).translate(_SPACES)
    texts = (creditor, message.debtor_name, message.to, message.subject, message.text)
    font_path = Path(settings.get("letter.font") or _DEJAVU)
    unicode_font = not _fits_core_font(*texts, message.legal_notice or "") and font_path.is_file()
    if unicode_font:
        pdf.add_font("body", "", str(font_path))
        family = "body"
    else:
        family = "Helvetica"

    def clean(text: str) -> str:
        if unicode_font:
            return text
        return text.encode(_CORE_ENCODING, "replace").decode(_CORE_ENCODING)

    pdf.set_font(family, size=10)
    _lines(pdf, 5, clean(creditor))
    pdf.ln(8)
    _lines(pdf, 5, clean(message.debtor_name))
    _lines(pdf, 5, clean(message.to))
    pdf.ln(6)
    dated = format_date(today or date.today(), "long", locale=locale_for(message.language, ""))
    pdf.cell(0, 5, clean(dated.translate(_SPACES)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, size=12)
    _lines(pdf, 6, clean(message.subject))
    pdf.ln(3)
    pdf.set_font(family, size=10)
    _lines(pdf, 5, clean(message.text))
    if message.legal_notice:
        pdf.ln(6)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(2)
        pdf.set_font(family, size=9)
        _lines(pdf, 4.5, clean(message.legal_notice))
    return bytes(pdf.output())


class PdfLetterChannel:
    dedup = True  # the same file name: a resend overwrites it

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        folder = Path(settings.get("channels.outbox_dir") or "outbox")
        self.folder = folder if folder.is_absolute() else settings.root / folder

    def send(self, message: Message) -> str:
        if not message.to:
            raise PermanentFailure("no postal address")
        path = self.folder / "letter" / f"{safe_name(message)}.pdf"
        write_atomically(path, letter_pdf(message, self.settings))
        return str(path)

    def close(self) -> None:
        return None
