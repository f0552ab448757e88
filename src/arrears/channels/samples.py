"""The sample documents and messages: every shipped template rendered for the sample debtor of a
language (:func:`arrears.channels.templates.sample_variables`) by the dispatcher's own pieces
(the template, the law's notices of the debtor's contact-rule pack, the letter and statement
PDFs), for a sample creditor. The golden files (tests/test_template_golden.py) and the samples in
docs/channels.md are made with it, so they show what a debtor gets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import polars as pl

from arrears.channels.base import Account, ChannelSettings, Message
from arrears.channels.letter import labels, letter_pdf
from arrears.channels.notices import with_notices
from arrears.channels.templates import (
    SAMPLE_DAY,
    Rendered,
    render,
    sample_debtor,
    sample_variables,
)
from arrears.contact.model import Pack
from arrears.contact.packs import pack_for, shipped_packs

#: The creditor of the samples: its letterhead, bank details and payment reference.
CREDITOR = {
    "channels.creditor_name": "Example Company",
    "creditor.address": "1 Creditor Road|10115 Example City",
    "creditor.registration": "HRB 123456",
    "creditor.bank": "Example Bank",
    "creditor.iban": "DE89 3704 0044 0532 0130 00",
    "creditor.bic": "COBADEFFXXX",
    "creditor.payment_reference": "ARR-{customer}",
}
#: The shipped templates that are letters (the others: by their name's ending).
LETTERS = frozenset({"notice_final", "pre_legal_notice", "carta_prejuridica"})


def channel_of(name: str) -> str:
    """The channel a shipped template is written for."""
    if name in LETTERS:
        return "letter"
    if name.endswith("_whatsapp"):
        return "whatsapp"
    return "sms" if name.endswith("_sms") else "email"


def sample_settings(root: Path, logo: Path | None = None) -> ChannelSettings:
    """The sample creditor's settings (``root``: the folder relative paths are read from)."""
    values = dict(CREDITOR) | ({"creditor.logo": str(logo)} if logo is not None else {})
    return ChannelSettings(values, root)


@cache
def sample_pack(language: str) -> Pack:
    """The contact-rule pack of the sample debtor of ``language`` (a company in its country):
    the one whose notices the dispatcher would add."""
    _, country, _ = sample_debtor(language)
    packs = shipped_packs()
    row = pl.DataFrame({"country": [country], "kind": ["company"], "region": [None]})
    return packs[str(pack_for(row, packs)[0])]


@dataclass(frozen=True, slots=True)
class Sample:
    """A rendered sample: the template's output and the message the dispatcher would send."""

    rendered: Rendered
    message: Message


def sample_message(roots: list[Path], name: str, language: str) -> Sample:
    """Template ``name`` rendered for the sample debtor of ``language`` on its channel, with
    the notices of the debtor's pack, as the dispatcher builds it (a letter carries the
    account its PDF prints as a table)."""
    channel = channel_of(name)
    debtor, country, _ = sample_debtor(language)
    variables = sample_variables(language, channel)
    out = render(roots, name, language, country, variables)
    customer = str(variables["debtor"]["id"])
    points = {"email": "email", "sms": "phone", "whatsapp": "phone", "letter": "postal"}
    message = Message(
        key="sample", idempotency_key="sample", channel=channel,
        to=str(variables["debtor"][points[channel]]), debtor=customer, language=language,
        subject=out.subject, text=out.text, html=out.html if channel == "email" else None,
        debtor_name=debtor,
        account=Account(customer, SAMPLE_DAY, tuple(variables["invoices"]), country)
        if channel == "letter"
        else None,
    )  # fmt: skip
    return Sample(out, with_notices(message, sample_pack(language)))


def sample_statement(language: str) -> Message:
    """The statement of account the dispatcher attaches to a dunning email of the sample
    debtor of ``language`` (no template text: the title, the table, how to pay, the notice)."""
    debtor, country, _ = sample_debtor(language)
    variables = sample_variables(language, "letter")
    customer = str(variables["debtor"]["id"])
    letter = Message(
        key="sample", idempotency_key="sample", channel="letter",
        to=str(variables["debtor"]["postal"]), debtor=customer, language=language,
        subject=labels(language)["statement"], text="", debtor_name=debtor,
        account=Account(customer, SAMPLE_DAY, tuple(variables["invoices"]), country),
    )  # fmt: skip
    return with_notices(letter, sample_pack(language))


def sample_pdf(message: Message, settings: ChannelSettings) -> bytes:
    """The PDF of a sample letter or statement, dated :data:`SAMPLE_DAY`."""
    return letter_pdf(replace(message, channel="letter"), settings, SAMPLE_DAY)
