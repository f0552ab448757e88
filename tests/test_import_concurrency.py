"""Two payment imports for the same debtors at once (PostgreSQL, through the ``arrears``
command): both read the same open balances; the second to write finds them spent by the first.
It stops with the conflict error every other concurrent change gives (one line, exit 1, nothing
imported), never a database traceback, and the ledger stays consistent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from arrears.cli.app import main
from arrears.io import importer
from arrears.store.database import connect


def _write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def _waiting_on_a_lock(url: str, seconds: float = 10) -> bool:
    """Whether another session of this database waits for a row lock, within ``seconds``."""
    engine = connect(url)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            if waiting:
                return True
            time.sleep(0.05)
        return False
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_second_import_stops_with_a_conflict(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws), "--database-url", pg_url]) == 0
    debtors = _write(tmp_path / "debtors.csv", "debtor_id,name\nD1,Acme\nD2,Beta\n")
    invoices = _write(
        tmp_path / "invoices.csv",
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2026-01-01,2026-02-01,100.00\nI2,D2,2026-01-01,2026-02-01,100.00\n",
    )
    assert main(["-w", str(ws), "import", "debtors", str(debtors)]) == 0
    assert main(["-w", str(ws), "import", "invoices", str(invoices)]) == 0
    header = "payment_id,debtor_id,date,amount\n"
    bank = _write(
        tmp_path / "bank.csv", header + "P1,D1,2026-02-05,70.00\nP2,D2,2026-02-05,70.00\n"
    )
    till = _write(
        tmp_path / "till.csv", header + "T1,D1,2026-02-06,50.00\nT2,D2,2026-02-06,50.00\n"
    )
    capsys.readouterr()

    # the bank file's import holds its transaction open until the till file's import waits
    written, release = threading.Event(), threading.Event()
    close_batch: Callable[..., Any] = importer.close_batch

    def held_close_batch(*args: Any, **kwargs: Any) -> None:
        close_batch(*args, **kwargs)
        if threading.current_thread().name == "bank":
            written.set()
            release.wait(20)

    monkeypatch.setattr(importer, "close_batch", held_close_batch)
    codes: dict[str, int | BaseException] = {}

    def run(name: str, path: Path) -> None:
        try:
            codes[name] = main(["-w", str(ws), "import", "payments", str(path)])
        except BaseException as exc:  # a traceback the user would see
            codes[name] = exc

    first = threading.Thread(target=run, args=("bank", bank), name="bank")
    first.start()
    assert written.wait(20)  # its allocations are written, not committed
    second = threading.Thread(target=run, args=("till", till), name="till")
    second.start()
    blocked = _waiting_on_a_lock(pg_url)
    release.set()
    first.join(30)
    second.join(30)
    assert blocked
    assert codes == {"bank": 0, "till": 1}
    err = capsys.readouterr().err
    assert "changed meanwhile" in err and "import the file again" in err
    assert "Traceback" not in err and "CheckViolation" not in err

    # the bank's payments are in, the till's are not; the books reconcile; a retry applies it
    engine = connect(pg_url)
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT external_id FROM payment ORDER BY 1")).scalars().all()
    engine.dispose()
    assert ids == ["P1", "P2"]
    assert main(["-w", str(ws), "ledger", "check"]) == 0
    assert main(["-w", str(ws), "import", "payments", str(till)]) == 0
    assert main(["-w", str(ws), "ledger", "check"]) == 0
