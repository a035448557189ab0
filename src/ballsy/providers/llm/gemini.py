"""Gemini replies through the official `google-genai` SDK, streamed, bounded, cancellable.

Two ways to authenticate: an API key (Gemini Developer API) or Vertex AI with the
environment's Google credentials (project + location). The base URL comes from the
`base_url` argument, else the SDK's own `GOOGLE_GEMINI_BASE_URL` / `GOOGLE_VERTEX_BASE_URL`.

How the SDK is held:
- we hand it our own `httpx.AsyncClient`, whose transport sets per-phase timeouts (the SDK
  only knows one flat timeout) and records each HTTP response of the current attempt, so
  leaving a reply early closes that response, and its connection, at once (the SDK's
  nested generators would otherwise keep it open until garbage collection);
- the SDK's own retries stay off (its default without `retry_options` is one attempt);
  `stream_with_retries` owns retries, so they never multiply;
- automatic function calling and continuation are off: one request per attempt. Function
  calling is manual: `stream_with_tools` declares the tools, yields the model's
  `ToolCall`s (with their thought signatures, which Gemini 3 requires back), and the
  pipeline sends the results in the next request as function responses.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, Literal

import google.auth.exceptions
import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
from ballsy.providers.llm.http import httpx_timeout, shared_ssl_context, transport_error
from ballsy.providers.llm.streaming import (
    RetryableError,
    StreamLimits,
    redact,
    stream_with_retries,
)

BLOCKED_FINISH_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


class _Capture:
    """The HTTP responses opened during one attempt, to close them on any exit."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def aclose(self) -> None:
        for response in self.responses:
            await response.aclose()


_capture: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "ballsy_gemini_capture", default=None
)


class _CapturingTransport(httpx.AsyncBaseTransport):
    """Applies our per-phase timeouts and records responses for the current attempt."""

    def __init__(self, timeout: httpx.Timeout) -> None:
        self._inner = httpx.AsyncHTTPTransport(verify=shared_ssl_context())
        self._timeout = timeout.as_dict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # The SDK sends timeout=None (no bound at all) unless given one flat value.
        request.extensions["timeout"] = self._timeout
        response = await self._inner.handle_async_request(request)
        capture = _capture.get()
        if capture is not None:
            capture.responses.append(response)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def thinking_config_for(model: str) -> types.ThinkingConfig | None:
    """The least thinking each model family allows; voice turns want speed."""
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("gemini-2.5-pro"):
        return types.ThinkingConfig(thinking_budget=128)  # 2.5 Pro cannot switch it off
    if name.startswith("gemini-2.5-flash"):
        return types.ThinkingConfig(thinking_budget=0)
    if name.startswith("gemini-3"):
        level = types.ThinkingLevel.LOW if "pro" in name else types.ThinkingLevel.MINIMAL
        return types.ThinkingConfig(thinking_level=level)
    return None  # older families reject a thinking config


