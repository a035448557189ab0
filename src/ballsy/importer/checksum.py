"""One content checksum, computed the same way on both sides: MD5 of binary COPY streams.

A table's ids are split into buckets (`buckets`): the import's batch id ranges, plus one
below and one above them for placeholder rows outside the source's ids; together they
cover every int4 id. A bucket's digest is the MD5 of the complete binary COPY stream
(`copy_format.copy_data`: header, each row's tuple in id order, trailer) of the rows whose
id lies in it. A tuple holds every column's length and value, NULLs marked, so no two
different row sets give the same stream. The workers hash the stream they send (merged
with the planned placeholder rows that fall into their range, when there are any);
PostgreSQL produces the same stream from the stored rows with
`COPY (SELECT ... WHERE id BETWEEN lo AND hi ORDER BY id) TO STDOUT (FORMAT binary)`,
each type's send function writing the value, and the coordinator hashes what arrives.
The buckets are compared one by one, so a mismatch names its id range; a table's
checksum, for the report, is the MD5 of its bucket digests in id order (it depends on
the batch size, which decides the buckets). One MD5 over a batch costs far less than one
per row, on either side. MD5 is a fingerprint against accidental change, not a defence
against an adversary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ballsy.importer.copy_format import copy_data
from ballsy.importer.rules import INT4_MAX, INT4_MIN
from ballsy.importer.tables import TableSpec

# An inclusive id range.
Bucket = tuple[int, int]


def buckets(ranges: Sequence[Bucket]) -> list[Bucket]:
    """The buckets of a table whose batches cover `ranges` (sorted, contiguous)."""
    if not ranges:
        return [(INT4_MIN, INT4_MAX)]
    found: list[Bucket] = []
    if ranges[0][0] > INT4_MIN:
        found.append((INT4_MIN, ranges[0][0] - 1))
    found.extend(ranges)
    if ranges[-1][1] < INT4_MAX:
        found.append((ranges[-1][1] + 1, INT4_MAX))
    return found


def new_digest() -> Any:
    """An empty MD5 (a fingerprint against accidental change, see above)."""
    return hashlib.md5()  # noqa: S324  # nosec B324


def stream_digest(data: bytes) -> bytes:
    """The digest of a complete binary COPY stream."""
    digest = new_digest()
    digest.update(data)
    return digest.digest()  # type: ignore[no-any-return]


def tuples_digest(tuples: Iterable[bytes]) -> bytes:
    """The digest of the binary COPY stream holding `tuples` (in id order)."""
    return stream_digest(copy_data(tuples))


def table_checksum(digests: Mapping[Bucket, bytes]) -> str:
    """One hex checksum for a table: the MD5 of its bucket digests in id order."""
    combined = new_digest()
    for bucket in sorted(digests):
        combined.update(digests[bucket])
    return combined.hexdigest()  # type: ignore[no-any-return]


def differing(expected: Mapping[Bucket, bytes], found: Mapping[Bucket, bytes]) -> list[Bucket]:
    """The buckets whose digests differ (or that only one side has), in id order."""
    return sorted(b for b in expected.keys() | found.keys() if expected.get(b) != found.get(b))


def bucket_query(spec: TableSpec, bucket: Bucket) -> str:
    """The SELECT whose binary COPY output is the stream of `bucket` (COPY takes no bound
    parameters; the bounds are integers, written as such)."""
    columns = ", ".join(f'"{name}"' for name in spec.column_names)
    low, high = (int(bound) for bound in bucket)
    return (
        f'SELECT {columns} FROM "{spec.name}" '  # noqa: S608  # nosec B608: fixed names, ints
        f"WHERE id BETWEEN {low} AND {high} ORDER BY id"
    )
