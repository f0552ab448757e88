"""Importing files of debtors, invoices, payments or credit notes: the ``import_files`` use case.

An import is the workspace's administration (``ADMINISTER``): it may create and change any
record of the files' portfolios. The importer (:mod:`arrears.io.importer`) owns its
transaction, because what it commits depends on what it finds: nothing when a file has a problem,
the valid rows with ``skip_invalid``; it is given the unit of work's engine. Every batch and
activity record it writes names the actor. After an invoice import commits, its ``disputed``
flags are mapped onto disputes in a transaction of their own
(:func:`arrears.services.arrangements.disputes.sync_from_erp`: idempotent, so an interruption
between the
two is mended by the next import).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from arrears.domain.actor import Actor, Permission
from arrears.domain.allocation import AllocationRule
from arrears.domain.columns import Kind
from arrears.io import importer
from arrears.io.batches import ReadOptions
from arrears.io.importer import ImportReport, Progress
from arrears.services.arrangements import disputes
from arrears.services.uow import SqlUnitOfWork
from arrears.store.bulk import may_skip_triggers

__all__ = ["ImportReport", "import_files", "references_checked_per_batch"]


def import_files(
    uow: SqlUnitOfWork,
    actor: Actor,
    kind: Kind,
    paths: Sequence[Path],
    options: ReadOptions,
    *,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime,
    progress: Progress | None = None,
    strict: bool = False,
) -> ImportReport:
    """Import ``paths`` as files of ``kind`` read with ``options``: all or nothing, or the valid
    rows with ``skip_invalid`` (the others to ``rejects``); the report says which, and lists
    every problem. ``strict``: every column the import would ignore is a problem instead of a
    warning, and nothing is imported."""
    actor.require(Permission.ADMINISTER, f"import {kind.value.replace('_', ' ')}")
    report = importer.import_files(
        uow.engine,
        kind,
        paths,
        options,
        skip_invalid=skip_invalid,
        rejects=rejects,
        actor=actor.name,
        rule=rule,
        at=at,
        progress=progress,
        strict=strict,
    )
    if kind is Kind.INVOICES and report.committed:
        # the files' ``disputed`` flags onto disputes (from_erp), set-based, after the load
        disputes.sync_from_erp(SqlUnitOfWork(uow.engine), actor, on=at.date(), at=at)
    return report


def references_checked_per_batch(uow: SqlUnitOfWork, actor: Actor) -> bool:
    """Whether a large import into this store checks its foreign keys once per batch (always on
    SQLite; on PostgreSQL when the role may set ``session_replication_role``) rather than row
    by row, about 3x slower (see docs/store.md)."""
    actor.require(Permission.ADMINISTER, "see how imports run")
    if uow.engine.dialect.name != "postgresql":
        return True
    with uow:
        return may_skip_triggers(uow.conn)
