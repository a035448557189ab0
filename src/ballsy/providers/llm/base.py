"""The AI reply interface: stream text for a list of messages, cancellably.

A provider's `stream()` is an async generator of text chunks. Cancelling the task
that iterates it, or calling `aclose()` on it, must stop the network call promptly.
The provider fills the `ReplyStats` it is given (usage and timing) as it goes.
Failures are raised as `AIError` with a `kind` the pipeline turns into speech.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# "tool" carries a tool's result back to the model (function calling).
Role = Literal["system", "user", "assistant", "tool"]

AIErrorKind = Literal[
    "not_configured",  # no provider set up
    "config",  # bad key, unknown model: an operator must act; never retried
    "timeout",  # connect, first-token or total timeout
    "rate_limited",  # 429 from the provider after retries
    "unavailable",  # 5xx or network failure after retries
    "blocked",  # safety filter
    "empty",  # the model answered nothing
    "bad_response",  # malformed data from the provider
]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: name, when to use it, JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool to be run.

    `call_id` is the provider's id for the call (echoed back with the result);
    `signature` is opaque provider data that must be sent back with the call in the
    next request (Gemini's thought signature), else None.
    """

    call_id: str
    name: str
    arguments: dict[str, Any]
    signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message. An assistant message may carry the tool calls the model made; a
    "tool" message carries one call's result (`tool_call` is the call it answers)."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call: ToolCall | None = None


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_output_tokens: int = 256
    temperature: float = 0.7


@dataclass(slots=True)
class ReplyStats:
    """Filled by the provider while streaming; read by the pipeline for logs and metrics."""

    model: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    time_to_first_token_s: float | None = None
    total_s: float | None = None
    attempts: int = 0
    finish_reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class AIError(Exception):
    """A provider failure with a kind; `message` is safe to log (no secrets)."""

    def __init__(self, kind: AIErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: AIErrorKind = kind
        self.message = message


class LLMProvider(ABC):
    """One AI backend."""

    name: str = "base"
    model: str = ""

    @abstractmethod
    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
    ) -> AsyncIterator[str]:
        """Yield the reply's text chunks in order; raise `AIError` on failure."""

    def stream_with_tools(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
        tools: Sequence[ToolSpec],
    ) -> AsyncIterator[str | ToolCall]:
        """Like `stream`, offering `tools`: yields text chunks and the `ToolCall`s the
        model makes. A provider without function calling answers with text only."""
        return self.stream(messages, params, stats)

    async def aclose(self) -> None:
        """Release clients and connections at shutdown."""


class FunctionCallingProvider(LLMProvider):
    """A backend with function calling: one streaming path, with the tools offered or none.

    Subclasses write `stream_with_tools`; a plain `stream` is that path offering no tools,
    where the model can only answer with text."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
    ) -> AsyncIterator[str]:
        return self.stream_with_tools(messages, params, stats, ())  # type: ignore[return-value]

    @abstractmethod
    def stream_with_tools(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
        tools: Sequence[ToolSpec],
    ) -> AsyncIterator[str | ToolCall]:
        """Yield the reply's text chunks and the `ToolCall`s the model makes."""
