"""Batch work in worker processes: read, convert, hash and COPY one id range each.

Converting and hashing rows is Python work, so the importer spreads batches over a few
processes (one GIL each); every worker has its own SQLite and PostgreSQL connections,
and only small summaries travel back to the coordinating process, never rows. A worker
dies with its parent (Linux `PR_SET_PDEATHSIG`), so killing the import kills its
workers too and PostgreSQL rolls back whatever batch they had open.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ballsy.db.importer import target
from ballsy.db.importer.checksum import row_hasher
from ballsy.db.importer.convert import CONVERTERS
from ballsy.db.importer.errors import ImportFailed
from ballsy.db.importer.plan import Plan
from ballsy.db.importer.rules import Repair, RepairLog
from ballsy.db.importer.source import SourceDb
from ballsy.db.importer.tables import TABLES, TableSpec

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
    checksum: int
    written: int
    repairs: list[Repair] = field(default_factory=list)


@dataclass(slots=True)
class WorkerSettings:
    """What every worker needs; sent once, when the worker starts."""

    source_path: Path
    target_url: str
    plan: Plan
    fingerprint: str
    dry_run: bool
    parent_pid: int


class _Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.source = SourceDb(settings.source_path)
        self.specs: dict[str, TableSpec] = {spec.name: spec for spec in TABLES}
        self.loop = asyncio.new_event_loop()
        self.conn: Any = None

    def run(self, job: BatchJob) -> BatchOutcome:
        spec = self.specs[job.table]
        raw = self.source.read_range(job.table, job.first_id, job.last_id)
        log = RepairLog()
        convert = CONVERTERS[job.table](
            self.settings.plan, log, has=lambda column: self.source.has(job.table, column)
        )
        rows = convert(raw)
        hash_row = row_hasher(spec)
        checksum = sum(hash_row(row) for row in rows)
        pending = [row for row in rows if not _inside(row[0], job.committed)]
        written = 0
        if pending and not self.settings.dry_run:
            self.loop.run_until_complete(self._write(spec, job, pending))
            written = len(pending)
        return BatchOutcome(job.table, len(raw), len(rows), checksum, written, log.items)

    async def _write(self, spec: TableSpec, job: BatchJob, rows: list[tuple[Any, ...]]) -> None:
        if self.conn is None:
            self.conn = await target.connect_writer(self.settings.target_url)
        try:
            await target.write_batch(
                self.conn,
                spec=spec,
                stream=job.table,
                fingerprint=self.settings.fingerprint,
                id_range=(job.first_id, job.last_id),
                rows=rows,
            )
        except asyncpg.PostgresError as exc:
            raise ImportFailed(
                f"writing {spec.name} ids {job.first_id}–{job.last_id} failed, and that batch "
                f"was rolled back: {type(exc).__name__}: {exc}"
            ) from None


def _inside(row_id: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(first <= row_id <= last for first, last in ranges)


_worker: _Worker | None = None


def start_worker(settings: WorkerSettings) -> None:
    """Process-pool initializer: die with the parent, ignore Ctrl-C, open connections."""
    global _worker
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != settings.parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    # The coordinator handles SIGINT/SIGTERM; workers finish (or lose) their one batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _worker = _Worker(settings)


def run_job(job: BatchJob) -> BatchOutcome:
    """Process-pool task: one batch, start to commit."""
    assert _worker is not None, "start_worker runs first"
    return _worker.run(job)
