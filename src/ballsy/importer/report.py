"""What an import did: per-table counts and checksums, and every repaired row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ballsy.importer.rules import Repair


@dataclass(slots=True)
class TableResult:
    """One table: what the source holds, what was written, what the target holds."""

    name: str
    source_rows: int
    expected_rows: int = 0
    # Rows the batches read from the source: every one of `source_rows`, or the table
    # cannot be verified (nothing can vouch for rows that were never read).
    read_rows: int = 0
    # MD5 hex of the table's bucket digests (see `checksum`): the source side's and the
    # target's; and the id ranges whose digests differ.
    expected_checksum: str = ""
    written_rows: int = 0
    target_rows: int | None = None
    target_checksum: str | None = None
    mismatched_ranges: list[tuple[int, int]] = field(default_factory=list)

    @property
    def verified(self) -> bool | None:
        """True/False once compared with the target; None when not compared (dry run)."""
        if self.target_rows is None:
            return None
        return (
            self.read_rows == self.source_rows
            and self.target_rows == self.expected_rows
            and self.target_checksum == self.expected_checksum
            and not self.mismatched_ranges
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
    # Per foreign key ("messages.conversation_id"), rows pointing at no parent row.
    dangling_references: dict[str, int] = field(default_factory=dict)
    # False when the role could skip PostgreSQL's per-row foreign-key triggers during COPY
    # (the foreign keys are then dropped and re-added once both their tables are loaded,
    # PostgreSQL checking every row; what does not resolve is in `dangling_references`).
    foreign_keys_checked_per_row: bool = True

    @property
    def ok(self) -> bool:
        """Every table matched and every reference resolves (a dry run compares nothing)."""
        tables_match = all(table.verified is not False for table in self.tables)
        return tables_match and not any(self.dangling_references.values())

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
            "dangling_references": self.dangling_references,
            "foreign_keys_checked_per_row": self.foreign_keys_checked_per_row,
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
            f"{target_rows} | {t.expected_checksum} | {verdict} |"
        )
    lines.append("")
    for t in report.tables:
        if t.read_rows != t.source_rows and t.target_rows is not None:
            lines += [f"{t.name}: {t.read_rows:,} of its {t.source_rows:,} rows were read.", ""]
        if t.mismatched_ranges:
            ranges = ", ".join(f"{low}–{high}" for low, high in t.mismatched_ranges)
            lines += [f"{t.name}: the content differs in ids {ranges}.", ""]
    if report.dangling_references:
        dangling = sum(report.dangling_references.values())
        verdict = (
            "every reference resolves"
            if not dangling
            else (
                "**DANGLING REFERENCES**: "
                + ", ".join(
                    f"{key} {count:,}" for key, count in report.dangling_references.items() if count
                )
            )
        )
        how = (
            "per row while copying, and"
            if report.foreign_keys_checked_per_row
            else ("when re-added after loading (PostgreSQL checking every row):")
        )
        lines += [
            f"Foreign keys ({len(report.dangling_references)}) checked {how} {verdict}.",
            "",
        ]
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
