"""An import killed midway by a real signal, then run again, ends identical to a clean one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from ballsy.db import migrate
from ballsy.importer import import_sqlite
from tests import pg
from tests.db.legacy_factory import LegacyFacts, build_legacy_db

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BATCH = 100
_WRITTEN = re.compile(r"^import messages: [\d,]+/[\d,]+ rows \(\d+%\), written ([\d,]+)")


@pytest.fixture(scope="module")
def big_legacy(tmp_path_factory: pytest.TempPathFactory) -> LegacyFacts:
    # Enough message batches that the signal lands while messages are being copied.
    path = tmp_path_factory.mktemp("kill") / "voice_assistant.db"
    return build_legacy_db(path, users=50, conversations=300, messages=30_000, commands=2_000)


def _start(source: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ballsy.importer",
            str(source),
            "--to",
            url,
            "--batch-size",
            str(BATCH),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_message_batches(proc: subprocess.Popen[str], *, at_least: int) -> int:
    """Read progress lines until `at_least` message rows are committed; bounded in time."""
    assert proc.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            continue
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = _WRITTEN.match(line)
        if match and int(match.group(1).replace(",", "")) >= at_least:
            return int(match.group(1).replace(",", ""))
    raise AssertionError(f"no message progress seen; last lines: {seen[-5:]}")


def _count_and_recorded(url: str) -> tuple[int, int]:
    """Message rows in the table, and message rows the committed batch records account for."""
    with psycopg.connect(url) as conn:
        count = conn.execute("SELECT count(*) FROM messages").fetchone()[0]  # type: ignore[index]
        recorded = conn.execute(
            "SELECT coalesce(sum(rows_written), 0) FROM ballsy_import.batches "
            "WHERE stream = 'messages'"
        ).fetchone()[0]  # type: ignore[index]
    return int(count), int(recorded)


def _until_no_other_session(url: str, seconds: float = 30) -> None:
    """Wait until no session but this one is connected to the database: no importer process
    or worker can still be writing."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]  # type: ignore[index]
            if others == 0:
                return
            assert time.monotonic() < deadline, f"{others} session(s) still connected"
            time.sleep(0.05)  # poll interval


def _recorded_per_table(url: str) -> dict[str, int]:
    """Rows the committed batch records account for, per table (placeholders included)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT split_part(stream, ':', 1), sum(rows_written) FROM ballsy_import.batches "
            "GROUP BY 1"
        ).fetchall()
    return {str(name): int(total) for name, total in rows}


async def _clean_checksums(source: Path) -> dict[str, tuple[int, str]]:
    name, url = await asyncio.to_thread(pg.create_database)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        # The batch size of the resumed run: it decides the checksum's id ranges.
        report = await import_sqlite(source, url, batch_size=2000)
        assert report.ok
        return {t.name: (t.target_rows or 0, t.target_checksum or "") for t in report.tables}
    finally:
        await asyncio.to_thread(pg.drop_database, name)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
async def test_killed_import_resumes_to_identical_checksums(
    signum: signal.Signals, big_legacy: LegacyFacts, postgres_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, postgres_url)
    proc = _start(big_legacy.path, postgres_url)
    try:
        await asyncio.to_thread(_wait_for_message_batches, proc, at_least=3 * BATCH)
        proc.send_signal(signum)
        _, err = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    if signum == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:  # handled: the open batch rolls back and the command says how to go on
        assert proc.returncode == 128 + signal.SIGTERM
        assert "interrupted by SIGTERM" in err and "run the same command again" in err.lower()

    # Stopped midway with whole batches only, each recorded with its rows; and nothing
    # is still writing (the worker processes died with the importer or finished).
    count, recorded = await asyncio.to_thread(_count_and_recorded, postgres_url)
    total = big_legacy.rows["messages"]
    assert 3 * BATCH <= count < total
    assert count % BATCH == 0
    assert recorded == count
    await asyncio.to_thread(_until_no_other_session, postgres_url)
    assert await asyncio.to_thread(_count_and_recorded, postgres_url) == (count, recorded)
    committed_before = await asyncio.to_thread(_recorded_per_table, postgres_url)
    # The indexes were deferred for loading: still recorded, to be re-created by the re-run.
    migrated = await asyncio.to_thread(pg.migrated_schema_objects)
    stopped = await asyncio.to_thread(pg.schema_objects, postgres_url)
    assert stopped["deferred"]
    assert {name for name, _ in stopped["indexes"]} | {name for (name,) in stopped["deferred"]} == {
        name for name, _ in migrated["indexes"]
    }

    # The re-run may use another batch size: resuming goes by id, not by batch number.
    report_path = tmp_path / "report.json"
    resumed = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ballsy.importer",
            str(big_legacy.path),
            "--to",
            postgres_url,
            "--batch-size",
            "2000",
            "--report-json",
            str(report_path),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads(report_path.read_text())
    tables = {t["name"]: t for t in report["tables"]}
    assert tables["messages"]["written_rows"] == total - count
    for name, table in tables.items():  # what was committed before the signal is not rewritten
        assert table["written_rows"] == table["expected_rows"] - committed_before.get(name, 0)
    resumed_sums = {n: (t["target_rows"], t["target_checksum"]) for n, t in tables.items()}
    assert resumed_sums == await _clean_checksums(big_legacy.path)
    # Every index and constraint is back, as migrated, and none is left recorded.
    assert await asyncio.to_thread(pg.schema_objects, postgres_url) == migrated
