"""Value rules: what each SQLite value becomes in PostgreSQL, and what counts as a repair.

A *conversion* turns a well-formed SQLite value into its PostgreSQL form (text timestamps
into aware UTC datetimes, 0/1 and text booleans into booleans) and is not reported. A
*repair* changes or invents a value PostgreSQL would refuse, and is recorded with the row
id, the column and a stable rule name (see the package docstring for the full list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1

# The stand-in for a missing or unreadable NOT NULL timestamp: the Unix epoch, which no
# real prototype row carries, so it reads as "unknown" rather than as a plausible date.
UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_EPOCH_SECONDS = -62135596800  # 0001-01-01
_MAX_EPOCH_SECONDS = 253402300799  # 9999-12-31 23:59:59

_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})


class BadText(str):
    """Text that was not valid UTF-8 in SQLite, decoded with U+FFFD replacements."""

    __slots__ = ()


def decode_text_leniently(raw: bytes) -> str:
    """The sqlite3 text factory used when a batch holds invalid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadText(raw.decode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class Repair:
    """One repaired (or dropped) row: where it is, and which rule changed it."""

    table: str
    row_id: int
    rule: str
    column: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class RepairLog:
    items: list[Repair] = field(default_factory=list)

    def add(
        self,
        table: str,
        row_id: int,
        rule: str,
        column: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.items.append(Repair(table, row_id, rule, column, detail))


def text_or_rule(value: object) -> tuple[str | None, str | None]:
    """Clean one value for a text column: (text, the repair rule applied or None).

    PostgreSQL text holds any Unicode except U+0000 and needs valid UTF-8, so NUL
    characters become U+FFFD, as do undecodable bytes; everything else is kept exactly.
    """
    if value is None:
        return None, None
    if isinstance(value, BadText):
        return str(value).replace("\x00", "\ufffd"), "invalid_utf8_replaced"
    if isinstance(value, str):
        if "\x00" in value:
            return value.replace("\x00", "\ufffd"), "nul_replaced"
        return value, None
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("utf-8", "replace").replace("\x00", "\ufffd"), "blob_decoded"
        return text.replace("\x00", "\ufffd"), "blob_decoded"
    # A number in a text column (a column declared without a type): its SQLite text form.
    return str(value), "number_as_text"


def timestamp_or_none(value: object) -> datetime | None:
    """Parse a SQLite timestamp as aware UTC, or None when absent or unreadable.

    Accepted: ISO 8601 text with a space or `T`, with or without fractional seconds (more
    than six digits are truncated to microseconds), with an offset (converted to UTC) or
    without (assumed UTC), a date alone (midnight); and numbers as Unix seconds.
    """
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not _MIN_EPOCH_SECONDS <= value <= _MAX_EPOCH_SECONDS:
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=value)
    if isinstance(value, bytes):
        try:
            return timestamp_or_none(value.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):  # BadText
        return timestamp_or_none(str(value))
    return None


def boolean_or_none(value: object) -> bool | None:
    """0/1 (any non-zero number is true, as in SQLite) and the usual words; else None."""
    if type(value) is int:
        return value != 0
    if isinstance(value, float):
        return value != 0.0
    if isinstance(value, str | bytes):
        word = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        word = word.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def int4_or_none(value: object) -> int | None:
    """An integer PostgreSQL's `integer` can hold (integral floats accepted), else None."""
    if type(value) is int:
        return value if INT4_MIN <= value <= INT4_MAX else None
    if isinstance(value, float) and value.is_integer():
        return int4_or_none(int(value))
    return None


def float_or_none(value: object) -> float | None:
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def is_json_text(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def truncate_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with a marker that says it was cut and how
    long it was (rule `too_long_truncated`): the product's limits hold for imported rows
    too, so no read returns more than a column's limit."""
    marker = f" [… cut by the SQLite import from {len(text):,} characters]"
    return text[: max(0, limit - len(marker))] + marker[:limit]
