"""How long a fresh instance takes to report ready, now that /ready waits for the speech model.

    PYTHONPATH=src .venv/bin/python -m bench.bench_ready [--runs 3]

Starts the image's command (`ballsy serve`) on a new SQLite data directory, as a cold Cloud
Run instance starts, and times from the process start until /health answers (the server
listens) and until /ready answers 200: with STT_PRELOAD=true that includes starting the
speech worker and loading the embedded model in it. STT_PRELOAD=false is the baseline (the
model would then load during the first spoken request). Cloud Run's startup probe allows
240 s (infra/cloud_run.tf). Medians of fresh processes; the machine's load shows in them.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from statistics import median

DEADLINE_S = 240.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _one(preload: bool, root: Path) -> tuple[float, float]:
    port = _free_port()
    data = Path(tempfile.mkdtemp(dir=root))
    env = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "PATH", "PYTHONPATH"}}
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATA_DIR": str(data),
            "STT_PRELOAD": str(preload).lower(),
            "LOG_FORMAT": "json",
            "BALLSY_ENV_FILE": str(data / "no.env"),
        }
    )
    script = Path(sys.executable).parent / "ballsy"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(script), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    health = ready = None
    try:
        while time.perf_counter() - started < DEADLINE_S:
            if proc.poll() is not None:
                raise RuntimeError(f"`ballsy serve` exited with {proc.returncode}")
            now = time.perf_counter() - started
            if health is None and _status(f"http://127.0.0.1:{port}/health") == 200:
                health = now
            if health is not None and _status(f"http://127.0.0.1:{port}/ready") == 200:
                ready = time.perf_counter() - started
                break
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if health is None or ready is None:
        raise RuntimeError(f"not ready within {DEADLINE_S:g} s")
    return health, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preload in (False, True):
            results = [_one(preload, Path(tmp)) for _ in range(args.runs)]
            rows.append(
                (
                    preload,
                    median(h for h, _ in results),
                    median(r for _, r in results),
                    max(r for _, r in results),
                )
            )
    print("## Start-up: time to /health and to /ready\n")
    print(
        f"`ballsy serve` on a new SQLite data directory, {args.runs} fresh processes each "
        "(median; max for /ready). With the speech model preloaded, /ready waits until a "
        "worker holds it. Cloud Run's startup probe allows 240 s.\n"
    )
    print("| STT_PRELOAD | /health answers | /ready answers 200 | slowest /ready |")
    print("| --- | --- | --- | --- |")
    for preload, health, ready, worst in rows:
        print(f"| {str(preload).lower()} | {health:.1f} s | {ready:.1f} s | {worst:.1f} s |")
    print(
        f"\nReproduce: `PYTHONPATH=src .venv/bin/python -m bench.bench_ready --runs {args.runs}`."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
