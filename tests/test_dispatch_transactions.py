"""``arrears dispatch`` takes SQLite's write lock once a message, not once a record: a message's
``sending`` is committed with the previous message's ``sent`` (and the batch's blocked and
deferred), and the batch's last records at its end. Counted through the real command on a copy of
the channels' base workspace (every ``BEGIN IMMEDIATE`` of the process), with every
message still recorded: a ``sending`` and a ``sent`` activity each, nothing left in ``sending``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select

from arrears.cli.app import main
from arrears.store.schema import activity
from channels_support import DAY, SENDING_ENV, base_workspace, copy_workspace, engine_of, rows


@pytest.fixture
def ws(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for k, v in SENDING_ENV.items():
        monkeypatch.setenv(k, v)
    return copy_workspace(base_workspace(tmp_path_factory.mktemp("tx")), tmp_path / "ws")


def test_one_begin_a_message_and_every_record_kept(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DISPATCH_BATCH_SIZE", "5")
    begins: Counter[str] = Counter()

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("BEGIN"):  # the write lock (store/database.py's BEGIN IMMEDIATE)
            begins["begin"] += 1

    event.listen(Engine, "before_cursor_execute", count)
    try:
        assert main(["-w", str(ws), "dispatch", "--as-of", DAY.isoformat()]) == 0
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    after = rows(ws)
    sent = sum(1 for r in after if r["status"] == "sent")
    assert sent > 10
    assert not [r for r in after if r["status"] in ("sending", "claimed")]
    with engine_of(ws).connect() as conn:
        kinds = dict(
            conn.execute(
                select(activity.c.kind, func.count())
                .where(activity.c.kind.in_(("message.sending", "message.sent")))
                .group_by(activity.c.kind)
            ).all()
        )
    assert kinds == {"message.sending": sent, "message.sent": sent}
    batches = -(-len([r for r in after if r["status"] != "queued"]) // 5)
    # a message: one; a batch: its claim, its last records; the command's own reads: a few.
    # Before: two a message (sending, then sent), and one more a blocked or deferred message.
    assert begins["begin"] <= sent + 2 * batches + 10, (begins, sent, batches)
