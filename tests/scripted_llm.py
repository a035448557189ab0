"""A scripted AI provider for pipeline tests: streams given chunks, records what it saw.

Provider behaviour against real HTTP (the SDKs, timeouts, retries) is tested with the
fake servers in tests/fakes/; this one exercises the pipeline and the doors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from ballsy.providers.llm.base import (
    AIError,
    AIErrorKind,
    ChatMessage,
    GenerationParams,
    LLMProvider,
    ReplyStats,
)


@dataclass
class Script:
    chunks: list[str] = field(default_factory=lambda: ["Sure ", "thing."])
    delay: float = 0.0
    fail_with: AIErrorKind | None = None
    fail_after: int = 0  # chunks yielded before failing
    # Chunks yielded before the reply stalls until cancelled (None: never stalls); the
    # provider's `holding` event says the stall has begun, so a test can cancel then.
    hold_after: int | None = None


class ScriptedLLM(LLMProvider):
    name = "scripted"
    model = "scripted-1"

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.calls: list[list[ChatMessage]] = []
        self.cancelled = asyncio.Event()
        self.holding = asyncio.Event()
        self.completed = 0

    async def stream(  # type: ignore[override]
        self, messages: Sequence[ChatMessage], params: GenerationParams, stats: ReplyStats
    ) -> AsyncIterator[str]:
        self.calls.append(list(messages))
        stats.attempts = 1
        try:
            for index, chunk in enumerate(self.script.chunks):
                if index == self.script.hold_after:
                    await self._stall()
                if self.script.fail_with and index == self.script.fail_after:
                    raise AIError(self.script.fail_with, "scripted failure")
                if self.script.delay:
                    await asyncio.sleep(self.script.delay)
                if stats.time_to_first_token_s is None:
                    stats.time_to_first_token_s = 0.001
                yield chunk
            if self.script.hold_after is not None and self.script.hold_after >= len(
                self.script.chunks
            ):
                await self._stall()
            if self.script.fail_with and self.script.fail_after >= len(self.script.chunks):
                raise AIError(self.script.fail_with, "scripted failure")
            stats.input_tokens, stats.output_tokens = 10, len(self.script.chunks)
            self.completed += 1
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled.set()
            raise

    async def _stall(self) -> None:
        """Wait for ever, as a provider whose reply stopped coming: only cancelling ends it."""
        self.holding.set()
        await asyncio.Event().wait()
