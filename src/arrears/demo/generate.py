"""The demo portfolio: debtors, invoices and payments generated in chunks and written as files.

Debtors are generated in chunks of :data:`CHUNK_DEBTORS` (bounded memory); chunk ``k`` draws
from a random generator seeded with ``(seed, k)``, so the same ``(debtors, months, seed, end)``
always produce the same files, byte for byte. ``end`` is the portfolio's "today": invoices are
issued in the ``months`` before it and payments after it are not written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from arrears.demo import archetypes, revolving
from arrears.demo.backlog import SHAPE, make_backlog
from arrears.demo.debtors import make_debtors
from arrears.demo.files import FileFormat, PortfolioFiles
from arrears.demo.invoices import make_invoices
from arrears.demo.payments import make_payments
from arrears.demo.stats import GenerationStats, Tally
from arrears.domain.columns import Kind

CHUNK_DEBTORS = 100_000

#: Called after each chunk with (debtors done, debtors in all).
Progress = Callable[[int, int], None]


class Profile(StrEnum):
    """The shape of the portfolio."""

    DEMO = "demo"
    """Most debtors current on the day (calibrated on the IBM accounts-receivable sample)."""
    BACKLOG = "backlog"
    """A takeover backlog: five invoices per debtor over ``months``, most debtors overdue,
    partial payments, every payment allocated explicitly (:mod:`arrears.demo.backlog`)."""
    REVOLVING = "revolving"
    """Consumer credit cards: limits, monthly statements with a minimum payment, transactors,
    revolvers, minimum-payment rollers, late payers and defaults (:mod:`arrears.demo.revolving`)."""


def parameters(profile: Profile) -> dict[str, object]:
    """The shape parameters of ``profile`` (kept with the statistics and in benchmark output)."""
    if profile is Profile.BACKLOG:
        return SHAPE.to_dict()
    if profile is Profile.REVOLVING:
        return revolving.SHAPE.to_dict()
    return {"archetypes": [a._asdict() for a in archetypes.ARCHETYPES]}


class Chunk(NamedTuple):
    """One chunk of the portfolio: canonical fields (amounts in minor units) plus internals."""

    debtors: pl.DataFrame
    invoices: pl.DataFrame
    """One row per instalment."""
    payments: pl.DataFrame


def check_arguments(debtors: int, months: int, seed: int) -> list[str]:
    """Problems with the arguments, as sentences (empty when they are fine)."""
    problems = []
    if debtors <= 0:
        problems.append(f"the number of debtors must be positive, not {debtors}")
    if months <= 0:
        problems.append(f"the number of months must be positive, not {months}")
    if seed < 0:
        problems.append(f"the seed must be zero or positive, not {seed}")
    return problems


def chunks(
    debtors: int,
    months: int,
    seed: int,
    end: date,
    profile: Profile = Profile.DEMO,
    *,
    revolving_shape: revolving.RevolvingShape = revolving.SHAPE,
) -> Iterator[Chunk]:
    """The portfolio, chunk by chunk (ids run on across chunks); ``revolving_shape``: the
    revolving profile's parameters (benchmarks vary them)."""
    problems = check_arguments(debtors, months, seed)
    if problems:
        raise ValueError("; ".join(problems))
    id_width = max(6, len(str(debtors)))
    p_dispute = archetypes.parameter("p_dispute")
    invoices_so_far = payments_so_far = 0
    for number, first in enumerate(range(0, debtors, CHUNK_DEBTORS)):
        rng = np.random.default_rng([seed, number])
        size = min(CHUNK_DEBTORS, debtors - first)
        chunk_debtors = make_debtors(rng, first, size, id_width)
        if profile is Profile.REVOLVING:
            chunk_debtors, invoices, payments = revolving.make_revolving(
                rng,
                chunk_debtors,
                months=months,
                end=end,
                first_invoice=invoices_so_far,
                first_payment=payments_so_far,
                shape=revolving_shape,
            )
        elif profile is Profile.BACKLOG:
            invoices, payments = make_backlog(
                rng,
                chunk_debtors,
                months=months,
                end=end,
                first_invoice=invoices_so_far,
                first_payment=payments_so_far,
            )
        else:
            invoices = make_invoices(
                rng,
                chunk_debtors,
                months=months,
                end=end,
                first=invoices_so_far,
                p_dispute=p_dispute,
            )
            payments = make_payments(rng, invoices, end=end, first=payments_so_far)
        invoices_so_far += invoices["invoice_id"].n_unique()
        payments_so_far += payments.height
        yield Chunk(chunk_debtors, invoices, payments)


def generate(
    debtors: int,
    months: int,
    seed: int,
    end: date,
    out: Path,
    *,
    fmt: FileFormat = FileFormat.CSV,
    progress: Progress | None = None,
    profile: Profile = Profile.DEMO,
) -> GenerationStats:
    """Write ``debtors``, ``invoices`` and ``payments`` files into ``out``; return their statistics.

    Raises ``ValueError`` for non-positive ``debtors`` or ``months`` or a negative ``seed``.
    """
    problems = check_arguments(debtors, months, seed)
    if problems:
        raise ValueError("; ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    with PortfolioFiles(out, fmt) as files:
        for chunk in chunks(debtors, months, seed, end, profile):
            files.write(Kind.DEBTORS, chunk.debtors)
            files.write(Kind.INVOICES, chunk.invoices)
            files.write(Kind.PAYMENTS, chunk.payments)
            tally.add(chunk.debtors, chunk.invoices, chunk.payments, end)
            if progress is not None:
                progress(tally.debtors, debtors)
    return tally.result(profile=profile.value, seed=seed, parameters=parameters(profile))
