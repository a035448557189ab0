"""The image's command, run directly with the image's environment (no Docker engine here):
it serves /health on $PORT and stops within Cloud Run's 10 s after SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.infra.dockerfile import final_stage

pytestmark = pytest.mark.slow

STARTUP_BUDGET_S = 120.0  # cold start includes loading the embedded speech model
CLOUD_RUN_KILL_AFTER_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _image_environment(tmp_path: Path, port: int) -> dict[str, str]:
    image_env = final_stage().env
    env = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "TMPDIR"}}
    env.update(image_env)
    # The image's PATH names /opt/ballsy/bin; here the same console script lives beside
    # this interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{image_env['PATH']}"
    env["PORT"] = str(port)  # what Cloud Run injects
    env["DATA_DIR"] = str(tmp_path / "data")  # /app/data exists only inside the image
    # The image binds 0.0.0.0 (asserted below); tests never listen beyond loopback.
    env["HOST"] = "127.0.0.1"
    env["BALLSY_ENV_FILE"] = str(tmp_path / "no.env")  # no developer .env leaks in
    if os.environ.get("PYTHONPATH"):  # import the same checkout as this test run
        paths = os.environ["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths)
    return env


def test_image_listens_on_all_interfaces_at_port() -> None:
    stage = final_stage()
    assert stage.env["HOST"] == "0.0.0.0"
    assert stage.env["PORT"] == "8080"
    assert stage.cmd == ["ballsy", "serve"], "exec form, so ballsy is PID 1 and gets SIGTERM"


def test_container_command_serves_health_on_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    assert not _listening(port)
    env = _image_environment(tmp_path, port)
    log = (tmp_path / "server.log").open("w+")
    proc = subprocess.Popen(
        final_stage().cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + STARTUP_BUDGET_S
        while not _listening(port):
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"`ballsy serve` exited with {proc.returncode}:\n{log.read()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listened on {port} within {STARTUP_BUDGET_S} s")
            time.sleep(0.2)
        assert proc.poll() is None, "the listener must be our server"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "ok"}

        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=CLOUD_RUN_KILL_AFTER_S + 5)
        elapsed = time.monotonic() - started
        assert elapsed < CLOUD_RUN_KILL_AFTER_S, f"took {elapsed:.1f} s to stop after SIGTERM"
        # uvicorn re-raises the captured SIGTERM once it has drained, so -15 is a clean stop.
        assert proc.returncode in (0, -signal.SIGTERM), f"exit status {proc.returncode}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
