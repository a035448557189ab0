"""What a database error means for the caller: unreachable, bad data, or an old schema.

Only a database that cannot be reached (refused or lost connections, client-side
timeouts, a server shutting down, a serialization conflict) is "unavailable" (503,
retry later). A value the database refuses (PostgreSQL class 22: a NUL character, a
number out of range) is the request's fault (422). A missing table or column means
the database was never migrated to this release's schema (503 schema_out_of_date,
which only `ballsy db upgrade` fixes). Anything else is a bug and stays a 500.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ballsy.errors import BallsyError, DatabaseUnavailable, InvalidData, SchemaOutOfDate

log = logging.getLogger("ballsy.db")

UNAVAILABLE_MESSAGE = "The database is unavailable right now; please try again in a moment."
SCHEMA_MESSAGE = (
    "The database schema is out of date for this release; "
    "the operator must run `ballsy db upgrade`."
)
BAD_DATA_MESSAGE = "The request holds a value the database cannot store."

# SQLSTATE classes (PostgreSQL, shared by most SQL databases).
_UNAVAILABLE_CLASSES = {"08", "40", "53", "57", "58"}  # connection, rollback, resources, admin
_SCHEMA_STATES = {"42P01", "42703", "42883", "3F000"}  # undefined table/column/function/schema
_SQLITE_SCHEMA = ("no such table", "no such column", "has no column named")


def database_error(exc: BaseException) -> BallsyError | None:
    """The client-facing error for a database failure, or None when `exc` is not one
    this module recognises (the caller then treats it as an internal error)."""
    kind = classify(exc)
    if kind == "unavailable":
        log.error("database unavailable", extra={"error": _name(exc)})
        return DatabaseUnavailable(UNAVAILABLE_MESSAGE)
    if kind == "schema":
        log.error("database schema out of date", extra={"error": _name(exc)})
        return SchemaOutOfDate(SCHEMA_MESSAGE)
    if kind == "bad_data":
        log.warning("database refused a value", extra={"error": _name(exc)})
        return InvalidData(BAD_DATA_MESSAGE)
    return None


def classify(exc: BaseException) -> str | None:
    """ "unavailable", "schema", "bad_data", or None (not a recognised database failure)."""
    if isinstance(exc, (PoolTimeout, ConnectionError, TimeoutError)):
        return "unavailable"
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "unavailable"
    state = _sqlstate(exc)
    if state is not None:
        if state in _SCHEMA_STATES:
            return "schema"
        if state.startswith("22"):
            return "bad_data"
        if state[:2] in _UNAVAILABLE_CLASSES:
            return "unavailable"
    message = str(exc.orig).lower()
    if any(marker in message for marker in _SQLITE_SCHEMA):
        return "schema"
    if isinstance(exc, DataError) or _caused_by_driver_data_error(exc):
        return "bad_data"
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "unavailable"
    if state is None and isinstance(exc.orig, (OSError, TimeoutError)):
        return "unavailable"
    return None


def _sqlstate(exc: DBAPIError) -> str | None:
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None


def _caused_by_driver_data_error(exc: DBAPIError) -> bool:
    """asyncpg refuses some values before sending them (an integer out of range) with
    its own DataError, which SQLAlchemy reports as an InterfaceError."""
    cause = getattr(exc.orig, "__cause__", None)
    return cause is not None and type(cause).__name__ == "DataError"


def _name(exc: BaseException) -> str:
    state = _sqlstate(exc) if isinstance(exc, DBAPIError) else None
    return f"{type(exc).__name__}({state})" if state else type(exc).__name__
