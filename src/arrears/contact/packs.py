"""The shipped rule packs, a company's overrides, and which pack applies to each debtor.

Packs are YAML files in ``arrears/contact/packs/`` read with :mod:`importlib.resources` (they
ship in the wheel). A policy overrides parameters per pack with
``contact_rules: {<pack>: {<parameter>: value}}`` (:func:`effective_packs`). A debtor gets the
first pack, in ascending ``order``, whose countries, kinds and regions all match; ``default``
(last) applies to everyone else (:func:`pack_for`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import polars as pl
import yaml
from pydantic import ValidationError

from arrears.contact.model import Pack
from arrears.domain.errors import InvalidInput

#: The shipped packs, in the order they are tried.
PACK_NAMES = ("us-reg-f", "co-ley-2300", "uk-fca", "eu-b2b", "default")
DEFAULT_PACK = "default"


class PackError(InvalidInput):
    """A pack or an override is invalid; the message names the pack and the parameter."""


def _raw(name: str) -> dict[str, Any]:
    text = resources.files("arrears.contact").joinpath("packs", f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise PackError(f"contact pack {name}: the file is not a mapping")
    return data


def _validate(name: str, data: dict[str, Any], *, origin: str) -> Pack:
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(pack)"
            problems.append(f"{origin}.{name}.{where}: {error['msg']}")
        raise PackError("; ".join(problems)) from None


def shipped_packs() -> dict[str, Pack]:
    """The packs as shipped, by name, in the order they are tried."""
    return effective_packs({})


def effective_packs(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Pack]:
    """The shipped packs with a company's overrides applied (``{pack: {parameter: value}}``),
    by name, in the order they are tried (ascending ``order``; ``default`` last).

    A parameter whose value is a mapping (``hours``) is merged one level deep (override
    ``hours: {sat: null}`` to close Saturdays); any other value replaces the shipped one.
    Raises :class:`PackError` naming the pack and parameter (``contact_rules.us-reg-f.caps.0.max:
    ...``) for an unknown pack, an unknown parameter or an invalid value.
    """
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(PACK_NAMES))
    if unknown:
        raise PackError(
            f"contact_rules.{unknown[0]}: unknown pack (packs: {', '.join(PACK_NAMES)})"
        )
    packs: dict[str, Pack] = {}
    for name in PACK_NAMES:
        data = _raw(name)
        override = overrides.get(name) or {}
        if not isinstance(override, dict):
            raise PackError(f"contact_rules.{name}: expected a mapping of parameters")
        if "name" in override and override["name"] != name:
            raise PackError(f"contact_rules.{name}.name: a pack cannot be renamed")
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        packs[name] = _validate(name, data, origin="contact_rules" if override else "pack")
    ordered = sorted(packs.values(), key=lambda p: (p.name == DEFAULT_PACK, p.order))
    return {pack.name: pack for pack in ordered}


def pack_for(debtors: pl.DataFrame, packs: dict[str, Pack]) -> pl.Series:
    """The name of the pack that applies to each debtor (same length and order as
    ``debtors``; uses ``country``, ``kind`` and ``region``): the first pack in ``packs``
    (ascending ``order``, ``default`` last) whose ``countries`` (empty: any), ``kinds`` (null:
    any) and ``regions`` (null: any) all match; a debtor no pack matches gets ``default``."""
    ordered = sorted(packs.values(), key=lambda p: (p.name == DEFAULT_PACK, p.order))
    expr: pl.Expr = pl.lit(DEFAULT_PACK)
    for pack in reversed(ordered):
        cond: pl.Expr = pl.lit(True)
        if pack.countries:
            cond = cond & pl.col("country").str.to_uppercase().is_in(pack.countries)
        if pack.kinds is not None:
            cond = cond & pl.col("kind").is_in(list(pack.kinds))
        if pack.regions is not None:
            cond = cond & pl.col("region").is_in(pack.regions)
        expr = pl.when(cond.fill_null(False)).then(pl.lit(pack.name)).otherwise(expr)
    return debtors.select(expr.cast(pl.String()).alias("pack")).to_series()
