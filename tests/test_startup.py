"""What `ballsy serve` does before its first healthy answer, kept small: cold start (9)."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from pathlib import Path

import uvicorn

from ballsy.server import BallsyServer

# Loaded only when a feature is used: an AI provider is configured, speech is transcribed,
# an old database is migrated, a prototype database is imported.
NOT_ON_THE_START_PATH = (
    "google.genai",
    "faster_whisper",
    "av",
    "ctranslate2",
    "alembic",
    "httpx",
    "ballsy.importer",
    "ballsy.providers.llm.gemini",
    "ballsy.providers.llm.openai_compat",
)

_START = """
import asyncio, sys
from ballsy.config import load_settings
from ballsy.server import create_app

app = create_app(load_settings())

async def start_and_stop():
    async with app.router.lifespan_context(app):
        pass

asyncio.run(start_and_stop())
print("loaded:", *(name for name in sys.argv[1:] if name in sys.modules))
"""


def test_start_path_leaves_optional_features_unloaded(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BALLSY_ENV_FILE": str(tmp_path / "absent.env"),
        "DATA_DIR": str(tmp_path / "data"),
        "STT_ENABLED": "true",  # the default: the model itself loads on first use
        "STT_PRELOAD": "false",
    }
    for name in ("AI_PROVIDER", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "OPENAI_BASE_URL"):
        env.pop(name, None)  # no AI configured: `auto` resolves to none
    for attempt in ("a new database", "an existing database"):
        result = subprocess.run(
            [sys.executable, "-c", _START, *NOT_ON_THE_START_PATH],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        loaded = [line for line in result.stdout.splitlines() if line.startswith("loaded:")]
        assert loaded == ["loaded:"], f"with {attempt}: {loaded}"
    assert (tmp_path / "data" / "ballsy.db").exists()


async def _asgi(scope: dict[str, object], receive: object, send: object) -> None:
    raise AssertionError("no request is made")


def test_server_turns_the_collector_back_on_once_listening() -> None:
    config = uvicorn.Config(_asgi, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    config.load()
    server = BallsyServer(config)
    server.lifespan = config.lifespan_class(config)  # as uvicorn's serve() sets it up

    async def start_and_stop() -> bool:
        await server.startup()
        enabled = gc.isenabled()
        await server.shutdown()
        return enabled

    gc.disable()
    try:
        assert asyncio.run(start_and_stop()) is True
        assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()
