"""A fake Gemini API server speaking the REST shapes of Google's API reference.

Implements `POST /{version}/models/{model}:generateContent` and
`POST /{version}/models/{model}:streamGenerateContent?alt=sse` (also under a Vertex-style
`.../publishers/google/models/{model}` prefix). Point the real `google-genai` SDK at it with
`HttpOptions(base_url=fake.base_url)` or `GOOGLE_GEMINI_BASE_URL=fake.base_url`.

    with FakeGemini(api_key="test-key") as fake:
        fake.script(Fail(503, times=2), Reply(chunks=["Hi", " there."]))
        ...
        assert len(fake.requests) == 3

`known_models` (None: any) makes other models answer 404 NOT_FOUND like the real API;
`api_key` (None: any) makes a different `x-goog-api-key` answer 400 API_KEY_INVALID.
"""

from __future__ import annotations

import base64
import re
import secrets
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

_PATH = re.compile(
    r"^/(?P<version>[^/]+)/(?:.*/)?models/(?P<model>[^/:]+):"
    r"(?P<method>generateContent|streamGenerateContent)$"
)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class FakeGemini(FakeHttpServer):
    """Scriptable fake of the Gemini Developer API (see module docstring)."""

    def __init__(
        self, *, api_key: str | None = None, known_models: Collection[str] | None = None
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.known_models = set(known_models) if known_models is not None else None

    @property
    def base_url(self) -> str:
        """What to give the SDK as its base URL (it appends `/v1beta/models/...`)."""
        return self.origin

    async def answer(self, conn: _Connection, record: RecordedRequest) -> bool:
        match = _PATH.match(record.path)
        if record.method != "POST" or match is None:
            await self.send_json(conn, 404, _error(404, f"no route for {record.path}"))
            return True
        model = match["model"]
        refusal = self._refusal(record, model)
        # A refused request (bad key, unknown model) leaves the script untouched.
        step: Step = refusal if refusal is not None else self.next_step()
        if isinstance(step, Drop):
            return False
        if isinstance(step, Fail):
            await self.send_json(conn, step.status, _error(step.status, step.message, step))
            return True
        if isinstance(step, Raw):
            return await self.play_raw(conn, step)
        if match["method"] == "generateContent":
            await self.pause(conn, step.head_delay)
            await self.send_json(conn, 200, _whole_response(step, model))
            return True
        events, trailer = _stream_events(step, model)
        return await self.play_reply(conn, step, events, trailer=trailer)

    def _refusal(self, record: RecordedRequest, model: str) -> Fail | None:
        key = record.headers.get("x-goog-api-key")
        if self.api_key is not None and key != self.api_key:
            return Fail(400, "API key not valid. Please pass a valid API key.")
        if self.known_models is not None and model not in self.known_models:
            return Fail(
                404,
                f"models/{model} is not found for API version v1beta, or is not "
                "supported for generateContent. Call ListModels to see the list of "
                "available models and their supported methods.",
            )
        return None


def _error(status: int, message: str, fail: Fail | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if status == 400 and message.startswith("API key not valid"):
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ]
    if fail is not None and fail.retry_after is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{fail.retry_after:g}s",
            }
        ]
    return {"error": error}


def _usage(reply: Reply, *, final: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens}
    if final:
        output = reply.output_tokens if reply.output_tokens is not None else len(reply.chunks)
        usage["candidatesTokenCount"] = output
        usage["totalTokenCount"] = reply.input_tokens + output
    else:
        usage["totalTokenCount"] = reply.input_tokens
    return usage


def _candidate(text: str | None, finish: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {"role": "model", "parts": [{"text": text}] if text else []}
    candidate: dict[str, Any] = {"content": content, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
        if finish == "SAFETY":
            candidate["safetyRatings"] = [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ]
    return candidate


def _stream_events(reply: Reply, model: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    response_id = secrets.token_hex(8)
    base = {"modelVersion": model, "responseId": response_id}
    if reply.blocked is not None:
        blocked = {
            **base,
            "promptFeedback": {"blockReason": reply.blocked},
            "usageMetadata": _usage(reply, final=False),
        }
        return [], [blocked]
    finish = reply.finish_reason or "STOP"
    events: list[dict[str, Any]] = []
    for index, text in enumerate(reply.chunks):
        last = index == len(reply.chunks) - 1 and not reply.tool_calls
        events.append(
            {
                **base,
                "candidates": [_candidate(text, finish if last else None)],
                "usageMetadata": _usage(reply, final=last),
            }
        )
    for index, (name, args) in enumerate(reply.tool_calls):
        # Like Gemini 3: each call carries a thought signature the client must send back.
        call_part = {
            "functionCall": {"name": name, "args": args},
            "thoughtSignature": base64.b64encode(f"sig-{index}-{name}".encode()).decode(),
        }
        content = {"role": "model", "parts": [call_part]}
        events.append(
            {
                **base,
                "candidates": [{"content": content, "index": 0, "finishReason": finish}],
                "usageMetadata": _usage(reply, final=True),
            }
        )
    trailer = (
        []
        if events
        else [
            {
                **base,
                "candidates": [_candidate(None, finish)],
                "usageMetadata": _usage(reply, final=True),
            }
        ]
    )
    return events, trailer


def _whole_response(reply: Reply, model: str) -> dict[str, Any]:
    if reply.blocked is not None:
        return _stream_events(reply, model)[1][0]
    text = "".join(reply.chunks)
    return {
        "modelVersion": model,
        "candidates": [_candidate(text, reply.finish_reason or "STOP")],
        "usageMetadata": _usage(reply, final=True),
    }
