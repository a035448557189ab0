"""The tables the import carries, derived from the SQLAlchemy models' metadata.

The models (`ballsy.db.models`) are the one definition of the schema: every table there
is imported unless its `info` says `imported: False` (state that is not user data, such
as the rate-limit buckets). A table's spec gives its columns in the table's order, each
with its kind (how it is converted and encoded), whether it is NOT NULL, its `String`
length (PostgreSQL enforces it) and the product's limit from the column's
`info["max_chars"]` (longer imported text is cut, see `rules.truncate_text`), and its
foreign keys. Specs are plain, picklable values: the coordinator derives them once and
hands them to the worker processes, which never load SQLAlchemy.

Both source schemas are read through these specs: the prototype's (`timestamp` columns,
no Ballsy extras) and Ballsy's own SQLite schema (the target's columns, one to one). A
target column takes the first of its source names the SQLite table has (`LEGACY_NAMES`
adds the prototype's older names); a column the source lacks reads as NULL and gets the
target's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table

Kind = Literal["int", "text", "bool", "ts", "float", "json", "bytes"]

# The prototype's names for columns Ballsy renamed, tried after the target's own name.
LEGACY_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("conversations", "started_at"): ("created_at", "timestamp"),
    ("messages", "created_at"): ("timestamp",),
    ("command_history", "created_at"): ("timestamp",),
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    sources: tuple[str, ...]
    required: bool  # NOT NULL in the target
    max_chars: int | None = None  # a `String(n)` column's length, which PostgreSQL enforces
    limit_chars: int | None = None  # the product's limit (`info["max_chars"]`): cut beyond
    default: Any = None  # the models' scalar default, for a source without the column


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    # (column, referenced table) per foreign key; each references the parent's `id`.
    references: tuple[tuple[str, str], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(column.kind for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _kind(table: str, column: Any) -> Kind:
    from sqlalchemy import (
        JSON,
        Boolean,
        DateTime,
        Float,
        Integer,
        LargeBinary,
        String,
        TypeDecorator,
    )

    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    for python_type, kind in (
        (Boolean, "bool"),
        (Integer, "int"),
        (Float, "float"),
        (DateTime, "ts"),
        (JSON, "json"),
        (String, "text"),
        (LargeBinary, "bytes"),
    ):
        if isinstance(sql_type, python_type):
            return kind  # type: ignore[return-value]
    raise TypeError(f"{table}.{column.name}: the importer has no rule for {sql_type!r}")


def _scalar_default(column: Any) -> Any:
    default = column.default
    value = default.arg if default is not None and default.is_scalar else None
    return value if value is None or type(value) in (bool, int, float, str) else None


def table_spec(table: Table) -> TableSpec:
    """The spec of one model table."""
    from sqlalchemy import String

    columns = []
    for column in table.columns:
        length = column.type.length if isinstance(column.type, String) else None
        # Plain `str`s throughout (SQLAlchemy's names are a `str` subclass): the specs are
        # pickled to the workers, which would otherwise load SQLAlchemy to unpickle them.
        name = str(column.name)
        columns.append(
            Column(
                name=name,
                kind=_kind(str(table.name), column),
                sources=(name, *LEGACY_NAMES.get((str(table.name), name), ())),
                required=not column.nullable,
                max_chars=length,
                limit_chars=column.info.get("max_chars"),
                default=_scalar_default(column),
            )
        )
    references = tuple(
        (str(next(iter(fk.columns)).name), str(fk.referred_table.name))
        for fk in sorted(table.foreign_key_constraints, key=lambda fk: str(fk.name))
    )
    return TableSpec(str(table.name), tuple(columns), references)


def specs_from_metadata(metadata: MetaData) -> tuple[TableSpec, ...]:
    """Every imported table's spec, each after the tables it references."""
    return tuple(
        table_spec(table) for table in metadata.sorted_tables if table.info.get("imported", True)
    )


@cache
def model_specs() -> tuple[TableSpec, ...]:
    """The specs of Ballsy's models (loads SQLAlchemy: the coordinator's, not a worker's;
    about 0.29 s and 262 modules, measured after importing this module)."""
    from ballsy.db.models import Base

    return specs_from_metadata(Base.metadata)


def by_name(specs: Sequence[TableSpec]) -> dict[str, TableSpec]:
    return {spec.name: spec for spec in specs}


def foreign_keys(specs: Sequence[TableSpec]) -> list[tuple[str, str, str]]:
    """(table, column, parent) of every foreign key among `specs`."""
    return [(spec.name, column, parent) for spec in specs for column, parent in spec.references]


def load_order(specs: Sequence[TableSpec]) -> list[str]:
    """Table names, each after the tables it references; among equals, the one with the
    longest chain of tables referencing it first (it holds up the most)."""
    children: dict[str, list[str]] = {spec.name: [] for spec in specs}
    for table, _, parent in foreign_keys(specs):
        children[parent].append(table)

    def height(name: str) -> int:
        return 1 + max((height(child) for child in children[name]), default=0)

    level: dict[str, int] = {}
    for spec in specs:  # already parents first
        level[spec.name] = 1 + max((level[p] for _, p in spec.references), default=-1)
    return sorted(children, key=lambda name: (level[name], -height(name), name))
