"""The import's one command line: `ballsy db import-sqlite SOURCE.db [--to URL] …`.

Defined once, here, as a Typer command; `ballsy db import-sqlite` registers it
(`ballsy.cli`) and `python -m ballsy.importer` runs the same command (`main`). Exit
status: 0 verified (or dry run done), 1 verification mismatch, 2 the import could not
start or finish (the message says why; an import PostgreSQL refused is undone first),
130/143 interrupted by SIGINT/SIGTERM (every committed batch is kept; the same command
resumes). Only Typer loads with this module: the import itself loads when it runs.
`ballsy.cli` imports this module for every command, so loading the import up front
would cost every command, a local `ballsy ask` included, about 0.3 s and 148 modules
(measured on top of `ballsy.cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ballsy.importer.options import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE

if TYPE_CHECKING:
    from ballsy.importer.report import ImportReport

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_FAILED = 2


def import_sqlite_command(
    source: Annotated[Path, typer.Argument(help="The SQLite file (e.g. voice_assistant.db).")],
    to: Annotated[
        str | None, typer.Option(help="Target PostgreSQL URL (default: DATABASE_URL).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Read and check; write nothing.")] = False,
    batch_size: Annotated[
        int,
        typer.Option(help=f"Rows per transaction (at most {MAX_BATCH_SIZE:,})."),
    ] = DEFAULT_BATCH_SIZE,
    migrate: Annotated[
        bool, typer.Option(help="Upgrade the target to the latest migration first if needed.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Processes converting and copying (default: CPUs, 2-4).")
    ] = None,
    report_json: Annotated[Path | None, typer.Option(help="Also write the report here.")] = None,
) -> None:
    """Import a prototype (voice_assistant.db) or Ballsy SQLite database into PostgreSQL:
    verified, resumable, idempotent. Exit 0 verified, 1 mismatch, 2 failed."""
    options = argparse.Namespace(
        dry_run=dry_run, batch_size=batch_size, migrate=migrate, workers=workers
    )
    raise typer.Exit(run(source, to, options, report_json))


def _default_target() -> str:
    from ballsy.config import Settings

    return Settings().database_url_value()


async def _run_interruptible(
    source: Path, target: str, options: argparse.Namespace
) -> tuple[ImportReport | None, int | None]:
    """Run the import; on SIGINT/SIGTERM cancel it (rolling back the open batch)."""
    from ballsy.importer.progress import TerminalProgress
    from ballsy.importer.run import import_sqlite

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(
        import_sqlite(
            source,
            target,
            dry_run=options.dry_run,
            batch_size=options.batch_size,
            migrate=options.migrate,
            workers=options.workers,
            progress=TerminalProgress(sys.stderr),
        )
    )
    received: list[int] = []

    def interrupt(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        return await task, None
    except asyncio.CancelledError:
        if not received:
            raise
        return None, received[0]
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def run(
    source: Path, target: str | None, options: argparse.Namespace, report_json: Path | None
) -> int:
    """Run the import and print its report; the exit status."""
    from ballsy.errors import BallsyError
    from ballsy.importer.report import format_report

    try:
        url = target or _default_target()
        report, signum = asyncio.run(_run_interruptible(source, url, options))
    except BallsyError as exc:  # the importer's own errors included
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    if report is None:
        name = signal.Signals(signum or signal.SIGTERM).name
        print(
            f"\nimport: interrupted by {name}; every committed batch is kept and no batch is "
            "half-written. Run the same command again to resume.",
            file=sys.stderr,
        )
        return 128 + int(signum or signal.SIGTERM)
    print(format_report(report))
    if report_json:
        report_json.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    if not report.ok:
        print(
            "error [import_verification_failed]: the target does not match the source; "
            "see the MISMATCH rows above",
            file=sys.stderr,
        )
        return EXIT_MISMATCH
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """`python -m ballsy.importer ARGS`: the `ballsy db import-sqlite` command, run with
    `argv` (default: the process's arguments); the exit status."""
    app = typer.Typer(add_completion=False)
    app.command()(import_sqlite_command)
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="python -m ballsy.importer", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED if exc.code else EXIT_OK
    return EXIT_OK
