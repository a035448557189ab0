"""Shared pieces of the benchmarks: the machine's description, percentiles, servers."""

from __future__ import annotations

import asyncio
import compileall
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def compile_bytecode() -> None:
    """Compile Ballsy's modules, as the container image does at build time.

    A source checkout run with PYTHONDONTWRITEBYTECODE would otherwise compile every
    module in every process it starts (servers, the importer's workers), which no
    installed copy does.
    """
    import ballsy

    compileall.compile_dir(Path(ballsy.__file__).parent, quiet=1)


def machine() -> str:
    """One line describing where the numbers were taken."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "? GiB"
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory} RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load {load:.2f} at start, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    ).stdout


def wait_port_free(port: int, timeout: float = 5) -> None:
    from tests.servers import listening_pids

    deadline = time.monotonic() + timeout
    while listening_pids(port) and time.monotonic() < deadline:
        time.sleep(0.05)


async def read_http_response(reader: asyncio.StreamReader) -> bool:
    """Read one keep-alive HTTP/1.1 response (head and Content-Length body) from
    `reader`; True when its status was 200."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")
