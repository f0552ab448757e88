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

import functools
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, cast

from babel.dates import format_date

from arrears.channels.base import ChannelSettings, Message, PermanentFailure
from arrears.channels.filesink import safe_name, write_atomically
from arrears.channels.templates import locale_for, money, safe_line, safe_lines
from arrears.contact.model import Pack

if TYPE_CHECKING:
    from fpdf import FPDF

    class _Letter(FPDF):
        footer_text: str
        page_label: str
        family: str


_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_CORE_ENCODING = "windows-1252"
#: Spaces CLDR puts in amounts and dates (U+202F in fr_FR "1 234,50 €", U+2009) printed as the
#: no-break and plain spaces that Windows-1252 has, so such text still takes the core font.
_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2007": "\u00a0", "\u2009": " ", "\u200a": " "})


_TEXT_FIELDS = ("debtor_name", "to", "subject", "text", "legal_notice")


def _width(pdf: FPDF, text: str) -> float:
    """``pdf.get_string_width(text)``; for the core font, summed from its width table
    directly (fpdf2's measure copies the graphics state on every call: most of a letter's
    cost when each word of the text is measured)."""
    widths = getattr(pdf.current_font, "cw", None)
    if not pdf.is_ttf_font and isinstance(widths, dict):
        try:
            raw = text.encode(_CORE_ENCODING).decode("latin-1")
        except UnicodeEncodeError:
            return float(pdf.get_string_width(text))
        return float(sum(widths.get(c, 0) for c in raw) * pdf.font_size / 1000)
    return float(pdf.get_string_width(text))


def _cell(
    pdf: FPDF, w: float, h: float, text: str = "", align: str = "L", *, ln: bool = False
) -> None:
    """fpdf2's ``cell`` (no border or fill) for the page's many short texts, written with
    ``text``: about eight times cheaper (a letter's table is dozens of cells; the statement
    of every dunning email has one). A cell that would cross the page's bottom margin starts
    a new page first (at the left margin only: a table row is not split)."""
    x, y = pdf.get_x(), pdf.get_y()
    if x <= pdf.l_margin + 0.01 and y + h > pdf.page_break_trigger and pdf.auto_page_break:
        pdf.add_page()
        x, y = pdf.l_margin, pdf.get_y()
    if w == 0:
        w = pdf.w - pdf.r_margin - x
    if text:
        left = x + w - pdf.c_margin - _width(pdf, text) if align == "R" else x + pdf.c_margin
        pdf.text(left, y + 0.5 * h + 0.3 * pdf.font_size, text)
    if ln:
        pdf.set_xy(pdf.l_margin, y + h)
    else:
        pdf.set_xy(x + w, y)


def _lines(pdf: FPDF, height: float, text: str) -> None:
    """``text`` line by line, each line wrapped at word boundaries to the page width (left
    aligned) and written as cells. fpdf2's ``multi_cell`` would justify, but its line breaking
    measures every character through several Python objects: a statement took 55 ms that way,
    8 ms with cells for the lines that fit, and the wrapping here is about 4x cheaper again. A
    word wider than the page still goes through ``multi_cell`` (it breaks inside the word)."""
    width, space = pdf.epw, _width(pdf, " ")

    def out(words: list[str]) -> None:
        _cell(pdf, 0, height, " ".join(words), ln=True)

    for line in text.split("\n"):
        if _width(pdf, line) <= width:
            _cell(pdf, 0, height, line, ln=True)
            continue
        words: list[str] = []
        used = 0.0
        for word in line.split(" "):
            size = _width(pdf, word)
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


class LetterSetupError(LookupError):
    """A letter cannot be made with the workspace's settings (``creditor.logo`` missing or not
    an image): the message fails with this text (never the debtor's address's fault)."""


