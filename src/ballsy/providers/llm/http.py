"""HTTP pieces shared by the providers: timeouts, transport errors, retry-after."""

from __future__ import annotations

import email.utils
import functools
import math
import ssl
import time

import httpx

from ballsy.providers.llm.base import AIError
from ballsy.providers.llm.streaming import RetryableError, StreamLimits


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verified TLS context for every AI client (loading CA files costs ~100 ms each).

    Built on first use, never at import; httpx's own default (certifi's CA bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR when set).
    """
    return httpx.create_ssl_context()


def httpx_timeout(limits: StreamLimits) -> httpx.Timeout:
    """Connect/write/pool bounded by the connect timeout; reads by the first-token one.

    Our own first-token and total timers are the real bounds; the read timeout is a
    backstop against a socket that stalls between chunks.
    """
    return httpx.Timeout(
        connect=limits.connect_timeout_s,
        read=limits.first_token_timeout_s,
        write=limits.connect_timeout_s,
        pool=limits.connect_timeout_s,
    )


def transport_error(exc: httpx.TransportError) -> AIError:
    """Map an httpx network failure; only failures before the answer are retried."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ReadTimeout):
        # A stall while reading: retrying would multiply the wait the user feels.
        return AIError("timeout", "the provider stopped sending (read timeout)")
    if isinstance(exc, httpx.TimeoutException):
        return RetryableError("timeout", f"could not reach the provider in time ({name})")
    return RetryableError("unavailable", f"network error talking to the provider ({name})")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if sensible."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None
