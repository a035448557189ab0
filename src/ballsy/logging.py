"""Structured logs: one JSON object per line on stdout, in Cloud Logging's field names.

Request-scoped fields (request id, trace, user id) travel in a context variable so
every line logged while serving a request carries them. Secrets never reach a log:
the values of configured secrets are scrubbed from every message as a last line of
defence, and code never logs them on purpose.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_context: ContextVar[dict[str, Any] | None] = ContextVar("request_context", default=None)

# uvicorn adds color_message, a duplicate of the message with terminal colour codes.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}


def bind(**fields: Any) -> None:
    """Add fields to the current request's log context."""
    current = request_context.get()
    if current is None:
        return
    current.update({k: v for k, v in fields.items() if v is not None})


class SecretScrubber(logging.Filter):
    """Replace any configured secret value that slipped into a message."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in self.secrets:
            scrubbed = scrubbed.replace(secret, "[redacted]")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class JsonFormatter(logging.Formatter):
    """Cloud Logging structured format: severity, message, time, plus context fields."""

    def __init__(self, project: str | None) -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        context = request_context.get()
        if context:
            entry.update(context)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        trace = entry.pop("trace_id", None)
        if trace and self.project:
            entry["logging.googleapis.com/trace"] = f"projects/{self.project}/traces/{trace}"
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines for local development (LOG_FORMAT=text)."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        context = request_context.get() or {}
        extras = {k: v for k, v in vars(record).items() if k not in _RESERVED}
        fields = {**context, **extras}
        if fields:
            base += "  " + " ".join(f"{k}={v}" for k, v in fields.items())
        return base


def configure_logging(*, level: str, fmt: str, project: str | None, secrets: list[str]) -> None:
    """Install one stdout handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(project))
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(SecretScrubber(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_ballsy", False):
            root.removeHandler(existing)
    handler._ballsy = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own access log would duplicate ours; its error log goes through root.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # The AI SDK and HTTP client log request lines; keep them at WARNING.
    for name in ("httpx", "httpx2", "httpcore", "google_genai", "google.genai"):
        logging.getLogger(name).setLevel(logging.WARNING)
