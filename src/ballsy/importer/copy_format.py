"""PostgreSQL's binary COPY format for converted rows.

A converted row becomes one binary COPY tuple: a 16-bit field count, then per column a
32-bit byte length (-1 for NULL) and the value in PostgreSQL's binary form: int4 and
float8 big-endian, a boolean as one byte, text and json as UTF-8, a timestamptz as 64-bit
microseconds since 2000-01-01 UTC. The workers pack these bytes themselves (one `struct`
call per value, in one function per table) and hand PostgreSQL whole batches, so no
driver converts values row by row. The same bytes are the input of the content checksum
(see `checksum`): PostgreSQL writes them again from the stored values, with each type's
send function, when it copies the rows out in the same format.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ballsy.importer.tables import Kind, TableSpec

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no extension
TRAILER = struct.pack(">h", -1)

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NULL = struct.pack(">i", -1)
_BOOL = {True: struct.pack(">iB", 1, 1), False: struct.pack(">iB", 1, 0)}
_pack_int4 = struct.Struct(">ii").pack
_pack_int8 = struct.Struct(">iq").pack
_pack_float8 = struct.Struct(">id").pack
_pack_length = struct.Struct(">i").pack
_pack_count = struct.Struct(">h").pack


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return _pack_length(len(data)) + data


def _timestamp(value: datetime) -> bytes:
    return _pack_int8(8, (value - _PG_EPOCH) // _MICROSECOND)


# One column's bytes from its value, per kind: the definition the table encoders below
# spell out inline, and what the tests check them against.
_FIELD: dict[Kind, Callable[[Any], bytes]] = {
    "int": lambda value: _pack_int4(4, value),
    "text": _text,
    "json": _text,
    "bool": _BOOL.__getitem__,
    "ts": _timestamp,
    "float": lambda value: _pack_float8(8, value),
}


def reference_encoder(spec: TableSpec) -> Callable[[Sequence[Any]], bytes]:
    """The binary COPY tuple of a converted row of `spec`, column by column from the
    spec's kinds: the definition, at one call per value (see `row_encoder`)."""
    fields = [(_FIELD[column.kind], column.required) for column in spec.columns]
    count = _pack_count(len(fields))

    def encode(row: Sequence[Any]) -> bytes:
        parts = [count]
        for (field, required), value in zip(fields, row, strict=True):
            parts.append(_NULL if value is None and not required else field(value))
        return b"".join(parts)

    return encode


# The table encoders: the same bytes as `reference_encoder`, written out column by column
# (tests/db/test_import_rules.py checks each against it), because a call per value costs
# more than the packing itself and encoding runs for every imported row. Columns follow
# tables.py; a nullable column reads `_NULL if v is None else ...`.
_join = b"".join
_COUNT = {n: _pack_count(n) for n in (4, 6, 7, 8, 13)}
_E = _PG_EPOCH
_U = _MICROSECOND


def _users(row: Sequence[Any]) -> bytes:
    uid, username, created, token_hash, issued, seen, last_result, placeholder = row
    return _join(
        (
            _COUNT[8],
            _pack_int4(4, uid),
            _text(username),
            _pack_int8(8, (created - _E) // _U),
            _NULL if token_hash is None else _text(token_hash),
            _NULL if issued is None else _pack_int8(8, (issued - _E) // _U),
            _NULL if seen is None else _pack_int8(8, (seen - _E) // _U),
            _NULL if last_result is None else _text(last_result),
            _BOOL[placeholder],
        )
    )


def _conversations(row: Sequence[Any]) -> bytes:
    cid, user_id, started, last_activity = row
    return _join(
        (
            _COUNT[4],
            _pack_int4(4, cid),
            _pack_int4(4, user_id),
            _pack_int8(8, (started - _E) // _U),
            _NULL if last_activity is None else _pack_int8(8, (last_activity - _E) // _U),
        )
    )


def _messages(row: Sequence[Any]) -> bytes:
    mid, conversation_id, is_user, content, created, turn_id, interrupted = row
    return _join(
        (
            _COUNT[7],
            _pack_int4(4, mid),
            _pack_int4(4, conversation_id),
            _BOOL[is_user],
            _text(content),
            _pack_int8(8, (created - _E) // _U),
            _NULL if turn_id is None else _text(turn_id),
            _BOOL[interrupted],
        )
    )


def _settings(row: Sequence[Any]) -> bytes:
    sid, user_id, voice, voice_speed, theme, timezone = row
    return _join(
        (
            _COUNT[6],
            _pack_int4(4, sid),
            _pack_int4(4, user_id),
            _text(voice),
            _pack_int4(4, voice_speed),
            _text(theme),
            _NULL if timezone is None else _text(timezone),
        )
    )


def _command_history(row: Sequence[Any]) -> bytes:
    (
        hid, user_id, command, result, created, turn_id, source, family, action,
        action_data, interrupted, first_text_ms, total_ms,
    ) = row  # fmt: skip
    return _join(
        (
            _COUNT[13],
            _pack_int4(4, hid),
            _pack_int4(4, user_id),
            _text(command),
            _NULL if result is None else _text(result),
            _pack_int8(8, (created - _E) // _U),
            _NULL if turn_id is None else _text(turn_id),
            _NULL if source is None else _text(source),
            _NULL if family is None else _text(family),
            _NULL if action is None else _text(action),
            _NULL if action_data is None else _text(action_data),
            _BOOL[interrupted],
            _NULL if first_text_ms is None else _pack_float8(8, first_text_ms),
            _NULL if total_ms is None else _pack_float8(8, total_ms),
        )
    )


_ENCODERS: dict[str, Callable[[Sequence[Any]], bytes]] = {
    "users": _users,
    "conversations": _conversations,
    "messages": _messages,
    "settings": _settings,
    "command_history": _command_history,
}


def row_encoder(spec: TableSpec) -> Callable[[Sequence[Any]], bytes]:
    """A function giving the binary COPY tuple of one converted row of `spec`."""
    return _ENCODERS[spec.name]


def copy_data(tuples: Iterable[bytes]) -> bytes:
    """A complete binary COPY stream holding `tuples`."""
    return b"".join((HEADER, *tuples, TRAILER))