def to_gemini(messages: Sequence[ChatMessage]) -> tuple[str | None, list[types.ContentDict]]:
    """System messages become the system instruction; turns become contents.

    Contents are the SDK's typed dicts rather than `types.Content` models: the SDK
    validates either, and dicts halve its request-building time (about 3 ms less per
    reply with six turns of context on our machines), which is time to first token.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    contents: list[types.ContentDict] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            part = _function_response(m)
            last = contents[-1] if contents else None
            # The results of one round's calls travel together, in one user turn.
            if last is not None and _is_function_responses(last):
                last.setdefault("parts", []).append(part)  # type: ignore[union-attr]
            else:
                contents.append({"role": "user", "parts": [part]})
            continue
        parts: list[types.PartDict] = [{"text": m.content}] if m.content or not m.tool_calls else []
        parts.extend(_function_call(call) for call in m.tool_calls)
        contents.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
    if not contents:
        raise ValueError("a reply needs at least one user or assistant message")
    return system, contents


def _function_call(call: ToolCall) -> types.PartDict:
    part: types.PartDict = {
        "function_call": {"name": call.name, "args": call.arguments, "id": call.call_id}
    }
    if call.signature is not None:
        part["thought_signature"] = call.signature
    return part


def _function_response(message: ChatMessage) -> types.PartDict:
    call = message.tool_call
    if call is None:
        raise ValueError("a tool message needs the call it answers")
    return {
        "function_response": {
            "name": call.name,
            "id": call.call_id,
            "response": {"output": message.content},
        }
    }


def _is_function_responses(content: types.ContentDict) -> bool:
    parts = content.get("parts") or []
    return content.get("role") == "user" and all(
        isinstance(p, dict) and "function_response" in p for p in parts
    )


def function_declarations(tools: Sequence[ToolSpec]) -> list[types.Tool]:
    """Our tools as one Gemini tool of function declarations (JSON Schema arguments).

    Built as models, not typed dicts: from a dict the SDK sends `parameters_json_schema`
    under its Python name, which the API does not know.
    """
    if not tools:
        return []
    declarations = [
        types.FunctionDeclaration(
            name=t.name, description=t.description, parameters_json_schema=t.parameters
        )
        for t in tools
    ]
    return [types.Tool(function_declarations=declarations)]


class GeminiProvider(FunctionCallingProvider):
    """Gemini through `google-genai`; build with an API key or for Vertex AI.

    With `vertexai=True` and no `project`, the SDK looks up Application Default
    Credentials while constructing (a blocking call) and fails with `AIError("config")`
    when there are none.
    """

    name = "gemini"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        vertexai: bool = False,
        project: str | None = None,
        location: str | None = None,
        base_url: str | None = None,
        limits: StreamLimits | None = None,
        credentials: Any = None,
    ) -> None:
        if not model.strip():
            raise AIError("config", "GEMINI_MODEL must name a model")
        if not vertexai and not api_key:
            raise AIError(
                "not_configured",
                "Gemini needs GEMINI_API_KEY (or GOOGLE_GENAI_USE_VERTEXAI=true on Google Cloud)",
            )
        self.model = model
        self.limits = limits or StreamLimits()
        self._backend: Literal["api_key", "vertex"] = "api_key" if api_key else "vertex"
        self._secrets = (api_key,)
        self._http = httpx.AsyncClient(transport=_CapturingTransport(httpx_timeout(self.limits)))
        # Never used for requests; handing the SDK both clients and the TLS context
        # stops it from building three more contexts of its own (~0.3 s per provider).
        self._sync_http = httpx.Client(verify=shared_ssl_context())
        http_options = types.HttpOptions(
            base_url=base_url,
            httpx_async_client=self._http,
            httpx_client=self._sync_http,
            async_client_args={"ssl": shared_ssl_context()},
        )
        try:
            if api_key:
                self._client = genai.Client(api_key=api_key, http_options=http_options)
            else:
                self._client = genai.Client(
                    vertexai=True,
                    project=project,
                    location=location,
                    credentials=credentials,
                    http_options=http_options,
                )
        except Exception as exc:  # the SDK raises plain ValueError/auth errors here
            self._sync_http.close()
            message = redact(str(exc), self._secrets)[:200]
            raise AIError("config", f"cannot set up the Gemini client: {message}") from None

    @classmethod
    def from_settings(cls, ai: AISettings, *, project: str | None) -> GeminiProvider:
        """GEMINI_API_KEY wins; without one, Vertex AI when GOOGLE_GENAI_USE_VERTEXAI=true,
        in `project` (GOOGLE_CLOUD_PROJECT; None lets the SDK find it).

        The base URL is left to the SDK's GOOGLE_GEMINI_BASE_URL / GOOGLE_VERTEX_BASE_URL.
        """
        key = ai.gemini_api_key
        return cls(
            model=ai.gemini_model,
            api_key=key.get_secret_value() if key is not None else None,
            vertexai=key is None and ai.google_genai_use_vertexai,
            project=project,
            location=ai.google_cloud_location,
            limits=StreamLimits.from_settings(ai),
        )

    def __repr__(self) -> str:
        return f"GeminiProvider(model={self.model!r}, backend={self._backend!r})"

    def stream_with_tools(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        stats: ReplyStats,
        tools: Sequence[ToolSpec],
    ) -> AsyncIterator[str | ToolCall]:
        stats.model = self.model
        system, contents = to_gemini(messages)
        config = types.GenerateContentConfig(
            tools=function_declarations(tools) or None,
            system_instruction=system,
            max_output_tokens=params.max_output_tokens,
            temperature=params.temperature,
            thinking_config=thinking_config_for(self.model),
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            automatic_continuation=False,
        )
        return stream_with_retries(
            lambda: self._attempt(contents, config, stats),
            limits=self.limits,
            stats=stats,
            provider=self.name,
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        await self._http.aclose()
        self._sync_http.close()

    async def _attempt(
        self,
        contents: list[types.ContentDict],
        config: types.GenerateContentConfig,
        stats: ReplyStats,
    ) -> AsyncGenerator[str | ToolCall, None]:
        """One request: yield its text; map every failure to an `AIError`."""
        capture = _Capture()
        sdk_stream: AsyncIterator[types.GenerateContentResponse] | None = None
        try:
            # The request happens on the first step; record its response while (and only
            # while) no yield can move us to another context.
            token = _capture.set(capture)
            try:
                sdk_stream = await self._client.aio.models.generate_content_stream(
                    model=self.model, contents=contents, config=config
                )
                response = await _next_response(sdk_stream)
            finally:
                _capture.reset(token)
            while response is not None:
                for text in _absorb(response, stats):
                    yield text
                response = await _next_response(sdk_stream)
        except genai_errors.APIError as exc:
            raise self._api_error(exc) from None
        except httpx.TransportError as exc:
            raise transport_error(exc) from None
        except google.auth.exceptions.TransportError:
            raise RetryableError("unavailable", "cannot reach Google's token service") from None
        except google.auth.exceptions.GoogleAuthError as exc:
            detail = redact(str(exc), self._secrets)[:200]
            raise AIError(
                "config",
                f"no usable Google credentials for Vertex AI ({type(exc).__name__}): {detail}",
            ) from None
        finally:
            await capture.aclose()
            close = getattr(sdk_stream, "aclose", None)
            if close is not None:
                await close()

    def _api_error(self, exc: genai_errors.APIError) -> AIError:
        code = exc.code or 0
        status = exc.status or ""
        detail = redact(str(exc.message or ""), self._secrets)[:200]
        if code == 404:
            return AIError(
                "config",
                f"Gemini model {self.model!r} was not found (404 {status}); "
                "set GEMINI_MODEL to a model your key can use",
            )
        if code in (401, 403) or (code == 400 and _is_key_error(exc)):
            return AIError(
                "config",
                f"Gemini refused the credentials ({code} {status}); check GEMINI_API_KEY "
                "or the service account's Vertex AI access",
            )
        if code == 400:
            return AIError("config", f"Gemini refused the request (400 {status}): {detail}")
        if code == 429:
            return RetryableError(
                "rate_limited",
                f"Gemini is rate limiting us (429 {status})",
                retry_after_s=_retry_delay_from(exc.details),
            )
        if code in (408, 504):
            return RetryableError("timeout", f"Gemini timed out ({code} {status})")
        if code >= 500:
            return RetryableError("unavailable", f"Gemini is unavailable ({code} {status})")
        return AIError("bad_response", f"Gemini answered HTTP {code} {status}")


async def _next_response(
    sdk_stream: AsyncIterator[types.GenerateContentResponse],
) -> types.GenerateContentResponse | None:
    """The SDK's next parsed chunk; its parsing failures become `bad_response`."""
    try:
        return await anext(sdk_stream, None)
    except genai_errors.APIError:
        raise
    # Invalid JSON (UnknownApiResponseError, a ValueError), a shape pydantic rejects
    # (ValidationError, a ValueError) or one the SDK's converters trip on (TypeError...).
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AIError(
            "bad_response", f"Gemini sent a malformed chunk ({type(exc).__name__})"
        ) from None


