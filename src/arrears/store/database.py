"""Connecting to the store and migrating it.

``connect(url)`` returns a SQLAlchemy engine with the settings each backend needs (SQLite: foreign
keys on, WAL, a busy timeout so that a second writer waits instead of failing at once).
``upgrade(url)`` runs the Alembic migrations shipped with the package up to head.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from arrears.domain.errors import Unavailable


class StoreError(Unavailable, RuntimeError):
    """The store cannot be reached or is not usable (reported to the user as one line)."""


def migrations_dir() -> Path:
    """The Alembic scripts: inside the wheel (``arrears/_migrations``) or the source checkout."""
    packaged = resources.files("arrears").joinpath("_migrations")
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "migrations"
    if checkout.is_dir():
        return checkout
    raise StoreError("the database migrations are missing from this installation")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not pysqlite, starts transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    """Take SQLite's write lock when a transaction starts, not at its first write: a second
    writer then waits (busy_timeout) at BEGIN instead of failing halfway with "database is
    locked" after it has read."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def connect(url: str, *, pooled: bool = True) -> Engine:
    """An engine for ``url``; ``pooled=False`` for one-off work such as migrations."""
    url = normalize_url(url)
    extra: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **extra)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **extra)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    try:
        command.upgrade(alembic_config(url), revision)
    except Exception as exc:  # driver errors carry the reason; the CLI prints one line
        raise StoreError(f"cannot migrate {make_url(url).render_as_string()}: {exc}") from exc


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
