"""``arrears serve`` as a user starts it: a subprocess on a free loopback port, with its peak
memory readable from ``/proc``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from channels_support import free_port

ARREARS = str(Path(sys.executable).parent / "arrears")


def answered(proc: subprocess.Popen[bytes], url: str, seconds: float = 60) -> httpx.Response:
    """The first 200 response of ``url`` from the server ``proc`` starts, polled every 0.1 s
    (fails when the process ends or ``seconds`` pass first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            page = httpx.get(url, timeout=1)
            if page.status_code == 200:
                return page
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.communicate()[0].decode()
        assert time.monotonic() < deadline, "arrears serve did not answer"
        time.sleep(0.1)


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]

    def peak_kib(self) -> int:
        """The process's peak resident memory (VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")


def serve(ws: Path, env: dict[str, str]) -> Iterator[Server]:
    """``arrears serve`` as a user starts it: a subprocess on a free loopback port."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    proc = subprocess.Popen(
        [ARREARS, "-w", str(ws), "serve", "--port", str(port)],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    answered(proc, f"{base}/health")
    try:
        yield Server(base, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
