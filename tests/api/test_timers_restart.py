"""A timer set before a server restart fires after it: real `ballsy serve` processes on one
SQLite file, the timer set over the WebSocket of the first and heard on the second's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.servers import BallsyProcess

DEADLINE_S = 60.0


async def _hello(ws: Any, token: str) -> None:
    await ws.send(json.dumps({"type": "hello", "token": token, "timezone": "Europe/London"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S))["type"] == "hello"


@pytest.mark.slow
def test_a_timer_set_before_a_restart_fires_after_it(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "STT_ENABLED": "false"}
    first = BallsyProcess(env, log_path=tmp_path / "first.log").start()
    try:
        first.wait_healthy(timeout=DEADLINE_S)
        token = httpx.post(f"{first.base_url}/api/session", timeout=10).json()["token"]

        async def set_timer() -> dict[str, Any]:
            async with websockets.connect(f"ws://127.0.0.1:{first.port}/ws/voice/a") as ws:
                await _hello(ws, token)
                command = {"type": "command", "command": "set an egg timer for 3 seconds"}
                await ws.send(json.dumps(command))
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S))
                    if message["type"] == "reply_end":
                        return message  # type: ignore[no-any-return]

        reply = asyncio.run(set_timer())
        assert reply["response"] == "Egg timer set for 3 seconds."
        first.terminate()
    finally:
        first.kill()

    second = BallsyProcess(env, log_path=tmp_path / "second.log").start()
    try:
        second.wait_healthy(timeout=DEADLINE_S)

        async def hear_it() -> list[dict[str, Any]]:
            async with websockets.connect(f"ws://127.0.0.1:{second.port}/ws/voice/b") as ws:
                await _hello(ws, token)
                fired = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S))
                await ws.send(json.dumps({"type": "ping"}))
                after = json.loads(await asyncio.wait_for(ws.recv(), DEADLINE_S))
                return [fired, after]

        fired, after = asyncio.run(hear_it())
        assert fired["type"] == "timer_fired" and fired["id"] == reply["data"]["id"]
        assert (fired["kind"], fired["label"]) == ("timer", "egg")
        # Heard as it fires when the new server was up in time, else as missed news.
        if fired["late"]:
            assert fired["text"].startswith("While you were away, your egg timer finished at ")
        else:
            assert fired["text"] == "Time's up! Your egg timer is done."
        assert after == {"type": "pong"}  # once
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{second.base_url}/api/timers", headers=auth).json() == {"timers": []}
    finally:
        second.kill()
