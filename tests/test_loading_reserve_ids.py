"""``bulk.reserve_ids`` on PostgreSQL: a range when the sequence gave one, else the values."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from arrears.store import bulk
from arrears.store.database import connect
from arrears.store.schema import invoice


@pytest.mark.postgres
@pytest.mark.parametrize("step", [1, 3])
def test_reserved_ids_are_the_values_drawn_from_the_sequence(pg_url: str, step: int) -> None:
    engine = connect(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"ALTER SEQUENCE invoice_id_seq INCREMENT BY {step}"))
        ids = bulk.reserve_ids(conn, invoice, 5).to_list()
        after = conn.execute(text("SELECT nextval('invoice_id_seq')")).scalar_one()
    engine.dispose()
    assert ids == [ids[0] + step * i for i in range(5)]
    assert after == ids[-1] + step
