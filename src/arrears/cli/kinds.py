"""The kinds of ledger file that ``arrears import`` and ``arrears export`` take, as the user
spells them on the command line (``credit-notes``)."""

from __future__ import annotations

from enum import StrEnum

from arrears.domain.columns import Kind


class LedgerFile(StrEnum):
    DEBTORS = "debtors"
    INVOICES = "invoices"
    PAYMENTS = "payments"
    CREDIT_NOTES = "credit-notes"

    @property
    def kind(self) -> Kind:
        return Kind(self.value.replace("-", "_"))
