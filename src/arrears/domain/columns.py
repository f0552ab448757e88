"""The canonical columns of each importable file kind: the contract between files, the readers,
the store loader and the demo generator.

A file may name a column by its canonical name, by one of the built-in aliases (English and
Spanish headers common in ERP exports; matching ignores case, accents, spaces, dashes and dots), or
by the header mapped in the workspace's ``[import.columns.<kind>]``.

After reading and validation every kind becomes a *typed frame* whose columns are the ``field``
names below with the ``dtype`` given, plus ``source`` (file name) and ``row`` (the record's row
number in the file, the header being row 1). Amounts become ``*_minor`` integers in the row's
currency; dates become ``pl.Date``; booleans accept yes/no, y/n, true/false, 1/0, si/sí.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    DEBTORS = "debtors"
    INVOICES = "invoices"
    PAYMENTS = "payments"
    CREDIT_NOTES = "credit_notes"


class Type(StrEnum):
    TEXT = "text"
    DATE = "date"
    AMOUNT = "amount"  # decimal in the file -> <field>_minor Int64 in the typed frame
    INT = "int"
    BOOL = "bool"
    CURRENCY = "currency"
    COUNTRY = "country"
    TIMEZONE = "timezone"
    PHONE = "phone"  # -> E.164 via phonenumbers, parsed with the row's country
    EMAIL = "email"
    CHOICE = "choice"
    TAGS = "tags"  # "a;b;c" -> list[str]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: Type
    required: bool = False
    doc: str = ""
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    default: str | None = None  # applied when the column is absent or the cell is empty

    @property
    def field(self) -> str:
        """Name in the typed frame."""
        return f"{self.name}_minor" if self.type is Type.AMOUNT else self.name


CONSENT = ("granted", "denied", "unknown")

_PORTFOLIO = Column(
    "portfolio",
    Type.TEXT,
    doc="Portfolio code; the workspace's default when absent.",
    aliases=("cartera", "portafolio"),
)

DEBTORS: tuple[Column, ...] = (
    Column(
        "debtor_id",
        Type.TEXT,
        True,
        "Your id for the debtor (unique per portfolio).",
        (
            "customer_id",
            "customerid",
            "customer",
            "client_id",
            "account",
            "cliente",
            "id_cliente",
            "codigo_cliente",
            "nit",
            "deudor",
        ),
    ),
    Column(
        "name",
        Type.TEXT,
        True,
        "Debtor's name.",
        ("customer_name", "razon_social", "nombre", "nombre_cliente"),
    ),
    Column(
        "kind",
        Type.CHOICE,
        doc="person or company.",
        aliases=("type", "tipo", "tipo_persona"),
        choices=("person", "company"),
        default="company",
    ),
    Column(
        "country",
        Type.COUNTRY,
        doc="ISO 3166 alpha-2; the workspace's country when absent.",
        aliases=("countrycode", "country_code", "pais"),
    ),
    Column(
        "region",
        Type.TEXT,
        doc="State, province or department.",
        aliases=("state", "province", "departamento", "provincia", "estado"),
    ),
    Column(
        "timezone",
        Type.TIMEZONE,
        doc="IANA time zone; the workspace's when absent.",
        aliases=("time_zone", "tz", "zona_horaria"),
    ),
    Column(
        "language",
        Type.TEXT,
        doc="Language for messages (en, es, ...).",
        aliases=("lang", "idioma"),
        default="en",
    ),
    Column(
        "currency",
        Type.CURRENCY,
        doc="Debtor's usual currency; the base currency when absent.",
        aliases=("moneda", "divisa"),
    ),
    Column(
        "email",
        Type.EMAIL,
        doc="Email address.",
        aliases=("e_mail", "correo", "correo_electronico"),
    ),
    Column(
        "phone",
        Type.PHONE,
        doc="Phone number; stored in E.164.",
        aliases=("telephone", "mobile", "telefono", "celular", "movil"),
    ),
    Column("address", Type.TEXT, doc="Postal address.", aliases=("postal_address", "direccion")),
    *(
        Column(
            f"consent_{ch}",
            Type.CHOICE,
            doc=f"Consent to contact by {ch}.",
            aliases=(f"consentimiento_{ch}",),
            choices=CONSENT,
            default="unknown",
        )
        for ch in ("email", "sms", "whatsapp", "call", "letter")
    ),
    Column(
        "credit_limit",
        Type.AMOUNT,
        doc="Credit limit in the debtor's currency.",
        aliases=("limite_credito", "cupo"),
    ),
    Column(
        "credit_status",
        Type.CHOICE,
        doc="active, on_hold or closed.",
        aliases=("estado_credito",),
        choices=("active", "on_hold", "closed"),
        default="active",
    ),
    Column(
        "do_not_contact", Type.BOOL, doc="Never contact.", aliases=("no_contactar",), default="no"
    ),
    Column(
        "bankrupt",
        Type.BOOL,
        doc="In insolvency proceedings.",
        aliases=("quiebra", "insolvente"),
        default="no",
    ),
    Column("deceased", Type.BOOL, doc="Deceased.", aliases=("fallecido",), default="no"),
    Column(
        "legal_representative",
        Type.BOOL,
        doc="Represented by a lawyer: contact them instead.",
        aliases=("representante_legal", "abogado"),
        default="no",
    ),
    Column("tags", Type.TAGS, doc="Free tags separated by ';'.", aliases=("etiquetas",)),
    Column(
        "segment",
        Type.TEXT,
        doc="Segment attribute (used by aging --by segment).",
        aliases=("segmento",),
    ),
    _PORTFOLIO,
)
#: Any other column named ``attr_<name>`` becomes attribute ``<name>`` of the debtor.
ATTRIBUTE_PREFIX = "attr_"

INVOICES: tuple[Column, ...] = (
    Column(
        "invoice_id",
        Type.TEXT,
        True,
        "Your id for the invoice (unique per portfolio).",
        (
            "invoicenumber",
            "invoice_number",
            "invoice",
            "document_id",
            "factura",
            "numero_factura",
            "id_factura",
            "documento",
        ),
    ),
    Column(
        "debtor_id", Type.TEXT, True, "The debtor's id, as in the debtors file.", DEBTORS[0].aliases
    ),
    Column(
        "issue_date",
        Type.DATE,
        True,
        "Date of issue.",
        ("invoicedate", "invoice_date", "date", "fecha", "fecha_emision", "fecha_factura"),
    ),
    Column(
        "due_date",
        Type.DATE,
        True,
        "Due date of this instalment.",
        ("duedate", "fecha_vencimiento", "vencimiento"),
    ),
    Column(
        "amount",
        Type.AMOUNT,
        True,
        "Amount of this instalment (> 0).",
        ("invoiceamount", "invoice_amount", "total", "importe", "monto", "valor"),
    ),
    Column(
        "currency",
        Type.CURRENCY,
        doc="ISO 4217; the debtor's currency when absent.",
        aliases=("moneda", "divisa"),
    ),
    Column(
        "number",
        Type.TEXT,
        doc="Printed number; the invoice id when absent.",
        aliases=("numero", "folio"),
    ),
    Column(
        "instalment",
        Type.INT,
        doc="Instalment number (1, 2, ...); one row per instalment.",
        aliases=("installment", "cuota", "numero_cuota"),
        default="1",
    ),
    Column(
        "disputed",
        Type.BOOL,
        doc="Under dispute. A re-import that sets it dates the dispute with the import's day "
        "(`disputed_on`: the snapshot and the propensity model read the flag as of a day); one "
        "that clears it takes the date off; an invoice that comes in disputed is undated (known "
        "since it came in).",
        aliases=("en_disputa", "disputa"),
        default="no",
    ),
    Column(
        "reference",
        Type.TEXT,
        doc="Originating document (order, contract).",
        aliases=("order", "referencia", "pedido"),
    ),
    _PORTFOLIO,
)

PAYMENTS: tuple[Column, ...] = (
    Column(
        "payment_id",
        Type.TEXT,
        True,
        "Your id for the payment (unique per portfolio).",
        ("payment", "receipt", "pago", "id_pago", "recibo"),
    ),
    Column("debtor_id", Type.TEXT, True, "The paying debtor's id.", DEBTORS[0].aliases),
    Column(
        "date",
        Type.DATE,
        True,
        "Date received.",
        ("payment_date", "settleddate", "settled_date", "fecha_pago", "fecha"),
    ),
    Column(
        "amount",
        Type.AMOUNT,
        True,
        "Amount received (> 0).",
        ("payment_amount", "importe", "monto", "valor", "valor_pagado"),
    ),
    Column(
        "currency",
        Type.CURRENCY,
        doc="ISO 4217; the debtor's currency when absent.",
        aliases=("moneda", "divisa"),
    ),
    Column("method", Type.TEXT, doc="Transfer, card, cheque, cash...", aliases=("medio", "metodo")),
    Column("reference", Type.TEXT, doc="Bank reference.", aliases=("referencia",)),
    Column(
        "invoice_id",
        Type.TEXT,
        doc="Allocate to this invoice (else by the allocation rule).",
        aliases=("factura", "aplica_a", "applies_to"),
    ),
    Column(
        "instalment",
        Type.INT,
        doc="Instalment of that invoice (default: its oldest open).",
        aliases=("installment", "cuota"),
    ),
    Column(
        "allocated_amount",
        Type.AMOUNT,
        doc="Amount allocated to that invoice (default: as much as is open, up to the payment).",
        aliases=("monto_aplicado", "valor_aplicado"),
    ),
    _PORTFOLIO,
)

CREDIT_NOTES: tuple[Column, ...] = (
    Column(
        "credit_note_id",
        Type.TEXT,
        True,
        "Your id for the credit note.",
        ("credit_note", "nota_credito", "id_nota"),
    ),
    Column("debtor_id", Type.TEXT, True, "The debtor's id.", DEBTORS[0].aliases),
    Column("date", Type.DATE, True, "Date of issue.", ("issue_date", "fecha")),
    Column("amount", Type.AMOUNT, True, "Amount credited (> 0).", ("importe", "monto", "valor")),
    Column(
        "currency",
        Type.CURRENCY,
        doc="ISO 4217; the debtor's currency when absent.",
        aliases=("moneda",),
    ),
    Column(
        "invoice_id",
        Type.TEXT,
        doc="Invoice it credits (else by the allocation rule).",
        aliases=("factura", "aplica_a"),
    ),
    Column("reason", Type.TEXT, doc="Why it was issued.", aliases=("motivo", "concepto")),
    _PORTFOLIO,
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    Kind.DEBTORS: DEBTORS,
    Kind.INVOICES: INVOICES,
    Kind.PAYMENTS: PAYMENTS,
    Kind.CREDIT_NOTES: CREDIT_NOTES,
}

#: The column that identifies a record of each kind (with ``instalment`` for invoices).
ID_COLUMN: dict[Kind, str] = {
    Kind.DEBTORS: "debtor_id",
    Kind.INVOICES: "invoice_id",
    Kind.PAYMENTS: "payment_id",
    Kind.CREDIT_NOTES: "credit_note_id",
}
