"""The PostgreSQL side of the import, one concept per module.

- `connection`: the DSN asyncpg takes, connections, the writers' session settings.
- `schema`: the target at Ballsy's migration head (or brought there by `--migrate`).
- `batches`: the import's records in the target (schema `ballsy_import`, out of the way
  of Ballsy's migrations): each batch is copied and its id range recorded in one
  transaction, so after a crash the target holds whole batches only and a re-run knows
  exactly which ranges are done; and the undoing of a failed import.
- `deferred`: indexes and foreign keys dropped for loading, recorded, and re-created.
- `verify`: sequences moved past the imported ids, counts and digests read back.

SQL text is built only from fixed identifiers (the models' metadata and constants);
every value is a bound parameter.
"""

from __future__ import annotations

from ballsy.importer.target.batches import (
    STATE_SCHEMA,
    Ranges,
    check_can_import,
    drop_state_if_unused,
    non_empty_tables,
    prepare_state,
    read_progress,
    stream_table,
    take_lock,
    undo_import,
    write_batch,
)
from ballsy.importer.target.connection import (
    asyncpg_dsn,
    connect,
    connect_dsn,
    connect_writer,
    may_skip_fk_triggers,
)
from ballsy.importer.target.deferred import (
    defer_foreign_keys,
    defer_indexes,
    deferred_foreign_keys,
    restore_foreign_keys,
    restore_indexes,
)
from ballsy.importer.target.schema import create_head_schema, current_revision, ensure_migrated
from ballsy.importer.target.verify import (
    bucket_digests,
    check_foreign_key,
    dangling_count,
    finish_table,
    move_sequences,
)

__all__ = [
    "STATE_SCHEMA",
    "Ranges",
    "asyncpg_dsn",
    "bucket_digests",
    "check_can_import",
    "check_foreign_key",
    "connect",
    "connect_dsn",
    "connect_writer",
    "create_head_schema",
    "current_revision",
    "dangling_count",
    "defer_foreign_keys",
    "defer_indexes",
    "deferred_foreign_keys",
    "drop_state_if_unused",
    "ensure_migrated",
    "finish_table",
    "may_skip_fk_triggers",
    "move_sequences",
    "non_empty_tables",
    "prepare_state",
    "read_progress",
    "restore_foreign_keys",
    "restore_indexes",
    "stream_table",
    "take_lock",
    "undo_import",
    "write_batch",
]
