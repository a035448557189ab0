"""The import, start to finish: plan, stream every table in batches, verify."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from ballsy.db.importer import target
from ballsy.db.importer.checksum import row_hasher
from ballsy.db.importer.convert import CONVERTERS, Converter, Row
from ballsy.db.importer.errors import ImportFailed
from ballsy.db.importer.plan import Plan, build_plan
from ballsy.db.importer.progress import Progress, SilentProgress
from ballsy.db.importer.report import ImportReport, TableResult
from ballsy.db.importer.rules import RepairLog
from ballsy.db.importer.source import SourceDb
from ballsy.db.importer.tables import TABLES, TableSpec
from ballsy.db.url import redact_url

DEFAULT_BATCH_SIZE = 5000
MAX_BATCH_SIZE = 100_000
# Converted batches waiting for the writer: enough to overlap reading and writing.
_READ_AHEAD = 2


@dataclass(slots=True)
class _Batch:
    rows: list[Row]
    checksum: int
    raw_count: int
    last_raw_id: int


@dataclass(slots=True)
class _Run:
    """What every table's import needs; built once per import."""

    source: SourceDb
    plan: Plan
    log: RepairLog
    conn: asyncpg.Connection
    fingerprint: str
    resume: dict[str, int]
    batch_size: int
    dry_run: bool
    progress: Progress


async def import_sqlite(
    source: Path,
    target_url: str,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    migrate: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the SQLite database `source` into the PostgreSQL database `target_url`.

    Idempotent and resumable: run it again after a failure or a kill and it goes on
    from the last committed batch; after success it writes nothing and verifies again.
    `dry_run` reads and checks everything and writes nothing. `migrate` upgrades a target
    that is not at Ballsy's migration head (otherwise that is an error).
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ImportFailed(f"--batch-size must be between 1 and {MAX_BATCH_SIZE:,}")
    started = time.monotonic()
    progress = progress or SilentProgress()
    db = await asyncio.to_thread(SourceDb, source)
    try:
        plan = await asyncio.to_thread(build_plan, db)
        fingerprint = await asyncio.to_thread(db.fingerprint)
        counts = {spec.name: await asyncio.to_thread(db.count, spec.name) for spec in TABLES}
        report = ImportReport(
            source=str(source),
            schema_kind=db.kind,
            target=redact_url(target_url),
            dry_run=dry_run,
        )
        conn = await target.connect(target_url)
        try:
            resume = await _prepare_target(conn, target_url, fingerprint, dry_run, migrate)
            log = RepairLog(list(plan.repairs.items))
            run = _Run(db, plan, log, conn, fingerprint, resume, batch_size, dry_run, progress)
            progress.begin(total_rows=sum(counts.values()))
            for spec in TABLES:
                report.tables.append(await _import_table(run, spec, counts[spec.name]))
            if not dry_run:
                await target.move_sequences(conn)
        finally:
            await conn.close()
        report.repairs = log.items
        if not dry_run:
            progress.note("verifying: row counts and checksums in PostgreSQL")
            await _verify(target_url, report)
        report.elapsed_s = time.monotonic() - started
        return report
    finally:
        db.close()


async def _prepare_target(
    conn: asyncpg.Connection, url: str, fingerprint: str, dry_run: bool, migrate: bool
) -> dict[str, int]:
    await target.ensure_migrated(conn, url, upgrade=migrate and not dry_run)
    if dry_run:
        await target.check_can_import(conn, fingerprint)  # read-only: report problems early
        return {}
    await target.take_lock(conn)
    resume = await target.check_can_import(conn, fingerprint)
    await target.prepare_state(conn)
    return resume


async def _import_table(run: _Run, spec: TableSpec, source_rows: int) -> TableResult:
    result = TableResult(spec.name, source_rows)
    placeholders: list[Row] = []
    if spec.name == "users":
        placeholders = run.plan.placeholder_users
    elif spec.name == "conversations":
        placeholders = run.plan.placeholder_conversations
    if placeholders:
        hash_row = row_hasher(spec)
        result.expected_rows += len(placeholders)
        result.expected_checksum += sum(hash_row(row) for row in placeholders)
        stream = f"{spec.name}:placeholders"
        for start in range(0, len(placeholders), run.batch_size):
            chunk = placeholders[start : start + run.batch_size]
            result.written_rows += await _write(run, spec, stream, chunk)
    await _stream_source(run, spec, result)
    return result


async def _stream_source(run: _Run, spec: TableSpec, result: TableResult) -> None:
    """Read and convert ahead in a thread while the previous batch is being copied."""
    has = lambda column: run.source.has(spec.name, column)  # noqa: E731
    convert = CONVERTERS[spec.name](run.plan, run.log, has=has)
    queue: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=_READ_AHEAD)
    reader = asyncio.create_task(_read_all(run, spec, convert, queue))
    read = 0
    try:
        while (batch := await queue.get()) is not None:
            read += batch.raw_count
            result.expected_rows += len(batch.rows)
            result.expected_checksum += batch.checksum
            if batch.rows:
                result.written_rows += await _write(run, spec, spec.name, batch.rows)
            run.progress.batch_done(
                spec.name, read=read, total=result.source_rows, written=result.written_rows
            )
        await reader
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _read_all(
    run: _Run, spec: TableSpec, convert: Converter, queue: asyncio.Queue[_Batch | None]
) -> None:
    hash_row = row_hasher(spec)

    def next_batch(after_id: int | None) -> _Batch | None:
        raw = run.source.read_batch(spec.name, after_id=after_id, limit=run.batch_size)
        if not raw:
            return None
        rows = convert(raw)
        return _Batch(rows, sum(hash_row(row) for row in rows), len(raw), raw[-1][0])

    after_id: int | None = None
    while (batch := await asyncio.to_thread(next_batch, after_id)) is not None:
        await queue.put(batch)
        after_id = batch.last_raw_id
    await queue.put(None)


async def _write(run: _Run, spec: TableSpec, stream: str, rows: Sequence[Row]) -> int:
    """Write the rows past the stream's resume point; return how many were written."""
    done_up_to = run.resume.get(stream)
    pending = list(rows) if done_up_to is None else [r for r in rows if r[0] > done_up_to]
    if run.dry_run or not pending:
        return 0
    try:
        await target.write_batch(
            run.conn, spec=spec, stream=stream, fingerprint=run.fingerprint, rows=pending
        )
    except asyncpg.PostgresError as exc:
        raise ImportFailed(
            f"writing {spec.name} ids {pending[0][0]}–{pending[-1][0]} failed, and that batch "
            f"was rolled back: {type(exc).__name__}: {exc}"
        ) from None
    return len(pending)


async def _verify(url: str, report: ImportReport) -> None:
    """Count and checksum every table in PostgreSQL, a few tables at a time."""
    by_name = {spec.name: spec for spec in TABLES}
    gate = asyncio.Semaphore(3)

    async def one(result: TableResult) -> None:
        async with gate:
            result.target_rows, result.target_checksum = await target.table_checksum(
                url, by_name[result.name]
            )

    await asyncio.gather(*(one(result) for result in report.tables))


__all__ = ["DEFAULT_BATCH_SIZE", "import_sqlite"]
