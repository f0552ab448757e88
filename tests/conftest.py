"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, and workspaces for CLI tests.

PostgreSQL tests use the server named by ``ARREARS_TEST_PG_URL`` (default: the local server). Each
test gets its own database, cloned from a migrated template. When the server is unreachable they
are skipped on a developer's machine and fail in CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from arrears.store.database import connect, normalize_url, upgrade

# pytest-xdist's workers start with COLUMNS set, and Rich fixes a console's width from it when the
# console is made (arrears.cli.output, on import): without it, the width follows each test's
# COLUMNS, as in a serial run.
os.environ.pop("COLUMNS", None)

PG_URL = os.environ.get("ARREARS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_counter = itertools.count()


def _admin_engine() -> Engine:
    return create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")


def admin_running(*statements: str) -> Engine:
    """The server's admin engine, after running ``statements`` on it; an unreachable server
    skips the test, or fails it in CI."""
    try:
        admin = _admin_engine()
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {exc}")
    return admin


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database on the PostgreSQL server."""
    name = f"arrears_tpl_{os.getpid()}"
    admin = admin_running(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"arrears_t_{os.getpid()}_{next(_counter)}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'arrears.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty store; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = connect(store_url)
    yield eng
    eng.dispose()
