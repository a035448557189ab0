"""What an import did: per-table counts and checksums, and every repaired row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ballsy.db.importer.rules import Repair


@dataclass(slots=True)
class TableResult:
    """One table: what the source holds, what was written, what the target holds."""

    name: str
    source_rows: int
    expected_rows: int = 0
    expected_checksum: int = 0
    written_rows: int = 0
    target_rows: int | None = None
    target_checksum: int | None = None

    @property
    def verified(self) -> bool | None:
        """True/False once compared with the target; None when not compared (dry run)."""
        if self.target_rows is None:
            return None
        return (
            self.target_rows == self.expected_rows
            and self.target_checksum == self.expected_checksum
        )


@dataclass(slots=True)
class ImportReport:
    source: str
    schema_kind: str
    target: str
    dry_run: bool
    tables: list[TableResult] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every table matched (a dry run compares nothing and is ok)."""
        return all(table.verified is not False for table in self.tables)

    @property
    def written_rows(self) -> int:
        return sum(table.written_rows for table in self.tables)

    @property
    def expected_rows(self) -> int:
        return sum(table.expected_rows for table in self.tables)

    def repaired_ids(self, table: str, rule: str) -> list[int]:
        return sorted({r.row_id for r in self.repairs if r.table == table and r.rule == rule})

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "schema_kind": self.schema_kind,
            "target": self.target,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "elapsed_s": round(self.elapsed_s, 3),
            "tables": [{**asdict(table), "verified": table.verified} for table in self.tables],
            "repairs": [asdict(repair) for repair in self.repairs],
        }


def compress_ids(ids: Iterable[int]) -> str:
    """`1-3, 7, 9-10`: every id, runs collapsed."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = prev = None
    for value in ordered:
        if start is None:
            start = prev = value
        elif prev is not None and value == prev + 1:
            prev = value
        else:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = prev = value
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def format_report(report: ImportReport) -> str:
    """The report as markdown: the verification table, then repairs grouped by rule."""
    mode = "dry run (nothing written)" if report.dry_run else "import"
    lines = [
        f"## SQLite import: {mode}",
        "",
        f"- source: `{report.source}` ({report.schema_kind} schema)",
        f"- target: `{report.target}`",
        f"- rows written this run: {report.written_rows:,} of {report.expected_rows:,}"
        f" in {report.elapsed_s:.2f} s",
        "",
        "| table | source rows | expected rows | written now | target rows | checksum | verified |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for t in report.tables:
        target_rows = "–" if t.target_rows is None else f"{t.target_rows:,}"
        verdict = {None: "not compared", True: "yes", False: "**MISMATCH**"}[t.verified]
        lines.append(
            f"| {t.name} | {t.source_rows:,} | {t.expected_rows:,} | {t.written_rows:,} | "
            f"{target_rows} | {t.expected_checksum:x} | {verdict} |"
        )
    lines.append("")
    if not report.repairs:
        lines.append("No row needed a repair.")
        return "\n".join(lines)
    groups: dict[tuple[str, str, str], list[int]] = {}
    for repair in report.repairs:
        key = (repair.table, repair.rule, repair.column or "")
        groups.setdefault(key, []).append(repair.row_id)
    lines += [
        f"### Repairs ({len(report.repairs):,})",
        "",
        "| table | rule | column | rows | ids |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for (table, rule, column), ids in sorted(groups.items()):
        lines.append(f"| {table} | {rule} | {column or '–'} | {len(ids):,} | {compress_ids(ids)} |")
    return "\n".join(lines)
