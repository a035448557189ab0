"""The API key never appears in logs, errors, tracebacks or reprs, whatever fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback

import pytest

from ballsy.providers.llm.base import (
    AIError,
    ChatMessage,
    GenerationParams,
    LLMProvider,
    ReplyStats,
)
from tests.fakes import Drop, Fail, Raw, Reply
from tests.fakes._server import Step
from tests.providers.llm.conftest import SHORT, Case

MESSAGES = [ChatMessage("system", "persona"), ChatMessage("user", "hi")]
WRONG_KEY = "sk-wrong-AIzaSy-this-must-not-leak-42"


def scenarios(key: str) -> list[tuple[str, list[Step]]]:
    return [
        ("ok", [Reply()]),
        ("server echoes the key", [Fail(400, f"project rejected the caller {key}")]),
        ("5xx echoing the key", [Fail(500, f"internal: {key}", times=3)]),
        ("rate limited", [Fail(429, times=3)]),
        ("unknown model", [Fail(404)]),
        ("refused", [Fail(401), Fail(403)]),
        ("dropped", [Drop(times=3)]),
        ("malformed", [Raw(["{oops"])]),
        ("blocked", [Reply(blocked="SAFETY")]),
        ("stall", [Reply(first_delay=5)]),
    ]


async def consume(provider: LLMProvider, first_chunk: asyncio.Event | None = None) -> None:
    async for _chunk in provider.stream(MESSAGES, GenerationParams(), ReplyStats()):
        if first_chunk is not None:
            first_chunk.set()


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # root and every library logger: httpx, httpcore, genai
    for name in ("httpx", "httpcore", "google_genai", "google", "ballsy"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


async def test_key_never_leaks(case: Case, every_log: pytest.LogCaptureFixture) -> None:
    texts: list[str] = []
    redactions = 0
    for wrong_key in (False, True):
        key = WRONG_KEY if wrong_key else case.key
        provider = case.make(api_key=key, limits=SHORT)  # the stall scenario times out
        texts.append(repr(provider))
        for _name, steps in scenarios(key):
            case.fake.reset()
            case.fake.script(*steps)
            try:
                _ = [c async for c in provider.stream(MESSAGES, GenerationParams(), ReplyStats())]
            except AIError as exc:
                texts += [
                    str(exc),
                    repr(exc),
                    exc.message,
                    "".join(traceback.format_exception(exc)),
                ]
                redactions += "[redacted]" in exc.message
        # and a reply cancelled half-way
        case.fake.script(Reply(chunks=["x"] * 50, chunk_delay=0.01))
        first_chunk = asyncio.Event()
        task = asyncio.create_task(consume(provider, first_chunk))
        # Cancel once the first chunk is in (or the wrong key was refused).
        chunk_in = asyncio.create_task(first_chunk.wait())
        done, _ = await asyncio.wait({task, chunk_in}, timeout=30, return_when="FIRST_COMPLETED")
        assert done, "neither a chunk nor a refusal came"
        chunk_in.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AIError):
            await task

    texts += [record.getMessage() for record in every_log.records]
    texts += [str(record.__dict__) for record in every_log.records]
    texts.append(every_log.text)
    assert every_log.records, "expected library debug logs to scan"
    assert redactions == 1, "the echoed key should have been seen and redacted"
    for text in texts:
        assert case.key not in text
        assert WRONG_KEY not in text
