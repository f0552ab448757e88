"""The migrations build exactly the schema the code declares, and go down and up again."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from arrears.store.database import alembic_config, current_revision, head_revision
from arrears.store.schema import metadata


def test_migrated_schema_matches_the_declared_one(engine: Engine, store_url: str) -> None:
    assert current_revision(engine) == head_revision(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(engine: Engine, store_url: str) -> None:
    command.downgrade(alembic_config(store_url), "base")
    assert current_revision(engine) is None
    command.upgrade(alembic_config(store_url), "head")
    assert current_revision(engine) == head_revision(store_url)
