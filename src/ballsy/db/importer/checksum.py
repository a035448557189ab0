"""One content checksum, computed the same way on both sides.

A row's hash is the first 60 bits of the MD5 of its binary COPY tuple (see `copy_format`:
every column's length and value, NULLs marked, so no two different rows share an input):
the workers hash the exact bytes they send, and PostgreSQL rebuilds those bytes from the
stored values with each type's send function. A table's checksum is the sum of its row
hashes: independent of row order, so PostgreSQL computes it with one `sum()` and the
workers while streaming, batch by batch. MD5 is used as a fingerprint against accidental
change, not as a defence against an adversary.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ballsy.db.importer.copy_format import row_encoder, tuple_sql
from ballsy.db.importer.tables import TableSpec


def _md5_constructor() -> Callable[[bytes], Any]:
    """CPython's built-in MD5 where present: for inputs of a few dozen bytes it costs about
    half of what `hashlib.md5` (OpenSSL) does per call, and every imported row is hashed."""
    try:
        return importlib.import_module("_md5").md5  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return hashlib.md5


_md5 = _md5_constructor()
_from_bytes = int.from_bytes


def tuple_hash(data: bytes) -> int:
    """The 60-bit hash of one binary COPY tuple."""
    return _from_bytes(_md5(data).digest()[:8], "big") >> 4


def sum_tuple_hashes(tuples: Iterable[bytes]) -> int:
    """The checksum of a set of binary COPY tuples."""
    return sum(map(tuple_hash, tuples))


def row_hasher(spec: TableSpec) -> Callable[[Sequence[Any]], int]:
    """A function giving the 60-bit hash of one converted row of `spec`."""
    encode = row_encoder(spec)

    def row_hash(row: Sequence[Any]) -> int:
        return tuple_hash(encode(row))

    return row_hash


def checksum_sql(spec: TableSpec) -> str:
    """SQL returning (row count, checksum) for the PostgreSQL table of `spec`."""
    return (
        "SELECT count(*), coalesce(sum(('x' || substr(md5("  # noqa: S608  # nosec B608
        f'{tuple_sql(spec)}), 1, 15))::bit(60)::bigint), 0) FROM "{spec.name}"'
    )
