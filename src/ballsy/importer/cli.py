"""`python -m ballsy.importer SOURCE.db --to URL [--dry-run] [--batch-size N] [--migrate]`.

Exit status: 0 verified (or dry run done), 1 verification mismatch, 2 the import could not
start or finish (the message says why), 130/143 interrupted by SIGINT/SIGTERM (every
committed batch is kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from ballsy.errors import BallsyError
from ballsy.importer.errors import ImportFailed
from ballsy.importer.progress import TerminalProgress
from ballsy.importer.report import ImportReport, format_report
from ballsy.importer.run import DEFAULT_BATCH_SIZE, import_sqlite

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_FAILED = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ballsy.importer",
        description="Import a prototype or Ballsy SQLite database into PostgreSQL, verified.",
    )
    parser.add_argument("source", type=Path, help="the SQLite file (e.g. voice_assistant.db)")
    parser.add_argument("--to", dest="target", help="target PostgreSQL URL (default: DATABASE_URL)")
    parser.add_argument("--dry-run", action="store_true", help="read and check; write nothing")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="upgrade the target to Ballsy's migration head first if needed",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes converting and copying batches (default: CPUs, 2-4)",
    )
    parser.add_argument("--report-json", type=Path, help="also write the full report here")
    return parser


def _default_target() -> str:
    from ballsy.config import Settings

    return Settings().database_url_value()


async def _run_interruptible(
    source: Path, target: str, args: argparse.Namespace
) -> tuple[ImportReport | None, int | None]:
    """Run the import; on SIGINT/SIGTERM cancel it (rolling back the open batch)."""
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(
        import_sqlite(
            source,
            target,
            dry_run=args.dry_run,
            batch_size=args.batch_size,
            migrate=args.migrate,
            workers=args.workers,
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


def main(argv: list[str] | None = None) -> int:
    """Run the importer as a command; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        target = args.target or _default_target()
        report, signum = asyncio.run(_run_interruptible(args.source, target, args))
    except ImportFailed as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except BallsyError as exc:
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
    if args.report_json:
        args.report_json.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    if not report.ok:
        print(
            "error [import_verification_failed]: the target does not match the source; "
            "see the MISMATCH rows above",
            file=sys.stderr,
        )
        return EXIT_MISMATCH
    return EXIT_OK
