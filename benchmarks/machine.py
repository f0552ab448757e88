"""What machine a benchmark ran on, printed at the top of every benchmark's output, and how a
benchmark runs one phase in its own process (so that its peak memory is its own)."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
from pathlib import Path


def describe() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    import polars as pl

    return (
        f"machine: {cpu}, {os.cpu_count()} cores{memory}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, Polars {pl.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def run_phase(script: str, args: list[str]) -> tuple[dict[str, object], float]:
    """Run ``script --phase ARGS`` in a child process; its JSON result (the last line it prints)
    and its peak memory in MiB."""
    proc = subprocess.Popen(
        [sys.executable, script, "--phase", *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"phase {args[0]} failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024
