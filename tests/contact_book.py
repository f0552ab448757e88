"""Builders for the contact guard's tests: debtors, attempts, consents and history frames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import polars as pl

from arrears.contact.frames import ATTEMPT_SCHEMA, CONSENT_SCHEMA, HISTORY_SCHEMA
from arrears.store.cycle.snapshot import DEBTOR_SCHEMA

PLACES = {
    "US": ("America/New_York", "NY", "person"),
    "CO": ("America/Bogota", "DC", "person"),
    "GB": ("Europe/London", "ENG", "person"),
    "ES": ("Europe/Madrid", "MD", "company"),
    "JP": ("Asia/Tokyo", "13", "person"),
}


def debtor(debtor_id: int, country: str = "US", **fields: Any) -> dict[str, Any]:
    tz, region, kind = PLACES.get(country, ("UTC", "", "person"))
    row: dict[str, Any] = {
        "debtor_id": debtor_id,
        "debtor_external_id": f"D{debtor_id:06d}",
        "portfolio": "main",
        "name": f"Debtor {debtor_id}",
        "kind": kind,
        "country": country,
        "region": region,
        "timezone": tz,
        "language": "en",
        "currency": "USD",
        "credit_limit_minor": None,
        "credit_status": None,
        "do_not_contact": False,
        "bankrupt": False,
        "deceased": False,
        "legal_representative": False,
        "segment": None,
        "tags": [],
    }
    row.update(fields)
    return row


def debtors(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=DEBTOR_SCHEMA)


def attempt(
    attempt_id: int,
    debtor_id: int,
    channel: str,
    planned: datetime,
    *,
    priority: int = 0,
    fallback: list[str] | None = None,
    legal_threat: bool = False,
    days_past_due: int = 30,
    validation_notice: bool = False,
) -> dict[str, Any]:
    return {
        "attempt_id": attempt_id,
        "debtor_id": debtor_id,
        "channel": channel,
        "planned_local": planned,
        "priority": priority,
        "fallback": fallback or [],
        "legal_threat": legal_threat,
        "days_past_due": days_past_due,
        "validation_notice": validation_notice,
    }


def attempts(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ATTEMPT_SCHEMA)


def consents(debtor_ids: Iterable[int], status: str = "granted", **by_channel: str) -> pl.DataFrame:
    rows = []
    for d in debtor_ids:
        for ch in ("email", "sms", "whatsapp", "call", "letter"):
            rows.append({"debtor_id": d, "channel": ch, "status": by_channel.get(ch, status)})
    return pl.DataFrame(rows, schema=CONSENT_SCHEMA)


def history(rows: Iterable[tuple[int, str, datetime, str]] = ()) -> pl.DataFrame:
    return pl.DataFrame(
        [{"debtor_id": d, "channel": c, "at": at, "kind": k} for d, c, at, k in rows],
        schema=HISTORY_SCHEMA,
    )
