"""Progress for long imports: rows per table, rate and time left."""

from __future__ import annotations

import time
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the importer reports while it runs; implement it to show progress elsewhere."""

    def begin(self, *, total_rows: int) -> None: ...

    def batch_done(self, table: str, *, read: int, total: int, written: int) -> None: ...

    def note(self, text: str) -> None: ...


class SilentProgress:
    def begin(self, *, total_rows: int) -> None:
        pass

    def batch_done(self, table: str, *, read: int, total: int, written: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class TerminalProgress:
    """One updating line on a terminal; one line per committed batch otherwise (logs)."""

    def __init__(self, stream: TextIO, *, interactive: bool | None = None) -> None:
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self._started = time.monotonic()
        self._total = 0
        self._read: dict[str, int] = {}
        self._last_draw = 0.0

    def begin(self, *, total_rows: int) -> None:
        self._started = time.monotonic()
        self._total = total_rows

    def note(self, text: str) -> None:
        self._end_line()
        self.stream.write(f"import: {text}\n")
        self.stream.flush()

    def batch_done(self, table: str, *, read: int, total: int, written: int) -> None:
        self._read[table] = read
        processed = sum(self._read.values())
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = processed / elapsed
        left = (self._total - processed) / rate if rate > 0 else 0.0
        percent = 100.0 * read / total if total else 100.0
        line = (
            f"import {table}: {read:,}/{total:,} rows ({percent:.0f}%), written {written:,}"
            f" | {rate:,.0f} rows/s | about {left:.0f} s left"
        )
        if not self.interactive:
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or read >= total:
            self._last_draw = now
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()

    def _end_line(self) -> None:
        if self.interactive and self._last_draw:
            self.stream.write("\n")
            self._last_draw = 0.0