#: The words a letter prints around the template's text, by language (English otherwise).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "date": "Date", "customer": "Customer no.", "reference": "Payment reference",
        "invoices": "Open invoices", "invoice": "Invoice", "issued": "Issued", "due": "Due",
        "dpd": "Days past due", "amount": "Amount", "open": "Open",
        "overdue": "Total overdue", "not_due": "Not yet due",
        "total": "Total open (overdue and not yet due)",
        "pay": "Please pay the overdue amount to", "bank": "Bank", "account": "IBAN/account",
        "bic": "BIC", "page": "Page {n} of {total}", "statement": "Statement of account",
    },
    "es": {
        "date": "Fecha", "customer": "N.º de cliente", "reference": "Referencia de pago",
        "invoices": "Facturas pendientes", "invoice": "Factura", "issued": "Emisión",
        "due": "Vencimiento", "dpd": "Días de mora", "amount": "Importe", "open": "Pendiente",
        "overdue": "Total vencido", "not_due": "Aún no vencido",
        "total": "Total pendiente (vencido y no vencido)",
        "pay": "Por favor, pague el importe vencido a", "bank": "Banco",
        "account": "IBAN/cuenta", "bic": "BIC", "page": "Página {n} de {total}",
        "statement": "Estado de cuenta",
    },
    "pt": {
        "date": "Data", "customer": "N.º de cliente", "reference": "Referência de pagamento",
        "invoices": "Faturas em aberto", "invoice": "Fatura", "issued": "Emissão",
        "due": "Vencimento", "dpd": "Dias de atraso", "amount": "Valor", "open": "Em aberto",
        "overdue": "Total vencido", "not_due": "Ainda não vencido",
        "total": "Total em aberto (vencido e não vencido)",
        "pay": "Por favor, pague o valor vencido a", "bank": "Banco", "account": "IBAN/conta",
        "bic": "BIC", "page": "Página {n} de {total}", "statement": "Extrato de conta",
    },
    "fr": {
        "date": "Date", "customer": "N° client", "reference": "Référence de paiement",
        "invoices": "Factures impayées", "invoice": "Facture", "issued": "Émise le",
        "due": "Échéance", "dpd": "Jours de retard", "amount": "Montant", "open": "Restant dû",
        "overdue": "Total échu", "not_due": "Non encore échu",
        "total": "Total restant dû (échu et non échu)",
        "pay": "Merci de régler le montant échu à", "bank": "Banque", "account": "IBAN/compte",
        "bic": "BIC", "page": "Page {n} sur {total}", "statement": "Relevé de compte",
    },
    "de": {
        "date": "Datum", "customer": "Kundennummer", "reference": "Verwendungszweck",
        "invoices": "Offene Rechnungen", "invoice": "Rechnung", "issued": "Datum",
        "due": "Fällig", "dpd": "Tage überfällig", "amount": "Betrag", "open": "Offen",
        "overdue": "Summe überfällig", "not_due": "Noch nicht fällig",
        "total": "Summe offen (überfällig und noch nicht fällig)",
        "pay": "Bitte überweisen Sie den überfälligen Betrag an", "bank": "Bank",
        "account": "IBAN/Konto", "bic": "BIC", "page": "Seite {n} von {total}",
        "statement": "Kontoauszug",
    },
}  # fmt: skip


def labels(language: str) -> dict[str, str]:
    return LABELS.get(language.replace("-", "_").partition("_")[0].lower(), LABELS["en"])


#: Where the debtor's address goes: the window of a DL envelope (110 x 220 mm) holding an A4
#: page folded in three (DIN 5008 form B: 20 mm from the left, 45 mm from the top, 85 x 45 mm;
#: a return-address line at the window's top, the address under it).
WINDOW = (20.0, 45.0, 85.0, 45.0)
#: The table's columns: key, width (mm), alignment; 170 mm, the page's width between margins.
COLUMNS = (
    ("invoice", 36.0, "L"),
    ("issued", 24.0, "L"),
    ("due", 24.0, "L"),
    ("dpd", 24.0, "R"),
    ("amount", 31.0, "R"),
    ("open", 31.0, "R"),
)


@functools.cache
def _letter_class() -> type[_Letter]:
    """The letter's page class, made when the first letter is: fpdf2 (and fontTools under
    it, about 0.2 s of CPU) is imported by what makes PDFs, not by every command that
    imports this module (``arrears --help``, the web pages, the dispatch of SMS)."""
    from fpdf import FPDF  # noqa: PLC0415

    class _Page(FPDF):
        """A4 with a footer: the creditor's line and ``Page n of N``. Drawn when the page starts
        (fpdf2's ``header``), at the page's foot: the page's text then still ends with the
        letter's last words (the law's notice), for whoever reads it back."""

        footer_text = ""
        page_label = "Page {n} of {total}"
        family = "Helvetica"

        def header(self) -> None:
            x, y = self.get_x(), self.get_y()
            breaks, margin = self.auto_page_break, self.b_margin
            self.set_auto_page_break(False)
            self.set_y(-14)
            self.set_font(self.family, size=7.5)
            top = self.get_y()
            self.cell(120, 4, self.footer_text, align="L")
            # "Page n of {nb}": fpdf2 puts the page count in at the end, so the label's width is
            # measured as if the count had as many digits as n (it ends at the right margin)
            n = self.page_no()
            label = self.page_label.format(n=n, total="{nb}")
            width = self.get_string_width(self.page_label.format(n=n, total=n))
            self.set_xy(self.w - self.r_margin - width - 2 * self.c_margin, top)
            self.cell(width + 2 * self.c_margin, 4, label, align="L")
            self.set_auto_page_break(breaks, margin)
            self.set_xy(x, y)
            self.set_font(self.family, size=10)

    return cast("type[_Letter]", _Page)  # with the attributes declared above


