"""The samples of docs/channels.md ("What a debtor gets"), made by the real renderer
(``arrears.channels.samples``: the shipped templates, the notices of the sample debtor's
contact-rule pack, the letter and statement PDFs) for the sample creditor and debtors:

    .venv/bin/python docs/images/channel_samples.py > /tmp/samples.md

writes the first page of the English and Spanish pre-legal letter and statement as PNG next to
this file (pdftoppm, poppler-utils; 72 dpi, 32 colours) and prints the email, SMS and WhatsApp
samples as Markdown, to paste into docs/channels.md.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from arrears.channels.base import ChannelSettings
from arrears.channels.samples import (
    sample_message,
    sample_pdf,
    sample_settings,
    sample_statement,
)
from arrears.channels.templates import sample_debtor, sample_variables, shipped_root
from arrears.channels.whatsapp import Approved, approved_text, render_params

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parents[1] / "tests" / "golden" / "templates"
#: the approved WhatsApp templates of the sample workspace (docs/channels.md, WhatsApp)
APPROVED = {
    "en": Approved(
        "recordatorio_previo_whatsapp", "payment_reminder_v2", "en",
        ("{{ debtor.name }}", "{{ totals[0].open | money(totals[0].currency) }}",
         "{{ payment_link }}"),
        "Hello {{1}}, this is a reminder from Example Company: your open balance is {{2}}. "
        "You can pay it here: {{3}}",
    ),
    "es": Approved(
        "recordatorio_previo_whatsapp", "payment_reminder_v2", "es",
        ("{{ debtor.name }}", "{{ totals[0].open | money(totals[0].currency) }}",
         "{{ payment_link }}"),
        "Hola {{1}}, le recordamos de parte de Example Company que su saldo pendiente es de "
        "{{2}}. Puede pagarlo aquí: {{3}}",
    ),
}  # fmt: skip


def page_png(pdf: bytes, out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "72", "-png", "-f", "1", "-l", "1", "-singlefile",
             str(source), str(Path(folder) / "page")],
            check=True,
        )  # fmt: skip
        with Image.open(Path(folder) / "page.png") as image:
            image.convert("RGB").quantize(32).save(out, optimize=True)


def main() -> None:
    root = shipped_root()
    assert root is not None
    settings: ChannelSettings = sample_settings(root, GOLDEN / "logo.png")
    for lang in ("en", "es"):
        letter = sample_message([root], "pre_legal_notice", lang).message
        page_png(sample_pdf(letter, settings), HERE / f"letter-pre-legal-{lang}.png")
        page_png(sample_pdf(sample_statement(lang), settings), HERE / f"statement-{lang}.png")
    for lang, title in (("en", "English"), ("es", "Spanish")):
        email = sample_message([root], "notice_overdue", lang).message
        sms = sample_message([root], "notice_overdue_sms", lang).message
        print(f"#### The overdue notice by email, {title}\n")
        print(f"```text\nSubject: {email.subject}\n\n{email.text.strip()}\n```\n")
        print(f"#### The overdue notice by SMS, {title}\n")
        print(f"```text\n{sms.text.strip()}\n```\n")
        found = APPROVED[lang]
        _, country, _ = sample_debtor(lang)
        params = render_params(found, sample_variables(lang, "whatsapp"), lang, country)
        print(f"#### The reminder on WhatsApp, {title}\n")
        print(f"```text\n{approved_text(found, params)}\n```\n")


if __name__ == "__main__":
    main()
