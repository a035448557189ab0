"""Reading the SQLite file: read-only, in id order, in batches.

Every method is synchronous (the `sqlite3` module is); the importer calls them through
`asyncio.to_thread`, one at a time, so one connection serves every thread.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ballsy.importer.errors import SourceInvalid
from ballsy.importer.rules import decode_text_leniently
from ballsy.importer.tables import TableSpec, model_specs

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (the table specs and constants), never from the source file's contents;
# every value travels as a bound parameter.

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SourceDb:
    """A SQLite database in the prototype's schema or in Ballsy's own, read through
    `specs`. A table may also be a view (a hand-repaired file's `users` can be one): it
    is read like a table."""

    def __init__(self, path: Path, specs: Sequence[TableSpec] | None = None) -> None:
        self.path = path
        # Default: Ballsy's models (which loads SQLAlchemy; workers are handed the specs).
        self.specs = tuple(model_specs() if specs is None else specs)
        check_is_sqlite(path)
        uri = f"{path.resolve().as_uri()}?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self.columns = self._read_columns()
        except sqlite3.Error as exc:
            raise SourceInvalid(f"{path} could not be read as SQLite: {exc}") from exc
        if not any(spec.name in self.columns for spec in self.specs):
            names = ", ".join(spec.name for spec in self.specs)
            raise SourceInvalid(
                f"{path} holds none of the tables {names}: it is not a Ballsy or prototype database"
            )
        self._select = {spec.name: self._select_list(spec) for spec in self.specs}

    def close(self) -> None:
        self._conn.close()

    @property
    def kind(self) -> str:
        """`ballsy` (Ballsy's own SQLite schema) or `legacy` (the prototype's)."""
        if "alembic_version" in self.columns or "token_hash" in self.columns.get("users", ()):
            return "ballsy"
        return "legacy"

    def has(self, table: str, column: str | None = None) -> bool:
        if table not in self.columns:
            return False
        return column is None or column in self.columns[table]

    def is_rowid_table(self, table: str) -> bool:
        """Whether `table` is a table whose `id` is its rowid (`id INTEGER PRIMARY KEY`):
        then every id is a distinct integer, as SQLite guarantees."""
        kind = self._conn.execute(
            "SELECT type FROM sqlite_master WHERE lower(name) = ?", (table,)
        ).fetchone()
        if kind is None or kind[0] != "table":
            return False
        info = self._conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        keys = [row for row in info if row[5]]
        if (
            len(keys) != 1
            or str(keys[0][1]).lower() != "id"
            or str(keys[0][2]).upper() != "INTEGER"
        ):
            return False
        try:  # a WITHOUT ROWID table has no rowid to select
            self._conn.execute(f"SELECT rowid FROM {_quote(table)} LIMIT 0")  # noqa: S608  # nosec B608
        except sqlite3.OperationalError:
            return False
        return True

    def source_column(self, table: str, candidates: tuple[str, ...]) -> str | None:
        """The first of `candidates` the source table has."""
        present = self.columns.get(table, ())
        return next((name for name in candidates if name in present), None)

    def _read_columns(self) -> dict[str, tuple[str, ...]]:
        names = [
            row[0]
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        ]
        columns: dict[str, tuple[str, ...]] = {}
        for name in names:
            info = self._conn.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
            columns[name.lower()] = tuple(str(row[1]).lower() for row in info)
        return columns

    def _select_list(self, spec: TableSpec) -> str:
        parts = []
        for column in spec.columns:
            found = self.source_column(spec.name, column.sources)
            parts.append(_quote(found) if found else "NULL")
        return ", ".join(parts)

    def count(self, table: str) -> int:
        if table not in self.columns:
            return 0
        return int(self._conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0])  # noqa: S608  # nosec B608

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read query, decoding invalid UTF-8 leniently if strict decoding fails."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc).lower():
                raise
        self._conn.text_factory = decode_text_leniently
        try:
            return self._conn.execute(sql, params).fetchall()
        finally:
            self._conn.text_factory = str

    def read_range(self, table: str, first_id: int, last_id: int) -> list[tuple[Any, ...]]:
        """The rows with `first_id <= id <= last_id`, in id order, in the spec's columns."""
        if table not in self.columns:
            return []
        return self.query(
            f"SELECT {self._select[table]} FROM {_quote(table)} "  # noqa: S608  # nosec B608
            "WHERE id BETWEEN ? AND ? ORDER BY id",
            (first_id, last_id),
        )

    def batch_ranges(self, table: str, size: int) -> list[tuple[int, int]]:
        """Consecutive (first id, last id) ranges of `size` rows each, covering the table."""
        if table not in self.columns:
            return []
        low, high = self.id_range(table)
        if low is None:
            return []
        if isinstance(low, int) and isinstance(high, int) and self.count(table) == high - low + 1:
            # No gaps in the ids: the same ranges, by arithmetic instead of a scan.
            return [(first, min(first + size - 1, high)) for first in range(low, high + 1, size)]
        firsts = [
            row[0]
            for row in self._conn.execute(
                f"SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n "  # noqa: S608  # nosec B608
                f"FROM {_quote(table)}) WHERE (n - 1) % ? = 0",
                (size,),
            )
        ]
        # Each range ends just before the next one starts: the same rows, found cheaply.
        ranges = [(first, nxt - 1) for first, nxt in itertools.pairwise(firsts)]
        return [*ranges, (firsts[-1], high)]

    def id_range(self, table: str) -> tuple[Any, Any]:
        if table not in self.columns:
            return None, None
        # Two subqueries: SQLite answers a lone min() or max() from the index, not both.
        name = _quote(table)
        row = self._conn.execute(
            f"SELECT (SELECT min(id) FROM {name}), (SELECT max(id) FROM {name})"  # noqa: S608  # nosec B608
        ).fetchone()
        return row[0], row[1]

    def fingerprint(self) -> str:
        """Identifies this file's content closely enough to resume an import safely.

        The schema text, and per table the row count and id range: an interrupted import
        resumes only against the same fingerprint.
        """
        digest = hashlib.sha256()
        for (sql,) in self._conn.execute(
            "SELECT sql FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
        ):
            digest.update(str(sql).encode("utf-8", "replace"))
        for spec in self.specs:
            low, high = self.id_range(spec.name)
            digest.update(f"|{spec.name}:{self.count(spec.name)}:{low}:{high}".encode())
        return digest.hexdigest()


def check_is_sqlite(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        raise SourceInvalid(f"{path} does not exist") from None
    except IsADirectoryError:
        raise SourceInvalid(f"{path} is a directory, not a SQLite file") from None
    except OSError as exc:
        raise SourceInvalid(f"{path} could not be opened: {exc.strerror}") from None
    if header != _SQLITE_MAGIC:
        raise SourceInvalid(f"{path} is not a SQLite database file")