def _creditor(settings: ChannelSettings) -> dict[str, str]:
    def get(key: str) -> str:
        try:
            return settings.get(key)
        except KeyError:
            return ""

    address = get("creditor.address").replace("|", "\n")
    return {
        "name": safe_line(get("channels.creditor_name") or get("channels.from_name")),
        "address": "\n".join(safe_line(a).strip() for a in address.split("\n") if a.strip()),
        "registration": safe_line(get("creditor.registration")),
        "logo": get("creditor.logo"),
        "bank": safe_line(get("creditor.bank")),
        "iban": safe_line(get("creditor.iban")),
        "bic": safe_line(get("creditor.bic")),
        "reference": get("creditor.payment_reference") or "{customer}",
    }


def payment_reference(pattern: str, customer: str) -> str:
    """The payment reference of ``customer``: ``pattern`` with ``{customer}`` replaced."""
    return safe_line(pattern.replace("{customer}", customer))


def letter_pdf(message: Message, settings: ChannelSettings, today: date | None = None) -> bytes:
    """The letter as an A4 PDF: the creditor's letterhead (name, address, registration, logo),
    the debtor's address in the window of a DL envelope, the date, customer number and payment
    reference, the subject and the template's text, the table of open invoices (``Message.
    account``) with the totals overdue and not yet due, the bank details, the law's notice
    under a rule, and page numbers."""
    creditor = {k: v.translate(_SPACES) for k, v in _creditor(settings).items()}
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
    words = labels(message.language)
    account = message.account
    locale = locale_for(message.language, account.country if account else "")
    day = today or (account.as_of if account else date.today())
    customer = safe_line(account.customer if account else message.debtor)
    reference = payment_reference(creditor["reference"], customer)
    dated = format_date(day, "long", locale=locale).translate(_SPACES)
    rows: list[tuple[str, ...]] = []
    totals: dict[str, list[int]] = {}
    for inv in account.invoices if account else ():
        overdue = int(inv["days_past_due"]) > 0
        currency = str(inv["currency"])
        t = totals.setdefault(currency, [0, 0])
        t[0 if overdue else 1] += int(inv["open"])
        issued = inv.get("issue_date")
        rows.append(
            (
                safe_line(str(inv["number"])),
                format_date(issued, "medium", locale=locale) if issued else "",
                format_date(inv["due_date"], "medium", locale=locale),
                str(inv["days_past_due"]) if overdue else "",
                money(int(inv.get("amount", inv["open"])), currency, locale),
                money(int(inv["open"]), currency, locale),
            )
        )
    rows = [tuple(c.translate(_SPACES) for c in r) for r in rows]
    sums = {
        c: tuple(money(n, c, locale).translate(_SPACES) for n in (o, d, o + d))
        for c, (o, d) in sorted(totals.items())
    }
    texts = (
        *creditor.values(), *words.values(), message.debtor_name, message.to, message.subject,
        message.text, message.legal_notice or "", dated, customer, reference,
        *(c for r in rows for c in r), *(a for s in sums.values() for a in s),
    )  # fmt: skip
    font_path = Path(settings.get("letter.font") or _DEJAVU)
    unicode_font = not _fits_core_font(*texts) and font_path.is_file()

    def clean(text: str) -> str:
        if unicode_font:
            return text
        return text.encode(_CORE_ENCODING, "replace").decode(_CORE_ENCODING)

    pdf = _letter_class()(format="A4")
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.core_fonts_encoding = _CORE_ENCODING
    if unicode_font:
        pdf.add_font("body", "", str(font_path))
        bold = font_path.with_name(font_path.stem + "-Bold.ttf")
        pdf.add_font("body", "B", str(bold if bold.is_file() else font_path))
        pdf.family = "body"
    family = pdf.family
    registration = creditor["registration"]
    pdf.footer_text = clean(" · ".join(x for x in (creditor["name"], registration) if x))
    pdf.page_label = clean(words["page"])
    pdf.add_page()

    # the letterhead
    logo = Path(creditor["logo"]) if creditor["logo"] else None
    if logo is not None and not logo.is_absolute():
        logo = settings.root / logo
    if logo is not None:
        if not logo.is_file():
            raise LetterSetupError(f"creditor.logo {logo}: no such file")
        try:
            pdf.image(str(logo), x=150, y=12, h=18, keep_aspect_ratio=True, w=40)
        except Exception as exc:  # not an image fpdf2 reads
            raise LetterSetupError(
                f"creditor.logo {logo}: not a PNG or JPEG image ({exc})"
            ) from None
    pdf.set_xy(20, 15)
    pdf.set_font(family, "B", 14)
    _cell(pdf, 120, 7, clean(creditor["name"]), ln=True)
    pdf.set_font(family, size=8.5)
    for line in creditor["address"].split("\n") if creditor["address"] else ():
        _cell(pdf, 120, 4, clean(line), ln=True)
    if registration:
        _cell(pdf, 120, 4, clean(registration), ln=True)

    # the window: the return address, then the debtor's
    x, y, w, _ = WINDOW
    pdf.set_xy(x, y)
    pdf.set_font(family, size=6.5)
    back = ", ".join(x for x in (creditor["name"], *creditor["address"].split("\n")) if x)
    _cell(pdf, w, 4, clean(back)[:90], ln=True)
    pdf.set_xy(x, y + 6)
    pdf.set_font(family, size=10)
    for line in (message.debtor_name, *message.to.split("\n")):
        if line:
            _cell(pdf, w, 5, clean(line), ln=True)

    # the date, customer number and reference, right of the window
    pdf.set_font(family, size=9)
    for i, (label, value) in enumerate(
        ((words["date"], dated), (words["customer"], customer), (words["reference"], reference))
    ):
        pdf.set_xy(115, y + 6 + i * 5)
        _cell(pdf, 38, 5, clean(label + ":"))
        _cell(pdf, 0, 5, clean(value))

    # the subject and the text
    pdf.set_xy(20, 98)
    pdf.set_font(family, "B", 12)
    _lines(pdf, 6, clean(message.subject))
    pdf.ln(3)
    pdf.set_font(family, size=10)
    if message.text.strip():
        _lines(pdf, 5, clean(message.text.strip("\n")))

    # the table of open invoices and the totals
    if rows:
        pdf.ln(4)
        pdf.set_font(family, "B", 10)
        _cell(pdf, 0, 6, clean(words["invoices"]), ln=True)
        pdf.set_font(family, "B", 8.5)
        for key, width, align in COLUMNS:
            _cell(pdf, width, 5, clean(words[key]), align)
        pdf.set_xy(pdf.l_margin, pdf.get_y() + 5)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.set_font(family, size=8.5)
        for row in rows:
            for (_, width, align), value in zip(COLUMNS, row, strict=True):
                _cell(pdf, width, 5, clean(value), align)
            pdf.set_xy(pdf.l_margin, pdf.get_y() + 5)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        label_w = sum(c[1] for c in COLUMNS[:-1])
        for currency, (past, not_due, total) in sums.items():
            pdf.set_font(family, "B", 9)
            _cell(pdf, label_w, 5, clean(words["overdue"]), "R")
            _cell(pdf, 0, 5, clean(past), "R", ln=True)
            if totals[currency][1]:  # invoices not yet due: their own line, a labelled total
                pdf.set_font(family, size=8.5)
                _cell(pdf, label_w, 5, clean(words["not_due"]), "R")
                _cell(pdf, 0, 5, clean(not_due), "R", ln=True)
                _cell(pdf, label_w, 5, clean(words["total"]), "R")
                _cell(pdf, 0, 5, clean(total), "R", ln=True)

    # how to pay
    bank = [
        (words["bank"], creditor["bank"]),
        (words["account"], creditor["iban"]),
        (words["bic"], creditor["bic"]),
    ]
    bank = [(k, v) for k, v in bank if v]
    if bank or account is not None:
        pdf.ln(4)
        pdf.set_font(family, size=9)
        _cell(pdf, 0, 5, clean(f"{words['pay']} {creditor['name']}:"), ln=True)
        for label, value in [*bank, (words["reference"], reference)]:
            _cell(pdf, 35, 4.5, clean(label + ":"))
            _cell(pdf, 0, 4.5, clean(value), ln=True)

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
