"""The import, start to finish: plan, run every table's batches in worker processes, verify."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from ballsy.db.importer import target
from ballsy.db.importer.checksum import row_hasher
from ballsy.db.importer.errors import ImportFailed
from ballsy.db.importer.plan import Plan, build_plan
from ballsy.db.importer.progress import Progress, SilentProgress
from ballsy.db.importer.report import ImportReport, TableResult
from ballsy.db.importer.rules import RepairLog
from ballsy.db.importer.source import SourceDb
from ballsy.db.importer.tables import TABLES
from ballsy.db.importer.workers import BatchJob, WorkerSettings, run_job, start_worker
from ballsy.redaction import redact_url

DEFAULT_BATCH_SIZE = 5000
MAX_BATCH_SIZE = 100_000
MAX_WORKERS = 16
# Batches in flight per worker: enough to keep each busy, few enough to stop quickly.
_IN_FLIGHT_PER_WORKER = 2
# A table starts once every table it references is complete: users first, then three
# independent chains side by side.
_CHAINS: tuple[tuple[str, ...], ...] = (
    ("conversations", "messages"),
    ("settings",),
    ("command_history",),
)


def default_workers() -> int:
    """Worker processes by default: the CPUs, at least 2 and at most 4."""
    return max(2, min(4, os.cpu_count() or 2))


@dataclass(slots=True)
class _Run:
    """What the coordinator needs while it runs; built once per import."""

    plan: Plan
    log: RepairLog
    fingerprint: str
    committed: target.Ranges
    ranges: dict[str, list[tuple[int, int]]]
    dry_run: bool
    progress: Progress
    results: dict[str, TableResult]


async def import_sqlite(
    source: Path,
    target_url: str,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    migrate: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the SQLite database `source` into the PostgreSQL database `target_url`.

    Idempotent and resumable: run it again after a failure or a kill and it writes only
    the batches not yet committed; after success it writes nothing and verifies again.
    `dry_run` reads and checks everything and writes nothing. `migrate` upgrades a target
    that is not at Ballsy's migration head (otherwise that is an error). `workers`: how
    many processes convert and copy batches (default: `default_workers()`); they start
    with the `spawn` method, so a script calling this must guard its entry point
    with `if __name__ == "__main__":`, as multiprocessing requires.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ImportFailed(f"--batch-size must be between 1 and {MAX_BATCH_SIZE:,}")
    workers = default_workers() if workers is None else workers
    if not 1 <= workers <= MAX_WORKERS:
        raise ImportFailed(f"--workers must be between 1 and {MAX_WORKERS}")
    started = time.monotonic()
    progress = progress or SilentProgress()
    db = await asyncio.to_thread(SourceDb, source)
    try:
        # The plan's queries and the batch layout read the file side by side.
        plan, (fingerprint, counts, ranges) = await asyncio.gather(
            asyncio.to_thread(_plan_on_own_connection, source),
            asyncio.to_thread(_layout, db, batch_size),
        )
        kind = db.kind
    finally:
        db.close()
    report = ImportReport(
        source=str(source), schema_kind=kind, target=redact_url(target_url), dry_run=dry_run
    )
    conn = await target.connect(target_url)
    try:
        committed = await _prepare_target(conn, target_url, fingerprint, dry_run, migrate)
        report.foreign_keys_checked_per_row = not await target.may_skip_fk_triggers(conn)
        run = _Run(
            plan=plan,
            log=RepairLog(list(plan.repairs.items)),
            fingerprint=fingerprint,
            committed=committed,
            ranges=ranges,
            dry_run=dry_run,
            progress=progress,
            results={spec.name: TableResult(spec.name, counts[spec.name]) for spec in TABLES},
        )
        progress.begin(total_rows=sum(counts.values()))
        await _write_placeholders(run, conn, batch_size)
        settings = WorkerSettings(source, target_url, plan, fingerprint, dry_run, os.getpid())
        # A finished table is checksummed in PostgreSQL while the others still load.
        checksums: dict[str, asyncio.Task[tuple[int, int]]] = {}

        def table_done(name: str) -> None:
            if not dry_run:
                spec = next(spec for spec in TABLES if spec.name == name)
                checksums[name] = asyncio.create_task(target.table_checksum(target_url, spec))

        try:
            await _run_batches(run, settings, workers, table_done)
            if not dry_run:
                await target.move_sequences(conn)
                progress.note("verifying: row counts, checksums and foreign keys in PostgreSQL")
                for name, task in checksums.items():
                    run.results[name].target_rows, run.results[name].target_checksum = await task
        finally:
            for task in checksums.values():
                task.cancel()
            await asyncio.gather(*checksums.values(), return_exceptions=True)
    finally:
        await conn.close()
    report.tables = [run.results[spec.name] for spec in TABLES]
    order = {spec.name: index for index, spec in enumerate(TABLES)}
    report.repairs = sorted(
        run.log.items, key=lambda r: (order[r.table], r.row_id, r.rule, r.column or "")
    )
    if not dry_run:
        report.dangling_references = await target.dangling_references(target_url)
    report.elapsed_s = time.monotonic() - started
    return report


def _plan_on_own_connection(source: Path) -> Plan:
    db = SourceDb(source)
    try:
        return build_plan(db)
    finally:
        db.close()


def _layout(
    db: SourceDb, batch_size: int
) -> tuple[str, dict[str, int], dict[str, list[tuple[int, int]]]]:
    """The file's fingerprint, row counts and batch id ranges."""
    counts = {spec.name: db.count(spec.name) for spec in TABLES}
    ranges = {spec.name: db.batch_ranges(spec.name, batch_size) for spec in TABLES}
    return db.fingerprint(), counts, ranges


