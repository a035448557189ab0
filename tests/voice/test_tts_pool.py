"""Piper's worker processes: a worker that dies costs nothing but itself; limits hold."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ballsy.config import Settings
from ballsy.errors import BadRequest, Busy
from ballsy.wiring import build_tts
from tests.voice.conftest import require_voice

pytestmark = [pytest.mark.slow, pytest.mark.speech]


@pytest.fixture
async def tts() -> AsyncIterator[Any]:
    require_voice()
    provider = build_tts(
        Settings(  # type: ignore[call-arg]
            _env_file=None, tts_max_concurrency=1, tts_max_queue=0, tts_max_chars=200
        ).voice
    )
    assert provider.name == "piper"
    yield provider
    await provider.aclose()


async def test_a_killed_worker_is_replaced_and_the_server_never_loaded_piper(tts: Any) -> None:
    first = await tts.synthesize("Hello there.")
    assert first.sample_rate == 22050 and first.seconds > 0.3
    [pid] = tts.pool.pids()
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    # Killed from outside while idle (the OOM killer, an operator): once it is gone, the
    # next request finds it dead and starts a fresh worker instead of failing.
    for _ in range(600):
        if pid not in tts.pool.pids():
            break
        await asyncio.sleep(0.05)
    again = await tts.synthesize("Still here.")
    assert again.seconds > 0.3
    assert tts.pool.replaced == 1 and tts.pool.pids() != [pid]


_SERVER_SIDE = """
import asyncio, json, sys
from ballsy.config import Settings
from ballsy.wiring import build_tts

async def main():
    tts = build_tts(Settings(_env_file=None, tts_max_concurrency=1).voice)
    speech = await tts.synthesize("Hello there.")
    await tts.aclose()
    loaded = sorted(m for m in ("piper", "onnxruntime") if m in sys.modules)
    print(json.dumps({"seconds": speech.seconds, "loaded": loaded}))

asyncio.run(main())
"""


def test_the_server_process_never_imports_piper() -> None:
    """Piper (GPL) and ONNX Runtime live only in the workers. Checked in a fresh process:
    this test process may have imported Piper itself to make test speech."""
    require_voice()
    done = subprocess.run(
        [sys.executable, "-c", _SERVER_SIDE],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "BALLSY_ENV_FILE": os.devnull},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["seconds"] > 0.3 and report["loaded"] == [], report


async def test_odd_text_is_spoken_or_refused_clearly(tts: Any) -> None:
    odd = await tts.synthesize("Ünïcødé 😀 — 1,234.5 % & <tags> \u200b")
    assert odd.seconds > 0
    with pytest.raises(BadRequest):
        await tts.synthesize("   ")
    with pytest.raises(BadRequest):
        await tts.synthesize("x" * 201)
    with pytest.raises(BadRequest):
        await tts.synthesize("fine", speed=10)


async def test_a_full_voice_says_busy_at_once(tts: Any) -> None:
    await tts.synthesize("Warm.")
    results = await asyncio.gather(
        *(tts.synthesize(f"Sentence {i}.") for i in range(3)), return_exceptions=True
    )
    assert sum(isinstance(r, Busy) for r in results) == 2
    assert tts.running == 0
