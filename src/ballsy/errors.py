"""Error types with stable codes, mapped once to HTTP statuses and WebSocket messages.

Code below the API raises these; `api/errors.py` turns them into responses. The code
string is the contract clients rely on; the message is for people.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BallsyError(Exception):
    """Base error: a stable `code`, a human `message`, the HTTP status it maps to."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            body["retry_after"] = round(self.retry_after, 3)
        return body


class BadRequest(BallsyError):
    code = "bad_request"
    status = 400


class InvalidData(BallsyError):
    """Well-formed request, but a value that cannot be accepted or stored."""

    code = "bad_request"
    status = 422


class Unauthorized(BallsyError):
    code = "unauthorized"
    status = 401


class Forbidden(BallsyError):
    code = "forbidden"
    status = 403


class NotFound(BallsyError):
    code = "not_found"
    status = 404


class TooLarge(BallsyError):
    code = "too_large"
    status = 413


class UnsupportedMedia(BallsyError):
    code = "unsupported_media"
    status = 415


class InvalidAudio(BallsyError):
    code = "invalid_audio"
    status = 422


class AudioTooLong(BallsyError):
    code = "audio_too_long"
    status = 422


class RateLimited(BallsyError):
    code = "rate_limited"
    status = 429


class Busy(BallsyError):
    code = "busy"
    status = 503


class ProviderUnavailable(BallsyError):
    code = "provider_unavailable"
    status = 503


class SttUnavailable(BallsyError):
    """Speech recognition failed on the server's side (a worker crashed or ran out of time)."""

    code = "stt_unavailable"
    status = 503


class TtsUnavailable(BallsyError):
    """Speech synthesis failed for a reason that is not the caller's; retry later."""

    code = "tts_unavailable"
    status = 503


class DatabaseUnavailable(BallsyError):
    code = "database_unavailable"
    status = 503


class SchemaOutOfDate(BallsyError):
    """The database has not been migrated to the schema this release needs."""

    code = "schema_out_of_date"
    status = 503


class InternalError(BallsyError):
    """Anything unexpected: logged with its traceback, told to the client in general terms."""

    code = "internal_error"
    status = 500


class FeatureUnavailable(BallsyError):
    """An optional part (an extra) is not installed or is switched off."""

    code = "feature_unavailable"
    status = 501