async def _prepare_target(
    conn: asyncpg.Connection, url: str, fingerprint: str, dry_run: bool, migrate: bool
) -> target.Ranges:
    await target.ensure_migrated(conn, url, upgrade=migrate and not dry_run)
    if dry_run:
        await target.check_can_import(conn, fingerprint)  # read-only: report problems early
        return {}
    await target.take_lock(conn)
    committed = await target.check_can_import(conn, fingerprint)
    await target.prepare_state(conn)
    return committed


async def _write_placeholders(run: _Run, conn: asyncpg.Connection, batch_size: int) -> None:
    """The planned placeholder users and conversations: few rows, written here."""
    by_name = {spec.name: spec for spec in TABLES}
    for name, rows in (
        ("users", run.plan.placeholder_users),
        ("conversations", run.plan.placeholder_conversations),
    ):
        spec, result = by_name[name], run.results[name]
        hash_row = row_hasher(spec)
        result.expected_rows += len(rows)
        result.expected_checksum += sum(hash_row(row) for row in rows)
        stream = f"{name}:placeholders"
        done = tuple(run.committed.get(stream, ()))
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            id_range = (chunk[0][0], chunk[-1][0])
            if run.dry_run or id_range in done:
                continue
            await target.write_batch(
                conn,
                spec=spec,
                stream=stream,
                fingerprint=run.fingerprint,
                id_range=id_range,
                rows=chunk,
            )
            result.written_rows += len(chunk)


async def _run_batches(
    run: _Run,
    settings: WorkerSettings,
    workers: int,
    table_done: Callable[[str], None],
) -> None:
    """Every table's batches over a pool of worker processes; `table_done(name)` after each."""
    # `spawn`: fresh interpreters whose parent is this process, so they die with it
    # (`fork` would copy this process's open connections and running event loop).
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=start_worker, initargs=(settings,)
    )
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(workers * _IN_FLIGHT_PER_WORKER)
    read: dict[str, int] = {}

    async def one(job: BatchJob) -> None:
        async with gate:
            try:
                outcome = await loop.run_in_executor(pool, run_job, job)
            except BrokenProcessPool as exc:
                raise ImportFailed(
                    f"a worker process died while importing {job.table} ({exc}); committed "
                    "batches are kept, run the same command again to resume"
                ) from None
        result = run.results[job.table]
        result.expected_rows += outcome.rows
        result.expected_checksum += outcome.checksum
        result.written_rows += outcome.written
        run.log.items.extend(outcome.repairs)
        read[job.table] = read.get(job.table, 0) + outcome.raw_rows
        run.progress.batch_done(
            job.table,
            read=read[job.table],
            total=result.source_rows,
            written=result.written_rows,
        )

    async def table(name: str) -> None:
        done = tuple(run.committed.get(name, ()))
        async with asyncio.TaskGroup() as group:
            for first_id, last_id in run.ranges[name]:
                overlap = tuple(r for r in done if r[0] <= last_id and r[1] >= first_id)
                group.create_task(one(BatchJob(name, first_id, last_id, overlap)))
        table_done(name)

    async def chain(names: tuple[str, ...]) -> None:
        for name in names:
            await table(name)

    try:
        try:
            await table("users")
            async with asyncio.TaskGroup() as group:
                for names in _CHAINS:
                    group.create_task(chain(names))
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None
    finally:
        # On cancellation (a signal) or failure: batches not started are dropped, the
        # ones running finish and commit whole, then the workers exit.
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a task group, so callers see e.g. `ImportFailed` itself."""
    first = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


__all__ = ["DEFAULT_BATCH_SIZE", "default_workers", "import_sqlite"]
