"""PostgreSQL keeps room on the pages of ``instalment`` and ``invoice`` for HOT updates of their
open balances and statuses (migration 0027, issue 20); going down to 0026 gives it back."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from arrears.store.database import alembic_config, connect


def _options(url: str) -> dict[str, list[str] | None]:
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, reloptions FROM pg_class "
                "WHERE relname IN ('instalment', 'invoice')"
            )
        ).all()
    engine.dispose()
    return {r[0]: r[1] for r in rows}


@pytest.mark.postgres
def test_instalment_and_invoice_leave_room_for_hot_updates(pg_url: str) -> None:
    assert _options(pg_url) == {"instalment": ["fillfactor=70"], "invoice": ["fillfactor=70"]}
    command.downgrade(alembic_config(pg_url), "0026")
    assert _options(pg_url) == {"instalment": None, "invoice": None}
    command.upgrade(alembic_config(pg_url), "head")
    assert _options(pg_url) == {"instalment": ["fillfactor=70"], "invoice": ["fillfactor=70"]}
