"""A server killed with SIGKILL under load loses no acknowledged turn.

A real `ballsy serve` takes turns from signed-in users over both doors; once enough
replies came back it is killed outright (no shutdown, no flush). Every turn whose reply
a client received must then be in the database: a reply is sent only after the turn's
own transaction committed, however many turns shared that commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets

from ballsy.db import migrate
from tests.servers import BallsyProcess

ENV = {"STT_ENABLED": "false", "RATE_LIMIT_ENABLED": "false", "AI_PROVIDER": "none"}
KILL_AFTER = 300  # acknowledged turns before the kill
CLIENTS_WS = 8
CLIENTS_HTTP = 4


async def _load_then_kill(server: BallsyProcess) -> list[str]:
    """Run turns until KILL_AFTER were acknowledged, kill the server, return the
    acknowledged commands (each unique)."""
    base = server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        tokens = [
            (await client.post("/api/session")).json()["token"]
            for _ in range(CLIENTS_WS + CLIENTS_HTTP)
        ]
    acknowledged: list[str] = []
    enough = asyncio.Event()
    deadline = time.monotonic() + 120

    def command(client_index: int, n: int) -> str:
        return f"{client_index * 1_000_000 + n} + 1"

    def check(text: str, reply: str) -> None:
        expected = int(text.split()[0]) + 1
        assert str(expected) in reply.replace(",", ""), (text, reply)
        acknowledged.append(text)
        if len(acknowledged) >= KILL_AFTER:
            enough.set()

    async def ws_client(index: int) -> None:
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{server.port}/ws/voice/c{index}", open_timeout=30
            ) as ws:
                await ws.send(json.dumps({"type": "hello", "token": tokens[index]}))
                await ws.recv()
                for n in range(100_000):
                    if time.monotonic() > deadline:
                        return
                    text = command(index, n)
                    await ws.send(json.dumps({"command": text}))
                    while True:
                        message = json.loads(await ws.recv())
                        if message.get("type") in ("command_response", "error"):
                            break
                    if message["type"] == "command_response":
                        check(text, message["data"]["response"])
        except (websockets.ConnectionClosed, OSError):
            return  # the server was killed

    async def http_client(index: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
            for n in range(100_000):
                if time.monotonic() > deadline:
                    return
                text = command(index, n)
                try:
                    response = await client.post("/api/command", json={"command": text})
                except httpx.HTTPError:
                    return  # the server was killed
                if response.status_code == 200:
                    check(text, response.json()["response"])

    async def killer() -> None:
        await asyncio.wait_for(enough.wait(), timeout=120)
        assert server.proc is not None
        server.proc.kill()  # SIGKILL: nothing is flushed

    clients = [ws_client(i) for i in range(CLIENTS_WS)] + [
        http_client(CLIENTS_WS + i) for i in range(CLIENTS_HTTP)
    ]
    await asyncio.gather(killer(), *clients)
    return acknowledged


def _run(env: dict[str, str], stored: Callable[[], set[str]]) -> None:
    server = BallsyProcess({**ENV, **env}).start()
    try:
        server.wait_healthy(timeout=60)
        acknowledged = asyncio.run(_load_then_kill(server))
        assert server.proc is not None
        server.proc.wait(timeout=30)
        assert server.proc.returncode == -9
    finally:
        server.kill()
    assert len(acknowledged) >= KILL_AFTER
    assert len(set(acknowledged)) == len(acknowledged)
    in_database = stored()
    missing = set(acknowledged) - in_database
    assert not missing, f"{len(missing)} acknowledged turns lost, e.g. {sorted(missing)[:5]}"


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_turn_on_sqlite(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    def stored() -> set[str]:
        with sqlite3.connect(data_dir / "ballsy.db") as conn:
            return {row[0] for row in conn.execute("SELECT command FROM command_history")}

    _run({"DATA_DIR": str(data_dir)}, stored)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_loses_no_acknowledged_turn_on_postgres(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)

    def stored() -> set[str]:
        with psycopg.connect(postgres_url) as conn:
            return {row[0] for row in conn.execute("SELECT command FROM command_history")}

    _run({"DATABASE_URL": postgres_url}, stored)
