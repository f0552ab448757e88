"""The unit of work: one transaction that a use case opens, and the store it reaches through it.

A service is handed an un-entered unit of work and enters it itself::

    def add_promise(uow: UnitOfWork, actor: Actor, ...) -> PromiseAdded:
        actor.require(Permission.WORK, "record a promise")
        with uow:
            ...  # reads and writes on uow's ports; commits when the block ends normally

Leaving the block normally commits; an exception rolls everything back (nothing half-applied).
:class:`SqlUnitOfWork` is the real one (SQLite or PostgreSQL through SQLAlchemy); tests of the
services may use the in-memory one where the ports they need have one, and a contract suite
runs the same scenarios against both.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from arrears.domain.errors import Unavailable
from arrears.store.database import StoreError, connect, current_revision, head_revision

#: The store a front end holds and hands to units of work (front ends import no SQLAlchemy).
Store = Engine


def open_store(url: str, *, checked: bool = True) -> Store:
    """The store at ``url``; ``checked``: reachable and migrated to the current schema, else
    :class:`arrears.store.database.StoreError` (an ``Unavailable``) saying what to run."""
    engine = connect(url)
    if not checked:
        return engine
    try:
        revision = current_revision(engine)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc
    if revision != head_revision(url):
        raise StoreError(
            f"the database is at schema {revision or 'none'}, "
            f"not {head_revision(url)}: run `arrears db upgrade`"
        )
    return engine


if TYPE_CHECKING:
    from arrears.services.casework.collection_sql import SqlCollectionRecords


class UnitOfWork(Protocol):
    """One transaction: entering opens it, leaving normally commits, an exception rolls back."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SqlUnitOfWork:
    """A transaction on the store's engine; ``conn`` is its connection while entered."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._conn

    @property
    def collection(self) -> SqlCollectionRecords:
        """The collection records (:class:`arrears.services.ports.CollectionRecords`)."""
        from arrears.services.casework.collection_sql import SqlCollectionRecords  # noqa: PLC0415 (it imports us)

        return SqlCollectionRecords(self.conn)

    def __enter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work is entered once at a time")
        try:
            self._conn = self.engine.connect()
            self._conn.begin()
        except OperationalError as exc:
            self._conn = None
            raise Unavailable(f"cannot open the database {self.engine.url!r}: {exc.orig}") from exc
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self.conn, None
        try:
            if kind is None:
                conn.commit()
            else:
                conn.rollback()
        finally:
            conn.close()
