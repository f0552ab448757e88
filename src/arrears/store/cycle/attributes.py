"""The debtor attributes a policy's conditions read (``attr_<name>``, issue 18).

Attributes are stored as one JSON object text per debtor (``debtor.attributes``, the cells as
the importer wrote them: a declared type written one way, see ``arrears.io.checks.attribute``).
Only the attributes a policy reads are read, decoded once per distinct text (a portfolio's
debtors share a few hundred combinations), as text columns ``attr_<name>``; the conditions read
them as their type (``arrears.policy.conditions.attribute_value``).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl
from sqlalchemy import Engine, Text, cast, select

from arrears.store.schema import debtor, portfolio


def with_attributes(debtors: pl.DataFrame, engine: Engine, names: Collection[str]) -> pl.DataFrame:
    """``debtors`` (a cycle input's, with ``debtor_id``) with one text column per attribute
    feature in ``names`` (``attr_income``...): null where the debtor has none."""
    wanted = sorted(n for n in names if n.startswith("attr_"))
    if not wanted or debtors.is_empty():
        return debtors.with_columns(pl.lit(None, pl.String).alias(n) for n in wanted)
    query = (
        select(debtor.c.id, cast(debtor.c.attributes, Text))
        .join(portfolio, portfolio.c.id == debtor.c.portfolio_id)
        .where(portfolio.c.code.in_(debtors.get_column("portfolio").unique().to_list()))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    stored = pl.DataFrame(
        rows, schema={"debtor_id": pl.Int64, "_attributes": pl.String}, orient="row"
    )
    texts = stored.select(pl.col("_attributes").unique().drop_nulls())
    decoded = texts.with_columns(
        pl.col("_attributes").str.json_path_match(f"$.{name.removeprefix('attr_')}").alias(name)
        for name in wanted
    )
    found = stored.join(decoded, on="_attributes", how="left").drop("_attributes")
    return debtors.drop(wanted, strict=False).join(
        found, on="debtor_id", how="left", maintain_order="left"
    )
