"""The import, start to finish: plan, run every table's batches in worker processes, verify."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ballsy.importer import target
from ballsy.importer.checksum import Bucket, buckets, differing, table_checksum, tuples_digest
from ballsy.importer.copy_format import batch_encoder, copy_data
from ballsy.importer.errors import ImportFailed, ImportRejected
from ballsy.importer.options import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    MAX_WORKERS,
    default_workers,
)
from ballsy.importer.plan import Plan, build_plan
from ballsy.importer.progress import Progress, SilentProgress
from ballsy.importer.report import ImportReport, TableResult
from ballsy.importer.rules import RepairLog
from ballsy.importer.source import SourceDb, check_is_sqlite
from ballsy.importer.tables import TableSpec, foreign_keys, load_order, model_specs
from ballsy.importer.workers import BatchJob, WorkerPlan, WorkerPool, WorkerSettings
from ballsy.redaction import redact_url

# Batches in flight per worker: enough to keep each busy, few enough to stop quickly.
_IN_FLIGHT_PER_WORKER = 2


@dataclass(slots=True)
class _Run:
    """What the coordinator needs while it runs; built once per import."""

    specs: tuple[TableSpec, ...]
    plan: Plan
    log: RepairLog
    fingerprint: str
    committed: target.Ranges
    ranges: dict[str, list[tuple[int, int]]]
    dry_run: bool
    batch_size: int
    progress: Progress
    results: dict[str, TableResult]
    # Per table, the source side's digest of each bucket (see `checksum`).
    digests: dict[str, dict[Bucket, bytes]]


async def import_sqlite(
    source: Path,
    target_url: str,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    migrate: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    specs: Sequence[TableSpec] | None = None,
) -> ImportReport:
    """Import the SQLite database `source` into the PostgreSQL database `target_url`.

    Idempotent and resumable: run it again after a failure or a kill and it writes only
    the batches not yet committed; after success it writes nothing and verifies again.
    `dry_run` reads and checks everything and writes nothing. `migrate` upgrades a target
    that is not at Ballsy's migration head (otherwise that is an error). `workers`: how
    many processes convert and copy batches (default: `default_workers()`); they start
    with the `spawn` method, so a script calling this must guard its entry point
    with `if __name__ == "__main__":`, as multiprocessing requires. `specs`: the tables
    to import (default: Ballsy's models, `tables.model_specs`).

    A failure PostgreSQL would repeat on every run (it refuses a row: `ImportRejected`)
    undoes the import: its rows and records are deleted and the dropped indexes and
    foreign keys re-created, so the target is as it was before the first run. Any other
    failure (a lost connection, a signal) keeps the committed batches for the next run.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ImportFailed(f"--batch-size must be between 1 and {MAX_BATCH_SIZE:,}")
    workers = default_workers() if workers is None else workers
    if not 1 <= workers <= MAX_WORKERS:
        raise ImportFailed(f"--workers must be between 1 and {MAX_WORKERS}")
    started = time.monotonic()
    progress = progress or SilentProgress()
    async with contextlib.AsyncExitStack() as resources:
        # The workers start first: their interpreters boot while this process loads the
        # models (for the specs), reads the file and connects; the specs, the source's
        # fingerprint and the plan reach them later, with `hand_plan`.
        check_is_sqlite(source)
        pool = WorkerPool(
            WorkerSettings(source, target.asyncpg_dsn(target_url), dry_run, os.getpid()),
            workers,
        )
        resources.push_async_callback(pool.close)
        specs = tuple(model_specs() if specs is None else specs)
        names = [spec.name for spec in specs]
        db = await asyncio.to_thread(SourceDb, source, specs)
        resources.callback(db.close)
        fingerprint = await asyncio.to_thread(db.fingerprint)
        conn = await target.connect(target_url)
        resources.push_async_callback(conn.close)
        try:
            # The plan's queries, the batch layout and the target's preparation (migrations
            # included) run side by side.
            async with asyncio.TaskGroup() as group:
                planned = group.create_task(
                    asyncio.to_thread(_plan_on_own_connection, source, specs)
                )
                laid_out = group.create_task(
                    asyncio.to_thread(_layout_on_own_connection, source, specs, batch_size)
                )
                prepared = group.create_task(
                    _prepare_target(conn, target_url, fingerprint, dry_run, migrate, names)
                )
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None
        plan, (counts, ranges), committed = planned.result(), laid_out.result(), prepared.result()
        if not dry_run:
            # Only now that the plan holds: a refused source leaves no trace in the target.
            await target.prepare_state(conn)
        report = ImportReport(
            source=str(source), schema_kind=db.kind, target=redact_url(target_url), dry_run=dry_run
        )
        skips_triggers = await target.may_skip_fk_triggers(conn)
        report.foreign_keys_checked_per_row = not skips_triggers
        if not dry_run and not committed:
            # An empty target: its indexes are built once, after loading, not row by row.
            await target.defer_indexes(conn, names)
        if not dry_run and skips_triggers:
            # The COPY skips the foreign keys' triggers, so the constraints go until both
            # their tables are loaded, and PostgreSQL checks each when it is re-added.
            await target.defer_foreign_keys(conn, names)
        run = _Run(
            specs=specs,
            plan=plan,
            log=RepairLog(list(plan.repairs.items)),
            fingerprint=fingerprint,
            committed=committed,
            ranges=ranges,
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress,
            results={spec.name: TableResult(spec.name, counts[spec.name]) for spec in specs},
            digests={spec.name: {} for spec in specs},
        )
        progress.begin(total_rows=sum(counts.values()))
        pool.hand_plan(WorkerPlan(specs, fingerprint, plan))
        _digest_outside_buckets(run)
        checks: dict[str, asyncio.Task[Any]] = {}
        resources.push_async_callback(_cancel, checks)
        try:
            await _load_and_verify(run, report, conn, pool, workers, target_url, checks)
        except ImportRejected as exc:
            # PostgreSQL would refuse these rows on every run: undo, leaving the target
            # as it was before the first run, rather than half an import nobody can finish.
            await _cancel(checks)
            await pool.close()
            removed = await _undo(conn, fingerprint, specs)
            raise ImportRejected(
                f"{exc.message}. The import was undone: its {removed:,} committed rows were "
                "deleted and the target's indexes and foreign keys are back, so the target "
                "is as it was; fix the source and run the import again"
            ) from None
    for spec in specs:
        run.results[spec.name].expected_checksum = table_checksum(run.digests[spec.name])
    report.tables = [run.results[spec.name] for spec in specs]
    order = {spec.name: index for index, spec in enumerate(specs)}
    report.repairs = sorted(
        run.log.items, key=lambda r: (order[r.table], r.row_id, r.rule, r.column or "")
    )
    report.elapsed_s = time.monotonic() - started
    return report


async def _load_and_verify(
    run: _Run,
    report: ImportReport,
    conn: asyncpg.Connection,
    pool: WorkerPool,
    workers: int,
    target_url: str,
    checks: dict[str, asyncio.Task[Any]],
) -> None:
    """Write every batch, then read the target back: counts, digests, references."""
    await _write_placeholders(run, conn)
    # A loaded table gets its indexes back and is checksummed in PostgreSQL while the
    # others still load, and each foreign key is checked (re-added, when the import
    # dropped it) once both its tables are finished; each on its own connection.
    by_name = {spec.name: spec for spec in run.specs}
    keys = foreign_keys(run.specs)
    finished: set[str] = set()

    async def foreign_key(table: str, column: str, parent: str) -> int:
        await asyncio.gather(checks[table], checks[parent])
        return await target.check_foreign_key(target_url, table, column, parent)

    def table_done(name: str) -> None:
        if run.dry_run:
            return
        checks[name] = asyncio.create_task(
            target.finish_table(target_url, by_name[name], buckets(run.ranges[name]))
        )
        finished.add(name)
        for table, column, parent in keys:
            key = f"{table}.{column}"
            if key not in checks and {table, parent} <= finished:
                checks[key] = asyncio.create_task(foreign_key(table, column, parent))

    await _run_batches(
        run, pool, workers, table_done, in_fk_order=report.foreign_keys_checked_per_row
    )
    checks["workers"] = asyncio.create_task(pool.close())  # they exit while PG verifies
    if not run.dry_run:
        run.progress.note(
            "indexing and verifying: row counts, checksums and foreign keys in PostgreSQL"
        )
        await target.move_sequences(conn, run.specs)
        for spec in run.specs:
            result = run.results[spec.name]
            result.target_rows, found = await checks[spec.name]
            result.target_checksum = table_checksum(found)
            result.mismatched_ranges = differing(run.digests[spec.name], found)
        report.dangling_references = {
            key: await checks[key] for key in (f"{table}.{column}" for table, column, _ in keys)
        }
    await checks["workers"]


async def _undo(conn: asyncpg.Connection, fingerprint: str, specs: Sequence[TableSpec]) -> int:
    """Delete what the import wrote and bring back what it dropped; the rows deleted."""
    names = load_order(specs)
    removed = await target.undo_import(conn, fingerprint, names)
    for name in names:
        await target.restore_indexes(conn, name)
    for table, _, parent in foreign_keys(specs):
        await target.restore_foreign_keys(conn, table, parent)
    await target.drop_state_if_unused(conn)
    return removed


async def _cancel(tasks: dict[str, asyncio.Task[Any]]) -> None:
    """Cancel whichever of `tasks` still run, and wait for them to stop."""
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


def _plan_on_own_connection(source: Path, specs: Sequence[TableSpec]) -> Plan:
    db = SourceDb(source, specs)
    try:
        return build_plan(db)
    finally:
        db.close()


def _layout_on_own_connection(
    source: Path, specs: Sequence[TableSpec], batch_size: int
) -> tuple[dict[str, int], dict[str, list[tuple[int, int]]]]:
    """The file's row counts and batch id ranges.

    Like the plan, on a connection of its own: when the target's preparation fails, the
    import returns while these threads may still run (a thread cannot be cancelled), and
    closing a SQLite connection another thread is using would crash the process."""
    db = SourceDb(source, specs)
    try:
        counts = {spec.name: db.count(spec.name) for spec in db.specs}
        ranges = {spec.name: db.batch_ranges(spec.name, batch_size) for spec in db.specs}
    finally:
        db.close()
    return counts, ranges


async def _prepare_target(
    conn: asyncpg.Connection,
    url: str,
    fingerprint: str,
    dry_run: bool,
    migrate: bool,
    names: list[str],
) -> target.Ranges:
    await target.ensure_migrated(conn, url, upgrade=migrate and not dry_run)
    if dry_run:
        # Read-only: report problems early.
        await target.check_can_import(conn, fingerprint, names)
        return {}
    await target.take_lock(conn)
    return await target.check_can_import(conn, fingerprint, names)


def _digest_outside_buckets(run: _Run) -> None:
    """The source side's digests of the buckets outside the batches' id ranges: the
    placeholder rows there, or none (the workers hash the placeholders inside theirs)."""
    for spec in run.specs:
        rows = run.plan.placeholders(spec.name)
        encode = batch_encoder(spec)
        batch_ranges = set(run.ranges[spec.name])
        for low, high in buckets(run.ranges[spec.name]):
            if (low, high) not in batch_ranges:
                inside = encode([row for row in rows if low <= row[0] <= high])
                run.digests[spec.name][(low, high)] = tuples_digest(inside)


async def _write_placeholders(run: _Run, conn: asyncpg.Connection) -> None:
    """The planned placeholder users and conversations: few rows, written here."""
    by_name = {spec.name: spec for spec in run.specs}
    batch_size = run.batch_size
    for name in ("users", "conversations"):
        rows = run.plan.placeholders(name)
        spec, result = by_name[name], run.results[name]
        tuples = batch_encoder(spec)(rows)
        result.expected_rows += len(rows)
        stream = f"{name}:placeholders"
        done = tuple(run.committed.get(stream, ()))
        for start in range(0, len(rows), batch_size):
            chunk = tuples[start : start + batch_size]
            id_range = (rows[start][0], rows[start + len(chunk) - 1][0])
            if run.dry_run or id_range in done:
                continue
            try:
                await target.write_batch(
                    conn,
                    spec=spec,
                    stream=stream,
                    fingerprint=run.fingerprint,
                    id_range=id_range,
                    data=copy_data(chunk),
                    rows=len(chunk),
                )
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
                raise ImportRejected(
                    f"PostgreSQL refused the placeholder {name} ids {id_range[0]}–{id_range[1]}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            result.written_rows += len(chunk)


async def _run_batches(
    run: _Run,
    pool: WorkerPool,
    workers: int,
    table_done: Callable[[str], None],
    *,
    in_fk_order: bool,
) -> None:
    """Every table's batches over the worker processes; `table_done(name)` after each.

    `in_fk_order`: a table starts once the tables it references are complete.
    """
    gate = asyncio.Semaphore(workers * _IN_FLIGHT_PER_WORKER)
    read: dict[str, int] = {}

    async def one(job: BatchJob) -> None:
        async with gate:
            outcome = await pool.run(job)
        result = run.results[job.table]
        result.expected_rows += outcome.rows
        run.digests[job.table][(job.first_id, job.last_id)] = outcome.digest
        result.written_rows += outcome.written
        run.log.items.extend(outcome.repairs)
        read[job.table] = read.get(job.table, 0) + outcome.raw_rows
        result.read_rows += outcome.raw_rows
        run.progress.batch_done(
            job.table,
            read=read[job.table],
            total=result.source_rows,
            written=result.written_rows,
        )

    # Foreign-key order: each table after the tables it references. When PostgreSQL checks
    # every reference as rows arrive, a table starts only once those are complete (the
    # longest chain first); otherwise every table starts at once, largest first. Either
    # way the largest tables load early, so the work PostgreSQL does once the last batch
    # is in (indexing and checksumming the tables loaded last) is small.
    order = load_order(run.specs)
    parents = {name: set[str]() for name in order}
    for table, _, parent in foreign_keys(run.specs):
        parents[table].add(parent)
    if not in_fk_order:
        order = sorted(order, key=lambda name: -run.results[name].source_rows)
        parents = {name: set() for name in order}
    loaded = {name: asyncio.Event() for name in order}

    async def finish(name: str, batches: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*batches)
        table_done(name)
        loaded[name].set()

    try:
        async with asyncio.TaskGroup() as group:
            for name in order:
                for parent in parents[name]:
                    await loaded[parent].wait()
                done = tuple(run.committed.get(name, ()))
                batches = []
                for first_id, last_id in run.ranges[name]:
                    overlap = tuple(r for r in done if r[0] <= last_id and r[1] >= first_id)
                    batches.append(
                        group.create_task(one(BatchJob(name, first_id, last_id, overlap)))
                    )
                group.create_task(finish(name, batches))
    except BaseExceptionGroup as group_error:
        raise _first_error(group_error) from None


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a task group, so callers see e.g. `ImportFailed` itself."""
    first = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


__all__ = ["DEFAULT_BATCH_SIZE", "default_workers", "import_sqlite"]
