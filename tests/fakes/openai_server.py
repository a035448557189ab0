"""A fake OpenAI-compatible server: `POST /v1/chat/completions`, streamed or not.

Speaks the chat-completions shape shared by Ollama, vLLM, llama.cpp server, LM Studio and
NVIDIA NIM: `data: {chunk}` server-sent events ending with `data: [DONE]`, a final usage
chunk when the request sets `stream_options.include_usage`, and OpenAI-style error bodies.

    with FakeOpenAI(api_key="sk-test", known_models={"llama3.2"}) as fake:
        fake.script(Reply(chunks=["Hi", "!"], chunk_delay=0.01))
        provider = OpenAICompatProvider(base_url=fake.base_url, model="llama3.2", ...)
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Collection
from typing import Any

from tests.fakes._server import (
    Drop,
    Fail,
    FakeHttpServer,
    Raw,
    RecordedRequest,
    Reply,
    Step,
    _Connection,
)

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


class FakeOpenAI(FakeHttpServer):
    """Scriptable fake of an OpenAI-compatible chat completions server."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        known_models: Collection[str] | None = None,
        reject_stream_options: bool = False,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.known_models = set(known_models) if known_models is not None else None
        # Like servers that refuse fields they do not know (400, naming the field).
        self.reject_stream_options = reject_stream_options

    @property
    def base_url(self) -> str:
        """What to configure as OPENAI_BASE_URL (the `/v1` root, like Ollama's)."""
        return f"{self.origin}/v1"

    async def answer(self, conn: _Connection, record: RecordedRequest) -> bool:
        if record.method != "POST" or record.path != "/v1/chat/completions":
            await self.send_json(conn, 404, _error(404, f"no route for {record.path}"))
            return True
        body = record.json() or {}
        model = str(body.get("model", ""))
        refusal = self._refusal(record, model)
        if self.reject_stream_options and "stream_options" in body:
            refusal = Fail(400, "Unrecognized request argument supplied: stream_options")
        # A refused request (bad key, unknown model) leaves the script untouched.
        step: Step = refusal if refusal is not None else self.next_step()
        if isinstance(step, Drop):
            return False
        if isinstance(step, Fail):
            headers = {"Retry-After": f"{step.retry_after:g}"} if step.retry_after else None
            await self.send_json(conn, step.status, _error(step.status, step.message), headers)
            return True
        if isinstance(step, Raw):
            return await self.play_raw(conn, step)
        if not body.get("stream"):
            await self.pause(conn, step.head_delay)
            await self.send_json(conn, 200, _whole_response(step, model))
            return True
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events, trailer = _stream_events(step, model, include_usage=include_usage)
        return await self.play_reply(conn, step, events, trailer=trailer)

    def _refusal(self, record: RecordedRequest, model: str) -> Fail | None:
        expected = f"Bearer {self.api_key}"
        if self.api_key is not None and record.headers.get("authorization") != expected:
            return Fail(401, "Incorrect API key provided.")
        if self.known_models is not None and model not in self.known_models:
            return Fail(404, f"The model `{model}` does not exist or you do not have access to it.")
        return None

    async def end_events(self, conn: _Connection) -> None:
        await self.send_event(conn, "[DONE]")
        await super().end_events(conn)


def _error(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _usage(reply: Reply) -> dict[str, int]:
    output = reply.output_tokens if reply.output_tokens is not None else len(reply.chunks)
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": output,
        "total_tokens": reply.input_tokens + output,
    }


def _stream_events(
    reply: Reply, model: str, *, include_usage: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = {
        "id": f"chatcmpl-{secrets.token_hex(6)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    if reply.blocked is not None:
        return [], [_chunk(base, {}, "content_filter")]
    events = [_chunk(base, {"role": "assistant", "content": text}, None) for text in reply.chunks]
    for index, (name, args) in enumerate(reply.tool_calls):
        # As servers stream them: id and name first, the arguments' JSON in two pieces.
        arguments = json.dumps(args)
        half = len(arguments) // 2
        head = {"index": index, "id": f"call_{index}", "type": "function"}
        events.append(
            _chunk(
                base, {"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}, None
            )
        )
        for piece in (arguments[:half], arguments[half:]):
            events.append(
                _chunk(
                    base, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, None
                )
            )
    finish = "tool_calls" if reply.tool_calls else "stop"
    trailer = [_chunk(base, {}, reply.finish_reason or finish)]
    if include_usage:
        trailer.append({**base, "choices": [], "usage": _usage(reply)})
    return events, trailer


def _whole_response(reply: Reply, model: str) -> dict[str, Any]:
    text = "" if reply.blocked else "".join(reply.chunks)
    finish = "content_filter" if reply.blocked else reply.finish_reason or "stop"
    return {
        "id": f"chatcmpl-{secrets.token_hex(6)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": _usage(reply),
    }
