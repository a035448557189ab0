"""Batch work in worker processes: read, convert, encode, hash and COPY one id range each.

Converting, encoding and hashing rows is Python work, so the importer spreads batches over a few
processes (one GIL each); every worker has its own SQLite and PostgreSQL connections,
and only small summaries travel back to the coordinating process, never rows. A worker
dies with its parent (Linux `PR_SET_PDEATHSIG`), so killing the import kills its
workers too and PostgreSQL rolls back whatever batch they had open.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ballsy.importer import target
from ballsy.importer.checksum import stream_digest, tuples_digest
from ballsy.importer.convert import build_converter
from ballsy.importer.copy_format import batch_encoder, copy_data
from ballsy.importer.errors import ImportFailed, ImportRejected
from ballsy.importer.plan import Plan
from ballsy.importer.rules import Repair, RepairLog
from ballsy.importer.source import SourceDb
from ballsy.importer.tables import TableSpec

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One id range of one table; `committed` are ranges an earlier run already wrote."""

    table: str
    first_id: int
    last_id: int
    committed: tuple[tuple[int, int], ...] = ()


@dataclass(slots=True)
class BatchOutcome:
    table: str
    raw_rows: int
    rows: int
    digest: bytes  # of the batch's id range, placeholders in it included (see `checksum`)
    written: int
    repairs: list[Repair] = field(default_factory=list)


@dataclass(slots=True)
class WorkerSettings:
    """What every worker needs to start; sent when it starts (the plan comes later)."""

    source_path: Path
    target_dsn: str  # from `target.asyncpg_dsn`
    dry_run: bool
    parent_pid: int


@dataclass(slots=True)
class WorkerPlan:
    """What every worker needs for its batches; sent once the coordinator has it."""

    specs: tuple[TableSpec, ...]  # derived from the models by the coordinator
    fingerprint: str
    plan: Plan


class _Worker:
    def __init__(self, settings: WorkerSettings, handed: WorkerPlan) -> None:
        self.settings = settings
        self.plan = handed.plan
        self.fingerprint = handed.fingerprint
        self.source = SourceDb(settings.source_path, handed.specs)
        self.specs: dict[str, TableSpec] = {spec.name: spec for spec in handed.specs}
        self.encoders = {spec.name: batch_encoder(spec) for spec in handed.specs}
        self.loop = asyncio.new_event_loop()
        self.conn: Any = None

    def run(self, job: BatchJob) -> BatchOutcome:
        spec = self.specs[job.table]
        raw = self.source.read_range(job.table, job.first_id, job.last_id)
        log = RepairLog()
        convert = build_converter(
            spec, self.plan, log, has=lambda column: self.source.has(job.table, column)
        )
        rows = convert(raw)
        encode = self.encoders[job.table]
        tuples = encode(rows)
        data = copy_data(tuples)
        # The bytes that are copied are the bytes that are hashed: one MD5 for the batch.
        placeholders = [
            row
            for row in self.plan.placeholders(job.table)
            if job.first_id <= row[0] <= job.last_id
        ]
        if placeholders:  # rows the coordinator writes, inside this range: hashed here too
            merged = sorted(
                [
                    *zip((row[0] for row in rows), tuples, strict=True),
                    *zip((p[0] for p in placeholders), encode(placeholders), strict=True),
                ]
            )
            digest = tuples_digest(data for _, data in merged)
        else:
            digest = stream_digest(data)
        pending = len(tuples)
        if job.committed:
            kept = [
                data
                for row, data in zip(rows, tuples, strict=True)
                if not _inside(row[0], job.committed)
            ]
            data, pending = copy_data(kept), len(kept)
        written = 0
        if pending and not self.settings.dry_run:
            self.loop.run_until_complete(self._write(spec, job, data, pending))
            written = pending
        return BatchOutcome(job.table, len(raw), len(rows), digest, written, log.items)

    async def _write(self, spec: TableSpec, job: BatchJob, data: bytes, rows: int) -> None:
        if self.conn is None:
            self.conn = await target.connect_writer(self.settings.target_dsn)
        try:
            await target.write_batch(
                self.conn,
                spec=spec,
                stream=job.table,
                fingerprint=self.fingerprint,
                id_range=(job.first_id, job.last_id),
                data=data,
                rows=rows,
            )
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            raise ImportRejected(
                f"PostgreSQL refused {spec.name} ids {job.first_id}–{job.last_id}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        except asyncpg.PostgresError as exc:
            raise ImportFailed(
                f"writing {spec.name} ids {job.first_id}–{job.last_id} failed, and that batch "
                f"was rolled back: {type(exc).__name__}: {exc}. Committed batches are kept; "
                "run the same command again to resume"
            ) from None


def _inside(row_id: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(first <= row_id <= last for first, last in ranges)


class WorkerPool:
    """The worker processes. They start at once, so that they import and connect while the
    coordinator still plans, then wait for the plan (`hand_plan`) before taking batches."""

    def __init__(self, settings: WorkerSettings, workers: int) -> None:
        # `spawn`: fresh interpreters whose parent is this process, so they die with it
        # (`fork` would copy this process's open connections and running event loop).
        context = multiprocessing.get_context("spawn")
        self._plans: Any = context.SimpleQueue()
        self._workers = workers
        self._plan_handed = False
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=start_worker,
            initargs=(settings, self._plans),
        )
        for _ in range(workers):  # the pool starts one process per task submitted
            self._pool.submit(int)

    def hand_plan(self, handed: WorkerPlan) -> None:
        for _ in range(self._workers):
            self._plans.put(handed)
        self._plan_handed = True

    async def run(self, job: BatchJob) -> BatchOutcome:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, run_job, job)
        except BrokenProcessPool as exc:
            raise ImportFailed(
                f"a worker process died while importing {job.table} ({exc}); committed "
                "batches are kept, run the same command again to resume"
            ) from None

    async def close(self) -> None:
        """Stop the workers: batches not started are dropped, the ones running finish and
        commit whole (on a failure or a signal too), then the processes exit."""
        if not self._plan_handed:
            for _ in range(self._workers):
                self._plans.put(None)  # no plan: the workers exit without a batch
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)


_worker: _Worker | None = None


def start_worker(settings: WorkerSettings, plans: Any) -> None:
    """Process-pool initializer: die with the parent, ignore Ctrl-C, open the source, wait
    for the plan (`plans`: a queue holding a `WorkerPlan` per worker)."""
    global _worker
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != settings.parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    # The coordinator handles SIGINT/SIGTERM; workers finish (or lose) their one batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    handed = plans.get()
    if handed is not None:
        _worker = _Worker(settings, handed)


def run_job(job: BatchJob) -> BatchOutcome:
    """Process-pool task: one batch, start to commit."""
    assert _worker is not None, "start_worker runs first"
    return _worker.run(job)