def _absorb(response: types.GenerateContentResponse, stats: ReplyStats) -> list[str | ToolCall]:
    """Record usage and finish reason; return the chunk's text and function calls;
    raise when blocked."""
    usage = response.usage_metadata
    if usage is not None:
        if usage.prompt_token_count is not None:
            stats.input_tokens = usage.prompt_token_count
        if usage.candidates_token_count is not None or usage.thoughts_token_count:
            stats.output_tokens = (usage.candidates_token_count or 0) + (
                usage.thoughts_token_count or 0
            )
        if usage.thoughts_token_count:
            stats.extra["thoughts_tokens"] = str(usage.thoughts_token_count)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _enum_text(feedback.block_reason)
        stats.finish_reason = reason
        raise AIError("blocked", f"Gemini blocked the prompt ({reason})")
    if not response.candidates:
        return []
    candidate = response.candidates[0]
    if candidate.finish_reason is not None:
        stats.finish_reason = _enum_text(candidate.finish_reason)
        if stats.finish_reason in BLOCKED_FINISH_REASONS:
            raise AIError("blocked", f"Gemini stopped the reply ({stats.finish_reason})")
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    out: list[str | ToolCall] = []
    for part in parts:
        call = part.function_call
        if call is not None and call.name:
            # The Gemini API often sends no id; ours pairs the call with its result.
            call_id = call.id or f"call-{stats.extra.get('calls', '0')}"
            stats.extra["calls"] = str(int(stats.extra.get("calls", "0")) + 1)
            out.append(ToolCall(call_id, call.name, dict(call.args or {}), part.thought_signature))
        elif part.text and not part.thought:
            out.append(part.text)
    return out


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _error_body(details: Any) -> dict[str, Any]:
    if isinstance(details, dict):
        inner = details.get("error", details)
        return inner if isinstance(inner, dict) else {}
    return {}


def _is_key_error(exc: genai_errors.APIError) -> bool:
    body = _error_body(exc.details)
    reasons = {d.get("reason") for d in body.get("details") or [] if isinstance(d, dict)}
    return "API_KEY_INVALID" in reasons or "API key" in str(body.get("message", ""))


def _retry_delay_from(details: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail ("12s", "0.5s"), if present."""
    for item in _error_body(details).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
