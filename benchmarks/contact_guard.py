"""The contact guard on 1M planned contacts across ~20 time zones.

Run: .venv/bin/python benchmarks/contact_guard.py [--attempts 1000000]
Prints the machine line and the seconds the guard takes (inputs built beforehand).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

from arrears.contact.frames import ATTEMPT_SCHEMA, CONSENT_SCHEMA, HISTORY_SCHEMA
from arrears.contact.guard import guard
from arrears.contact.packs import shipped_packs
from arrears.store.cycle.snapshot import DEBTOR_SCHEMA

PLACES = [
    ("US", "NY", "America/New_York"),
    ("US", "IL", "America/Chicago"),
    ("US", "CO", "America/Denver"),
    ("US", "CA", "America/Los_Angeles"),
    ("US", "AZ", "America/Phoenix"),
    ("US", "HI", "Pacific/Honolulu"),
    ("CO", "DC", "America/Bogota"),
    ("MX", "CMX", "America/Mexico_City"),
    ("BR", "SP", "America/Sao_Paulo"),
    ("GB", "ENG", "Europe/London"),
    ("ES", "MD", "Europe/Madrid"),
    ("ES", "CN", "Atlantic/Canary"),
    ("DE", "BY", "Europe/Berlin"),
    ("FR", "", "Europe/Paris"),
    ("IT", "", "Europe/Rome"),
    ("PL", "", "Europe/Warsaw"),
    ("IN", "", "Asia/Kolkata"),
    ("JP", "", "Asia/Tokyo"),
    ("AU", "NSW", "Australia/Sydney"),
    ("ZA", "", "Africa/Johannesburg"),
]
CHANNELS = np.array(["email", "sms", "whatsapp", "call", "letter"])


def build(n_attempts: int, seed: int = 7) -> tuple[pl.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    n_debtors = n_attempts // 2
    place = rng.integers(0, len(PLACES), n_debtors)
    country, region, tz = (np.array([p[i] for p in PLACES])[place] for i in range(3))
    ids = np.arange(1, n_debtors + 1)
    debtors = pl.DataFrame(
        {
            "debtor_id": ids,
            "debtor_external_id": [None] * n_debtors,
            "portfolio": "main",
            "name": None,
            "kind": np.where(rng.random(n_debtors) < 0.3, "company", "person"),
            "country": country,
            "region": region,
            "timezone": tz,
            "language": "en",
            "currency": "USD",
            "credit_limit_minor": None,
            "credit_status": None,
            "do_not_contact": rng.random(n_debtors) < 0.01,
            "bankrupt": rng.random(n_debtors) < 0.005,
            "deceased": rng.random(n_debtors) < 0.002,
            "legal_representative": rng.random(n_debtors) < 0.005,
            "segment": None,
            "tags": pl.Series([[]] * n_debtors, dtype=pl.List(pl.String())),
        }
    ).cast(DEBTOR_SCHEMA)  # type: ignore[arg-type]
    statuses = np.array(["granted", "granted", "unknown", "denied", "none"])
    consents = pl.DataFrame(
        {
            "debtor_id": np.repeat(ids, 5),
            "channel": np.tile(CHANNELS, n_debtors),
            "status": statuses[rng.integers(0, 5, n_debtors * 5)],
        },
        schema=CONSENT_SCHEMA,
    )
    base = datetime(2026, 11, 23, tzinfo=UTC)
    n_hist = n_attempts
    history = pl.DataFrame(
        {
            "debtor_id": rng.integers(1, n_debtors + 1, n_hist),
            "channel": CHANNELS[rng.integers(0, 5, n_hist)],
            "at": [base] * n_hist,
            "kind": np.where(rng.random(n_hist) < 0.1, "conversation", "attempt"),
        },
        schema=HISTORY_SCHEMA,
    ).with_columns(
        pl.col("at") - pl.duration(minutes=pl.Series(rng.integers(1, 30 * 24 * 60, n_hist)))
    )
    planned = datetime(2026, 11, 23, 6)
    attempts = (
        pl.DataFrame(
            {
                "attempt_id": np.arange(n_attempts),
                "debtor_id": np.concatenate([ids, ids])[:n_attempts],
                "channel": CHANNELS[rng.integers(0, 5, n_attempts)],
                "planned_local": [planned] * n_attempts,
                "priority": rng.integers(0, 3, n_attempts),
                "fallback": pl.Series([["letter"]] * n_attempts),
                "legal_threat": rng.random(n_attempts) < 0.05,
                "days_past_due": rng.integers(1, 3000, n_attempts),
                "validation_notice": False,
            }
        )
        .with_columns(
            pl.col("planned_local")
            + pl.duration(minutes=pl.Series(rng.integers(0, 16 * 60, n_attempts)))
        )
        .cast(ATTEMPT_SCHEMA)
    )  # type: ignore[arg-type]
    return attempts, debtors, consents, history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=1_000_000)
    args = parser.parse_args()
    print(describe())
    attempts, debtors, consents, history = build(args.attempts)
    packs = shipped_packs()
    start = time.perf_counter()
    out = guard(attempts, debtors, consents, history, packs)
    seconds = time.perf_counter() - start
    counts = out.group_by("decision").len().sort("decision").rows()
    print(
        f"contact guard: {args.attempts:,} attempts, {debtors.height:,} debtors, "
        f"{history.height:,} history rows, {len(PLACES)} time zones: {seconds:.2f} s "
        f"({dict(counts)})"
    )


if __name__ == "__main__":
    main()
