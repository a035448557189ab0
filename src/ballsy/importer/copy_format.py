"""PostgreSQL's binary COPY format for converted rows.

A converted row becomes one binary COPY tuple: a 16-bit field count, then per column a
32-bit byte length (-1 for NULL) and the value in PostgreSQL's binary form: int4 and
float8 big-endian, a boolean as one byte, text and json as UTF-8, bytea as its bytes, a
timestamptz as 64-bit microseconds since 2000-01-01 UTC. The encoders follow the table
specs (derived from the models, see `tables`); the workers pack these bytes themselves
(column by column, one `struct` call per value) and hand PostgreSQL whole batches, so no
driver converts values row by row. The same bytes are the input of the content checksum
(see `checksum`): PostgreSQL writes them again from the stored values, with each type's
send function, when it copies the rows out in the same format.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import repeat
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


# One column's bytes from its value, per kind: the definition the column encoders below
# spell out inline, and what the tests check them against.
_FIELD: dict[Kind, Callable[[Any], bytes]] = {
    "int": lambda value: _pack_int4(4, value),
    "text": _text,
    "json": _text,
    "bool": _BOOL.__getitem__,
    "ts": _timestamp,
    "float": lambda value: _pack_float8(8, value),
    "bytes": lambda value: _pack_length(len(value)) + value,
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


# The table encoders, built from the specs. A batch is encoded column by column: per
# column one comprehension over the rows, chosen by kind and nullability, with the packing
# written inline, so no value costs a Python call (which would cost more than the packing
# itself); then each row's fields are joined, in C. Tests check every table against
# `reference_encoder`.
_E = _PG_EPOCH
_U = _MICROSECOND
Rows = Sequence[Sequence[Any]]
_CHUNK = 512
ColumnEncoder = Callable[[Rows, int], list[bytes]]


def _int_required(rows: Rows, i: int) -> list[bytes]:
    return [_pack_int4(4, r[i]) for r in rows]


def _int_nullable(rows: Rows, i: int) -> list[bytes]:
    return [_NULL if (v := r[i]) is None else _pack_int4(4, v) for r in rows]


def _text_required(rows: Rows, i: int) -> list[bytes]:
    return [_pack_length(len(e := r[i].encode())) + e for r in rows]


def _text_nullable(rows: Rows, i: int) -> list[bytes]:
    return [_NULL if (v := r[i]) is None else _pack_length(len(e := v.encode())) + e for r in rows]


def _bool_required(rows: Rows, i: int) -> list[bytes]:
    return [_BOOL[r[i]] for r in rows]


def _bool_nullable(rows: Rows, i: int) -> list[bytes]:
    return [_NULL if (v := r[i]) is None else _BOOL[v] for r in rows]


def _ts_required(rows: Rows, i: int) -> list[bytes]:
    return [_pack_int8(8, (r[i] - _E) // _U) for r in rows]


def _ts_nullable(rows: Rows, i: int) -> list[bytes]:
    return [_NULL if (v := r[i]) is None else _pack_int8(8, (v - _E) // _U) for r in rows]


def _float_required(rows: Rows, i: int) -> list[bytes]:
    return [_pack_float8(8, r[i]) for r in rows]


def _float_nullable(rows: Rows, i: int) -> list[bytes]:
    return [_NULL if (v := r[i]) is None else _pack_float8(8, v) for r in rows]


def _bytes_required(rows: Rows, i: int) -> list[bytes]:
    return [_pack_length(len(v := r[i])) + v for r in rows]


def _bytes_nullable(rows: Rows, i: int) -> list[bytes]:
    return [_NULL if (v := r[i]) is None else _pack_length(len(v)) + v for r in rows]


# (kind, required) -> its column encoder; json travels as text.
_COLUMN: dict[tuple[Kind, bool], ColumnEncoder] = {
    ("int", True): _int_required,
    ("int", False): _int_nullable,
    ("text", True): _text_required,
    ("text", False): _text_nullable,
    ("json", True): _text_required,
    ("json", False): _text_nullable,
    ("bool", True): _bool_required,
    ("bool", False): _bool_nullable,
    ("ts", True): _ts_required,
    ("ts", False): _ts_nullable,
    ("float", True): _float_required,
    ("float", False): _float_nullable,
    ("bytes", True): _bytes_required,
    ("bytes", False): _bytes_nullable,
}


def batch_encoder(spec: TableSpec) -> Callable[[Rows], list[bytes]]:
    """A function giving the binary COPY tuples of converted rows of `spec`, in order:
    the same bytes as `reference_encoder`, row for row."""
    columns = tuple(
        (_COLUMN[(column.kind, column.required)], index)
        for index, column in enumerate(spec.columns)
    )
    count = _pack_count(len(columns))
    join = b"".join

    def encode(rows: Rows) -> list[bytes]:
        encoded: list[bytes] = []
        # In pieces of _CHUNK rows, so the column lists stay in the CPU's cache: whole
        # batches at once were about 10% slower than one hand-written encoder per table;
        # in pieces, 1.00-1.13x its speed (bench/bench_copy_encoder.py).
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            fields = [column(chunk, index) for column, index in columns]
            encoded += map(join, zip(repeat(count, len(chunk)), *fields, strict=False))
        return encoded

    return encode


def row_encoder(spec: TableSpec) -> Callable[[Sequence[Any]], bytes]:
    """A function giving the binary COPY tuple of one converted row of `spec` (for a few
    rows; batches go through `batch_encoder`)."""
    encode = batch_encoder(spec)
    return lambda row: encode((row,))[0]


def copy_data(tuples: Iterable[bytes]) -> bytes:
    """A complete binary COPY stream holding `tuples`."""
    return b"".join((HEADER, *tuples, TRAILER))
