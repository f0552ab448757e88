"""Writing the ledger out (``arrears export``): CSV or Parquet, in the columns the importer
reads, so that an export imports back unchanged. Reading the books is ``READ``."""

from __future__ import annotations

from pathlib import Path

from arrears.domain.actor import Actor, Permission
from arrears.domain.columns import Kind
from arrears.io import export
from arrears.services.uow import SqlUnitOfWork


def export_ledger(
    uow: SqlUnitOfWork, actor: Actor, kind: Kind, out: Path, *, portfolio: str | None = None
) -> int:
    """Write every ``kind`` record (of ``portfolio``, or of all portfolios) to ``out``; returns
    the number of rows written. An unknown portfolio or an extension other than ``.csv`` and
    ``.parquet`` is a problem (``ProblemsFound``)."""
    actor.require(Permission.READ, f"export {kind.value.replace('_', ' ')}")
    return export.export_ledger(uow.engine, kind, out, portfolio)
