"""The feature catalogue: what policy conditions may use, per debtor, as of the cycle's date.

Declared once here (name, type, meaning); ``policy check`` validates conditions against it and
``docs/policy.md`` lists it. Money features are in the debtor's currency, in major units (a
condition ``balance >= 10000`` means ten thousand dollars, pesos or euros).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from arrears.policy.conditions import FeatureType

T = FeatureType


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    type: FeatureType
    doc: str


def _history(window: str) -> tuple[Feature, ...]:
    return (
        Feature(
            f"share_paid_late_{window}",
            T.NUMBER,
            f"Share (0-1) of instalments settled in the last {window} that were paid late.",
        ),
        Feature(
            f"avg_days_late_{window}",
            T.NUMBER,
            f"Average days late of instalments settled in the last {window}.",
        ),
    )


CATALOGUE: tuple[Feature, ...] = (
    Feature(
        "days_past_due", T.NUMBER, "Days past due of the oldest open instalment (<= 0: not due)."
    ),
    Feature("days_to_due", T.NUMBER, "Days until the next open instalment falls due."),
    Feature("balance", T.NUMBER, "Total open balance."),
    Feature("overdue_balance", T.NUMBER, "Open balance of instalments past due."),
    Feature("open_invoices", T.NUMBER, "Number of invoices with an open balance."),
    Feature("overdue_invoices", T.NUMBER, "Number of invoices with an instalment past due."),
    Feature(
        "bucket", T.TEXT, "Aging bucket of the oldest open instalment ('current', '1-30', ...)."
    ),
    Feature("currency", T.TEXT, "Currency of the balance (one case per debtor and currency)."),
    Feature("stage", T.TEXT, "Current collection stage of the debtor's case."),
    Feature("days_in_stage", T.NUMBER, "Days since the case entered its current stage."),
    Feature("segment", T.TEXT, "Segment assigned by the policy (usable in cadence conditions)."),
    Feature("tenure_days", T.NUMBER, "Days since the debtor's first invoice."),
    Feature("kind", T.TEXT, "'person' or 'company'."),
    Feature("country", T.TEXT, "ISO 3166 country code."),
    Feature("region", T.TEXT, "State, province or department."),
    Feature("tags", T.TEXT_LIST, "The debtor's free tags ('vip' in tags)."),
    *_history("3m"),
    *_history("6m"),
    *_history("12m"),
    Feature("last_payment_days_ago", T.NUMBER, "Days since the last payment (null: never paid)."),
    Feature("last_payment_amount", T.NUMBER, "Amount of the last payment."),
    Feature("promises_made", T.NUMBER, "Promises to pay made in the last 12 months."),
    Feature("promises_kept", T.NUMBER, "Promises kept in the last 12 months."),
    Feature("promises_broken", T.NUMBER, "Promises broken in the last 12 months."),
    Feature("promise_open", T.BOOL, "An open promise to pay is in force."),
    Feature("plan_active", T.BOOL, "A payment plan is in good standing."),
    Feature("disputed", T.BOOL, "An open dispute on any open invoice."),
    Feature("contacts_7d", T.NUMBER, "Contact attempts (all channels) in the last 7 days."),
    Feature("contacts_30d", T.NUMBER, "Contact attempts (all channels) in the last 30 days."),
    *(
        Feature(f"{ch}_contacts_{w}", T.NUMBER, f"{ch} contact attempts in the last {w}.")
        for ch in ("email", "sms", "whatsapp", "call", "letter")
        for w in ("7d", "30d")
    ),
    Feature("last_contact_days_ago", T.NUMBER, "Days since the last contact attempt."),
    Feature(
        "last_contact_outcome", T.TEXT, "Outcome of the last contact (delivered, no_answer...)."
    ),
    Feature("credit_status", T.TEXT, "'active', 'on_hold' or 'closed'."),
    Feature("credit_limit", T.NUMBER, "Credit limit."),
    Feature(
        "score",
        T.NUMBER,
        "Propensity to pay (0-1): the chance of paying at least half of what is overdue within "
        "30 days, from the workspace's trained model, else the transparent rules score.",
    ),
    Feature("expected_recovery", T.NUMBER, "score x overdue balance."),
    Feature(
        "expected_days_to_pay",
        T.NUMBER,
        "Expected days until the open invoices are paid (balance-weighted).",
    ),
    Feature(
        "overdue_balance_ref",
        T.NUMBER,
        "The overdue balance in the common unit of the workspace's [rates] (null: the currency "
        "has no rate); compares and ranks balances across currencies.",
    ),
    Feature(
        "expected_recovery_ref",
        T.NUMBER,
        "Expected recovery in the common unit of the workspace's [rates] (null: no rate).",
    ),
    Feature(
        "balance_ref",
        T.NUMBER,
        "The open balance in the common unit of the workspace's [rates] (null: no rate); "
        "compares balances across currencies (segments of large accounts).",
    ),
)

#: The scoring history features (issue 18): computed by the scoring's code
#: (``arrears.scoring.features``, as the model reads them) for the cycle's day only when a
#: condition or the priority reads one (``services.insight.scoring.with_scoring_history``), so they
#: are
#: not columns of every feature table. Null for a debtor and currency without an open balance.
SCORING_HISTORY: tuple[Feature, ...] = (
    Feature(
        "promise_kept_rate",
        T.NUMBER,
        "Share (0-1) of the promises of the last 12 months judged by the day that were kept in "
        "full (null: none judged yet); as the score reads it.",
    ),
    Feature(
        "disputes_12m",
        T.NUMBER,
        "Disputes opened in the last 12 months, open or resolved since (every currency).",
    ),
    Feature(
        "paid_share_90d",
        T.NUMBER,
        "Share (0-1) of what fell due in the last 90 days that is paid (null: nothing fell due).",
    ),
    Feature(
        "utilisation",
        T.NUMBER,
        "Open balance over the credit limit (null: no limit in the balance's currency).",
    ),
)

FEATURES: dict[str, FeatureType] = {f.name: f.type for f in (*CATALOGUE, *SCORING_HISTORY)}

#: A debtor attribute's declared type (``[import.columns.debtors]``, ``arrears.io.headers``)
#: as the conditions' type.
_ATTRIBUTE_TYPES = {"text": T.TEXT, "number": T.NUMBER, "date": T.DATE, "boolean": T.BOOL}


def attribute_features(types: Mapping[str, str]) -> dict[str, FeatureType]:
    """The features ``attr_<name>`` of the debtor attributes declared with a type (name ->
    ``number``, ``date``, ``boolean`` or ``text``). Any other ``attr_<name>`` may be used too:
    its text is read as what it is compared with (``arrears.policy.conditions``)."""
    return {f"attr_{name}": _ATTRIBUTE_TYPES[kind] for name, kind in types.items()}
