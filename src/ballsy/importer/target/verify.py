"""After loading: sequences moved, and the target's counts, digests and references read back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ballsy.importer.checksum import Bucket, bucket_query, new_digest
from ballsy.importer.tables import TableSpec
from ballsy.importer.target.connection import connect
from ballsy.importer.target.deferred import restore_foreign_keys, restore_indexes

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (the models' metadata and constants), never from the source file's
# contents; every value travels as a bound parameter.


async def move_sequences(conn: asyncpg.Connection, specs: Sequence[TableSpec]) -> None:
    """Set each id sequence so Ballsy's next row gets an id past every imported one."""
    for spec in specs:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{spec.name}\"', 'id'), m, true) "  # noqa: S608  # nosec B608
            f'FROM (SELECT max(id) AS m FROM "{spec.name}") AS t WHERE m IS NOT NULL'
        )


async def dangling_count(conn: asyncpg.Connection, table: str, column: str, parent: str) -> int:
    """How many rows of `table` reference (through `column`) a `parent` row that does not
    exist."""
    return int(
        await conn.fetchval(
            f'SELECT count(*) FROM "{table}" AS c WHERE NOT EXISTS '  # noqa: S608  # nosec B608
            f'(SELECT 1 FROM "{parent}" AS p WHERE p.id = c."{column}")'
        )
    )


async def check_foreign_key(raw_url: str, table: str, column: str, parent: str) -> int:
    """Once both tables are loaded: re-add the foreign key if the import dropped it, which
    makes PostgreSQL check every row; the rows pointing at no parent (0 when it is back).
    On a connection of its own."""
    conn = await connect(raw_url)
    try:
        restored = await restore_foreign_keys(conn, table, parent)
        if restored:
            return 0  # PostgreSQL has just checked every row, adding the constraint back
        # Not dropped by the import (checked row by row), or refused: count.
        return await dangling_count(conn, table, column, parent)
    finally:
        await conn.close()


async def bucket_digests(
    conn: asyncpg.Connection, spec: TableSpec, table_buckets: Sequence[Bucket]
) -> tuple[int, dict[Bucket, bytes]]:
    """The table's row count and, per bucket, the digest of its rows' binary COPY stream
    as PostgreSQL writes it from the stored values (see `checksum`)."""
    count = 0
    digests: dict[Bucket, bytes] = {}
    for bucket in table_buckets:
        digest = new_digest()

        async def sink(chunk: bytes, digest: Any = digest) -> None:
            digest.update(chunk)

        status = await conn.copy_from_query(
            bucket_query(spec, bucket), output=sink, format="binary"
        )
        count += int(str(status).rsplit(" ", 1)[-1])  # "COPY <rows>"
        digests[bucket] = digest.digest()
    return count, digests


async def finish_table(
    raw_url: str, spec: TableSpec, table_buckets: Sequence[Bucket]
) -> tuple[int, dict[Bucket, bytes]]:
    """Re-create the table's deferred indexes and give its row count and bucket digests.

    The primary key comes back first: the digests read the rows in id order through it.
    Then the other indexes and the digests, side by side, on connections of their own, so
    a loaded table is finished while other tables still load.
    """
    indexing = await connect(raw_url)
    try:
        await restore_indexes(indexing, spec.name, primary_key=True)

        async def checksum() -> tuple[int, dict[Bucket, bytes]]:
            conn = await connect(raw_url)
            try:
                return await bucket_digests(conn, spec, table_buckets)
            finally:
                await conn.close()

        async with asyncio.TaskGroup() as group:
            group.create_task(restore_indexes(indexing, spec.name, primary_key=False))
            counted = group.create_task(checksum())
    finally:
        await indexing.close()
    return counted.result()
