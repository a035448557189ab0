"""The migration rollback runbook in DEPLOYMENT.md, played locally on SQLite and PostgreSQL.

In production the downgrade runs as the migration job on the new image with the arguments the
runbook gives (`gcloud run jobs execute JOB --args=…`); the job's command comes from
infra/cloud_run.tf. Here the very same argv runs as a process with no terminal (as in a job),
against a database the job's own `db upgrade` brought to HEAD; then the release is upgraded
again. The argv is read from the runbook and the Terraform, so the test breaks if either
drifts from what the CLI does.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ballsy.db import migrate
from ballsy.db.downgrade import known_revisions
from ballsy.db.url import to_async_url
from tests.infra.tools import INFRA, REPO

DOC = REPO / "DEPLOYMENT.md"


def _job_command() -> list[str]:
    """The migration job's container command and its usual arguments (infra/cloud_run.tf)."""
    text = (INFRA / "cloud_run.tf").read_text()
    job = text[text.index('resource "google_cloud_run_v2_job" "migrate"') :]
    command = re.search(r"command\s*=\s*\[([^\]]*)\]", job)
    args = re.search(r"args\s*=\s*\[([^\]]*)\]", job)
    assert command and args, "the migration job sets command and args"
    return re.findall(r'"([^"]+)"', command.group(1)) + re.findall(r'"([^"]+)"', args.group(1))


def _runbook_args() -> list[str]:
    """The job arguments the runbook's downgrade step passes, revision variable included."""
    text = DOC.read_text()
    section = text[text.index("## Rolling back a migration") :]
    found = re.search(r'gcloud run jobs execute .*--args="([^"]+)".*--wait', section)
    assert found, "the runbook runs the downgrade as the migration job and waits for it"
    return found.group(1).split(",")


def _run(argv: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # `ballsy` is the console script beside this interpreter, importing this checkout.
    script = Path(sys.executable).parent / argv[0]
    env = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "PATH", "TMPDIR"}}
    env.update(
        {
            "DATABASE_URL": database_url,
            "BALLSY_ENV_FILE": str(tmp_path / "no.env"),
            "PYTHONPATH": os.pathsep.join(
                str(Path(p).resolve())
                for p in os.environ.get("PYTHONPATH", "src").split(os.pathsep)
            ),
        }
    )
    return subprocess.run(
        [str(script), *argv[1:]],
        env=env,
        stdin=subprocess.DEVNULL,  # a job has no terminal to confirm at
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _schema(conn: Any) -> set[str]:
    """The schema's objects by name: every table, and every index and column of each (a
    migration may add any of them)."""
    inspector = inspect(conn)
    names: set[str] = set()
    for table in inspector.get_table_names():
        names.add(table)
        names |= {f"{table}.{column['name']}" for column in inspector.get_columns(table)}
        names |= {f"{table} index {index['name']}" for index in inspector.get_indexes(table)}
    return names


async def _state(url: str) -> tuple[str | None, set[str]]:
    engine = create_async_engine(to_async_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(migrate.current_revision_sync)
            return current, await conn.run_sync(_schema)
    finally:
        await engine.dispose()


def test_the_runbook_downgrade_is_the_job_command_with_other_arguments() -> None:
    command = _job_command()
    assert command[:3] == ["ballsy", "db", "upgrade"]
    assert _runbook_args()[:2] == ["db", "downgrade"]
    assert _runbook_args()[2].startswith("$"), "the revision comes from a shell variable"


def test_rollback_runbook_downgrades_then_upgrades_again(database_url: str, tmp_path: Path) -> None:
    revisions = known_revisions()
    assert len(revisions) >= 2, "a rollback needs a previous revision to go back to"
    previous = revisions[-2]
    upgrade = _job_command()
    downgrade = [upgrade[0], *(previous if a.startswith("$") else a for a in _runbook_args())]

    # The release: the job migrates to HEAD.
    done = _run(upgrade, database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    current, schema_at_head = asyncio.run(_state(database_url))
    assert current == migrate.HEAD

    # The rollback, exactly as the job runs it: no terminal, no prompt.
    done = _run(downgrade, database_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"from {migrate.HEAD} to {previous}" in done.stdout
    current, schema = asyncio.run(_state(database_url))
    assert current == previous
    assert schema < schema_at_head, "what the newest migration added is gone"

    # A job retried (or run twice by mistake) changes nothing more.
    again = _run(downgrade, database_url, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to undo" in again.stdout
    assert asyncio.run(_state(database_url)) == (previous, schema)

    # The fixed release migrates forward again, to the same schema.
    done = _run(upgrade, database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert asyncio.run(_state(database_url)) == (migrate.HEAD, schema_at_head)


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        ("-1", "No such option"),  # read as an option: refused before anything runs
        ("0001+1", "is relative"),
        ("head", "is relative"),
        ("0999", "unknown revision"),
    ],
)
def test_a_downgrade_the_job_could_repeat_or_misread_is_refused(
    sqlite_url: str, tmp_path: Path, revision: str, says: str
) -> None:
    assert _run(_job_command(), sqlite_url, tmp_path).returncode == 0
    refused = _run(["ballsy", "db", "downgrade", revision], sqlite_url, tmp_path)
    assert refused.returncode == 2
    assert says in refused.stderr
    assert asyncio.run(_state(sqlite_url))[0] == migrate.HEAD, "nothing was changed"
