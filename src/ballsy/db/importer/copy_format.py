"""PostgreSQL's binary COPY format for converted rows.

A converted row becomes one binary COPY tuple: a 16-bit field count, then per column a
32-bit byte length (-1 for NULL) and the value in PostgreSQL's binary form: int4 and
float8 big-endian, a boolean as one byte, text and json as UTF-8, a timestamptz as 64-bit
microseconds since 2000-01-01 UTC. The workers pack these bytes themselves (one `struct`
call per value) and hand PostgreSQL whole batches, so no driver converts values row by
row. The same bytes are the input of the content checksum (see `checksum`): PostgreSQL
writes them again from the stored values, with each type's send function, when it copies
the rows out in the same format.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ballsy.db.importer.tables import Kind, TableSpec

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


# Per column kind, the Python expression giving the column's bytes from its value `{v}`.
_EXPRESSIONS: dict[Kind, str] = {
    "int": "_pack_int4(4, {v})",
    "text": "_text({v})",
    "json": "_text({v})",
    "bool": "_BOOL[{v}]",
    "ts": "_pack_int8(8, ({v} - _PG_EPOCH) // _MICROSECOND)",
    "float": "_pack_float8(8, {v})",
}
_NAMESPACE: dict[str, Any] = {
    "_join": b"".join,
    "_NULL": _NULL,
    "_BOOL": _BOOL,
    "_text": _text,
    "_pack_int4": _pack_int4,
    "_pack_int8": _pack_int8,
    "_pack_float8": _pack_float8,
    "_PG_EPOCH": _PG_EPOCH,
    "_MICROSECOND": _MICROSECOND,
}


def encoder_source(spec: TableSpec) -> str:
    """The Python source of `row_encoder(spec)`; e.g. for a (required int, nullable text) row:

    def encode(row):
        v0, v1 = row
        return _join((b'\\x00\\x02', _pack_int4(4, v0), _NULL if v1 is None else _text(v1)))
    """
    names = [f"v{index}" for index in range(len(spec.columns))]
    fields = []
    for name, column in zip(names, spec.columns, strict=True):
        expression = _EXPRESSIONS[column.kind].format(v=name)
        if not column.required:
            expression = f"_NULL if {name} is None else {expression}"
        fields.append(expression)
    count = _pack_count(len(spec.columns))
    return (
        "def encode(row):\n"
        f"    {', '.join(names)}, = row\n"
        f"    return _join(({count!r}, {', '.join(fields)}))\n"
    )


def row_encoder(spec: TableSpec) -> Callable[[Sequence[Any]], bytes]:
    """A function giving the binary COPY tuple of one converted row of `spec`.

    Generated from the column kinds (`encoder_source`): one flat expression per column,
    because a call per value would cost more than the packing itself, and encoding runs
    for every imported row.
    """
    namespace = dict(_NAMESPACE)
    exec(encoder_source(spec), namespace)  # noqa: S102  # nosec B102: built from fixed specs
    encode: Callable[[Sequence[Any]], bytes] = namespace["encode"]
    return encode


def copy_data(tuples: Iterable[bytes]) -> bytes:
    """A complete binary COPY stream holding `tuples`."""
    return b"".join((HEADER, *tuples, TRAILER))
