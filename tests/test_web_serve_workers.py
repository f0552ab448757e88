"""``arrears serve --workers N``: several server processes, each answering the pages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from channels_support import free_port

ARREARS = str(Path(sys.executable).parent / "arrears")


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
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                page = httpx.get(f"{base}/login", timeout=1)
                if page.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "arrears serve did not answer"
            time.sleep(0.1)
        assert 'name="csrf"' in page.text
        assert len(_children(proc.pid)) >= 2  # the worker processes
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert "2 worker processes" in out
