"""Hiding secrets in what is printed or logged."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def redact_url(raw: str) -> str:
    """The URL with its password hidden, safe to print and log."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable DATABASE_URL>"
