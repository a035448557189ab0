"""Replies from any OpenAI-compatible chat completions server, streamed over SSE.

Covers Ollama (`http://127.0.0.1:11434/v1`), vLLM, llama.cpp server, LM Studio and NVIDIA
NIM: `POST {base_url}/chat/completions` with `stream=true`, read as server-sent events
(`data: {chunk}` ... `data: [DONE]`). Usage comes from the final chunk when the server
honours `stream_options.include_usage`. Function calling uses the `tools` field; the
model's `tool_calls` arrive in pieces (name first, arguments as JSON fragments) and are
yielded as whole `ToolCall`s when the choice finishes. Plain `httpx`; no SDK needed.
Timeouts, retries and cancellation follow `streaming.stream_with_retries`, like the Gemini provider.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import httpx

from ballsy.config_groups import AISettings
from ballsy.providers.llm.base import (
    AIError,
    ChatMessage,
    FunctionCallingProvider,
    GenerationParams,
    ReplyStats,
    ToolCall,
    ToolSpec,
)
from ballsy.providers.llm.http import (
    httpx_timeout,
    parse_retry_after,
    shared_ssl_context,
    transport_error,
)
from ballsy.providers.llm.streaming import (
    RetryableError,
    StreamLimits,
    redact,
    stream_with_retries,
)


class OpenAICompatProvider(FunctionCallingProvider):
    """An OpenAI-compatible server (`base_url` ends where `/chat/completions` starts)."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        limits: StreamLimits | None = None,
        include_usage: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise AIError("config", "OPENAI_BASE_URL must be an http(s) URL, e.g. .../v1")
        if not model.strip():
            raise AIError("config", "OPENAI_MODEL must name a model")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.limits = limits or StreamLimits()
        self.include_usage = include_usage
        self._secrets = (api_key,)
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            headers=headers, timeout=httpx_timeout(self.limits), verify=shared_ssl_context()
        )

    @classmethod
    def from_settings(cls, ai: AISettings) -> OpenAICompatProvider:
        """From OPENAI_BASE_URL, OPENAI_MODEL and the optional OPENAI_API_KEY."""
        if not ai.openai_base_url or not ai.openai_model:
            raise AIError("not_configured", "set OPENAI_BASE_URL and OPENAI_MODEL")
        key = ai.openai_api_key
        return cls(
            base_url=ai.openai_base_url,
            model=ai.openai_model,
            api_key=key.get_secret_value() if key is not None else None,
            limits=StreamLimits.from_settings(ai),
        )

    def __repr__(self) -> str:
        return f"OpenAICompatProvider(base_url={self.base_url!r}, model={self.model!r})"

    def stream_with_tools(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
        tools: Sequence[ToolSpec],
    ) -> AsyncIterator[str | ToolCall]:
        stats.model = self.model
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [to_openai(m) for m in messages],
            "stream": True,
            # `max_tokens` is the field every compatible server knows.
            "max_tokens": params.max_output_tokens,
            "temperature": params.temperature,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
        return stream_with_retries(
            lambda: self._attempt(body, stats),
            limits=self.limits,
            stats=stats,
            provider=self.name,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _attempt(
        self, body: dict[str, Any], stats: ReplyStats
    ) -> AsyncGenerator[str | ToolCall, None]:
        """One request: yield its text and tool calls; map every failure to an `AIError`."""
        response: httpx.Response | None = None
        calls = _ToolCallParts()
        try:
            response = await self._send(body)
            if response.status_code != 200:
                await response.aread()
                if self.include_usage and _refuses_usage(response):
                    # Some servers reject `stream_options`: ask once more without it and
                    # never again (usage is then unknown, rather than the reply lost).
                    self.include_usage = False
                    await response.aclose()
                    response = await self._send(body)
            if response.status_code != 200:
                await response.aread()  # a no-op when already read
                raise self._status_error(response)
            async for payload in _sse_payloads(response):
                if payload == "[DONE]":
                    break
                chunk = _parse_chunk(payload)
                for text in _absorb(chunk, stats):
                    yield text
                calls.absorb(chunk)
            for call in calls.finished():
                yield call
        except httpx.TransportError as exc:
            raise transport_error(exc) from None
        finally:
            if response is not None:
                await response.aclose()

    async def _send(self, body: dict[str, Any]) -> httpx.Response:
        if self.include_usage:
            body = {**body, "stream_options": {"include_usage": True}}
        url = f"{self.base_url}/chat/completions"
        request = self._http.build_request("POST", url, json=body)
        return await self._http.send(request, stream=True)

    def _status_error(self, response: httpx.Response) -> AIError:
        code = response.status_code
        detail = redact(_error_message(response), self._secrets)[:200]
        if code in (401, 403):
            # Never repeat the server's words here: some echo part of the key.
            return AIError(
                "config", f"the AI server refused the credentials ({code}); check OPENAI_API_KEY"
            )
        if code == 404:
            return AIError(
                "config",
                f"model {self.model!r} or the endpoint was not found (404) at "
                f"{self.base_url}; check OPENAI_MODEL (Ollama: `ollama pull`) and that "
                "OPENAI_BASE_URL ends in /v1",
            )
        if code in (400, 422):
            return AIError("config", f"the AI server refused the request ({code}): {detail}")
        if code == 429:
            return RetryableError(
                "rate_limited",
                "the AI server is rate limiting us (429)",
                retry_after_s=parse_retry_after(response.headers.get("retry-after")),
            )
        if code in (408, 504):
            return RetryableError("timeout", f"the AI server timed out ({code})")
        if code >= 500:
            return RetryableError("unavailable", f"the AI server is unavailable ({code})")
        return AIError("bad_response", f"the AI server answered HTTP {code}")


def to_openai(message: ChatMessage) -> dict[str, Any]:
    """One message in the chat-completions shape, tool calls and results included."""
    if message.role == "tool":
        call_id = message.tool_call.call_id if message.tool_call else ""
        return {"role": "tool", "tool_call_id": call_id, "content": message.content}
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return out


class _ToolCallParts:
    """Tool calls as they stream in: by index, an id and name first, then the arguments'
    JSON in fragments. Bounded: a server cannot make us hold unlimited arguments."""

    MAX_CALLS = 8
    MAX_ARGUMENT_CHARS = 16_000

    def __init__(self) -> None:
        self.parts: dict[int, dict[str, Any]] = {}

    def absorb(self, chunk: dict[str, Any]) -> None:
        choices = chunk.get("choices") or []
        delta = choices[0].get("delta") if choices else None
        pieces = delta.get("tool_calls") if isinstance(delta, dict) else None
        if not pieces:
            return
        if not isinstance(pieces, list):
            raise AIError("bad_response", "the AI server sent malformed tool calls")
        for piece in pieces:
            if not isinstance(piece, dict):
                raise AIError("bad_response", "the AI server sent a malformed tool call")
            index = piece.get("index", self._index_for(piece.get("id")))
            if not isinstance(index, int) or isinstance(index, bool):
                raise AIError("bad_response", "the AI server sent a tool call without an index")
            if index not in self.parts and len(self.parts) >= self.MAX_CALLS:
                raise AIError("bad_response", "the AI server asked for too many tool calls")
            part = self.parts.setdefault(index, {"id": "", "name": "", "arguments": ""})
            function = piece.get("function") or {}
            if isinstance(piece.get("id"), str):
                part["id"] = piece["id"]
            if isinstance(function, dict):
                if isinstance(function.get("name"), str):
                    part["name"] += function["name"]
                if isinstance(function.get("arguments"), str):
                    part["arguments"] += function["arguments"]
            if len(part["arguments"]) > self.MAX_ARGUMENT_CHARS:
                raise AIError("bad_response", "the AI server sent oversized tool arguments")

    def _index_for(self, call_id: object) -> int:
        """Servers that leave out `index` send each call whole, with its own id (a piece
        without an id continues the latest call)."""
        for index, part in self.parts.items():
            if call_id and part["id"] == call_id:
                return index
        if call_id or not self.parts:
            return len(self.parts)
        return max(self.parts)

    def finished(self) -> list[ToolCall]:
        calls: list[ToolCall] = []
        for index in sorted(self.parts):
            part = self.parts[index]
            if not part["name"]:
                raise AIError("bad_response", "the AI server sent a tool call without a name")
            try:
                arguments = json.loads(part["arguments"] or "{}")
            except json.JSONDecodeError:
                # The model's own mistake: the tool gets no arguments and says what it needs.
                arguments = {}
            if not isinstance(arguments, dict):
                arguments = {}
            calls.append(ToolCall(part["id"] or f"call-{index}", part["name"], arguments))
        return calls


async def _sse_payloads(response: httpx.Response) -> AsyncIterator[str]:
    """The `data:` payloads of a server-sent event stream, one per event."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        # comments (":") and event/id/retry fields carry nothing we need
    if data:
        yield "\n".join(data)


def _parse_chunk(payload: str) -> dict[str, Any]:
    try:
        chunk = json.loads(payload)
    except json.JSONDecodeError:
        raise AIError("bad_response", "the AI server sent a chunk that is not JSON") from None
    if not isinstance(chunk, dict):
        raise AIError("bad_response", "the AI server sent a chunk that is not an object")
    if "error" in chunk:
        # vLLM and others report failures inside the stream.
        raise RetryableError("unavailable", "the AI server reported an error mid-stream")
    return chunk


def _absorb(chunk: dict[str, Any], stats: ReplyStats) -> list[str]:
    """Record usage and finish reason; return the chunk's text; raise when blocked."""
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        if isinstance(usage.get("prompt_tokens"), int):
            stats.input_tokens = usage["prompt_tokens"]
        if isinstance(usage.get("completion_tokens"), int):
            stats.output_tokens = usage["completion_tokens"]
    choices = chunk.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise AIError("bad_response", "the AI server sent a chunk with malformed choices")
    if not choices:
        return []
    choice = choices[0]
    finish = choice.get("finish_reason")
    if finish:
        stats.finish_reason = str(finish)
        if finish == "content_filter":
            raise AIError("blocked", "the AI server's content filter stopped the reply")
    delta = choice.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if content is not None and not isinstance(content, str):
        raise AIError("bad_response", "the AI server sent non-text content")
    return [content] if content else []


def _refuses_usage(response: httpx.Response) -> bool:
    return response.status_code in (400, 422) and "stream_options" in _error_message(response)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error or body)
