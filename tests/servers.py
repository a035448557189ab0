"""Start real `ballsy serve` processes for tests, and make sure the listener is ours."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.pg import free_port


def listening_pids(port: int) -> set[int]:
    """PIDs holding a listening TCP socket on `port` (from /proc, no extra tools)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    pids: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def cpu_seconds(pid: int, *, main_thread_only: bool = False) -> float:
    """User + system CPU time a process (or its main thread) has used so far."""
    path = f"/proc/{pid}/task/{pid}/stat" if main_thread_only else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class BallsyProcess:
    """`python -m ballsy serve` on 127.0.0.1 and a free port, with the given environment."""

    def __init__(
        self, env: Mapping[str, str], *, port: int | None = None, log_path: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "BALLSY_ENV_FILE": "/nonexistent/.env",
            "STT_PRELOAD": "false",
            "TTS_PRELOAD": "false",
            **env,
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BallsyProcess:
        assert not listening_pids(self.port), f"port {self.port} is already taken"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ballsy", "serve"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_healthy(self, timeout: float = 15.0) -> float:
        """Seconds from start to the first 200 on /health from *this* process."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        # One client for every probe: httpx.get builds a new client, SSL context included,
        # on each call (some 25 ms of this process's CPU on the 2-core machine), which
        # both competed with the starting server and added itself to the measured time.
        with httpx.Client(timeout=0.5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ballsy exited with {self.proc.returncode}")
                try:
                    response = client.get(f"{self.base_url}/health")
                    if response.status_code == 200:
                        elapsed = time.perf_counter() - self.started_at
                        assert self.proc.pid in listening_pids(self.port), "listener is not ours"
                        return elapsed
                except httpx.HTTPError:
                    pass
                time.sleep(0.005)
        raise TimeoutError("ballsy did not become healthy")

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Wait for 200 on /ready: the warm-ups it waits for (speech, voice, wake word) are
        done, as Cloud Run waits before it sends traffic. Call after `wait_healthy`."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer"
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ballsy exited with {self.proc.returncode}")
                try:
                    response = client.get(f"{self.base_url}/ready")
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.1)  # a poll interval; the condition is /ready's answer
        raise TimeoutError(f"ballsy was not ready within {timeout:g} s (last: {last})")

    def terminate(self, timeout: float = 12.0) -> float:
        """Send SIGTERM; return seconds until the process exited."""
        assert self.proc is not None
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return time.perf_counter() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
