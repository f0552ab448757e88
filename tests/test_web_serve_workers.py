"""``arrears serve --workers N``: several server processes, each answering the pages."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from channels_support import free_port
from serve_support import ARREARS, answered


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def test_serve_with_two_workers_answers_from_two_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    ws = tmp_path / "ws"
    subprocess.run([ARREARS, "init", str(ws)], env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [ARREARS, "-w", str(ws), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        page = answered(proc, f"{base}/login")
        assert 'name="csrf"' in page.text
        assert len(_children(proc.pid)) >= 2  # the worker processes
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert "2 worker processes" in out
