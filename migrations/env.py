"""Alembic environment: migrates the database named by the ``sqlalchemy.url`` option."""

from __future__ import annotations

from alembic import context

from arrears.store.database import connect
from arrears.store.schema import metadata

config = context.config
target_metadata = metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = connect(config.get_main_option("sqlalchemy.url") or "", pooled=False)
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite's way to alter a table (batch mode): rebuild it with foreign keys off (they
            # can only be switched outside a transaction), then check them all before commit.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("the migration broke a foreign key (PRAGMA foreign_key_check)")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
