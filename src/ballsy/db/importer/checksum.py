"""One content checksum, computed the same way on both sides.

Each row is written as canonical text: its values in column order, joined by commas,
where NULL is `-`, text is `<length>:<text>` (so no separator can be forged), a boolean is
`1`/`0`, a timestamp is its integer microseconds since the Unix epoch, and a float is the
hex of its eight IEEE-754 bytes. The row's hash is the first 60 bits of the MD5 of that
text (UTF-8), and a table's checksum is the sum of its row hashes: independent of row
order, so PostgreSQL computes it with one `sum()` and Python while streaming. MD5 is used
as a fingerprint against accidental change, not as a defence against an adversary.
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ballsy.db.importer.tables import Kind, TableSpec

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (tables.TABLES and constants), never from the source file's contents;
# every value travels as a bound parameter.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_pack_double = struct.Struct(">d").pack


def _enc_int(value: Any) -> str:
    return "-" if value is None else str(value)


def _enc_text(value: Any) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


def _enc_bool(value: Any) -> str:
    return "-" if value is None else ("1" if value else "0")


def _enc_ts(value: Any) -> str:
    return "-" if value is None else str((value - _EPOCH) // _MICROSECOND)


def _enc_float(value: Any) -> str:
    return "-" if value is None else _pack_double(value).hex()


_PY_ENCODERS: dict[Kind, Callable[[Any], str]] = {
    "int": _enc_int,
    "text": _enc_text,
    "json": _enc_text,
    "bool": _enc_bool,
    "ts": _enc_ts,
    "float": _enc_float,
}


def _enc_text_required(value: Any) -> str:
    return f"{len(value)}:{value}"


def _enc_ts_required(value: Any) -> str:
    return str((value - _EPOCH) // _MICROSECOND)


# For NOT NULL columns: the same text without the NULL test (C builtins where possible),
# because hashing every row is a large part of the importer's own CPU time.
_PY_REQUIRED_ENCODERS: dict[Kind, Callable[[Any], str]] = {
    "int": str,
    "text": _enc_text_required,
    "json": _enc_text_required,
    "bool": {True: "1", False: "0"}.__getitem__,
    "ts": _enc_ts_required,
    "float": _enc_float,
}


def row_hasher(spec: TableSpec) -> Callable[[Sequence[Any]], int]:
    """A function giving the 60-bit hash of one converted row of `spec`."""
    encoders = [
        (_PY_REQUIRED_ENCODERS if column.required else _PY_ENCODERS)[column.kind]
        for column in spec.columns
    ]
    md5 = hashlib.md5
    from_bytes = int.from_bytes
    call = operator.call

    def row_hash(row: Sequence[Any]) -> int:
        text = ",".join(map(call, encoders, row))
        return from_bytes(md5(text.encode("utf-8")).digest()[:8], "big") >> 4

    return row_hash


def sum_hashes(spec: TableSpec, rows: Iterable[Sequence[Any]]) -> int:
    row_hash = row_hasher(spec)
    return sum(row_hash(row) for row in rows)


def _sql_field(column: str, kind: Kind) -> str:
    c = f'"{column}"'
    if kind == "int":
        return f"coalesce({c}::text, '-')"
    if kind in ("text", "json"):
        return f"coalesce(length({c}::text)::text || ':' || {c}::text, '-')"
    if kind == "bool":
        return f"CASE WHEN {c} IS NULL THEN '-' WHEN {c} THEN '1' ELSE '0' END"
    if kind == "ts":
        return f"coalesce(((extract(epoch FROM {c}) * 1000000)::bigint)::text, '-')"
    return f"coalesce(encode(float8send({c}), 'hex'), '-')"


def checksum_sql(spec: TableSpec) -> str:
    """SQL returning (row count, checksum) for the PostgreSQL table of `spec`."""
    row_text = " || ',' || ".join(_sql_field(col.name, col.kind) for col in spec.columns)
    return (
        "SELECT count(*), coalesce(sum(('x' || substr(md5("  # noqa: S608  # nosec B608
        f'{row_text}), 1, 15))::bit(60)::bigint), 0) FROM "{spec.name}"'
    )
