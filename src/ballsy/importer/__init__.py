"""Import a SQLite Ballsy database into PostgreSQL: verified, resumable and fast.

The tables, their columns and foreign keys come from the SQLAlchemy models (see
`tables`); the command line is `ballsy db import-sqlite` (see `cli`).

Sources: the prototype's `voice_assistant.db` (legacy schema: `timestamp` columns, 0/1 or
text booleans, no Ballsy extras) and Ballsy's own SQLite schema (the target's columns).
Target: a PostgreSQL database at Ballsy's migration head (`--migrate` upgrades it) with no
Ballsy rows yet, or one holding an interrupted import of the same file.

How it works: a read-only pass plans the whole-file repairs and cuts every table into
id ranges of `--batch-size` rows (default 20,000), while the target is checked (and
migrated with `--migrate`) and the worker processes (`--workers`, default 2-4) start.
Each worker reads an id range from SQLite, converts it, packs it into PostgreSQL's binary
COPY format, hashes those bytes, and COPYs them in one transaction together with a record
of the range in `ballsy_import.batches`: a killed import leaves whole batches only, and a
re-run writes only the ranges not recorded (a completed one writes nothing). Where the
role may (superuser, or `cloudsqlsuperuser` on Cloud SQL), the COPY skips PostgreSQL's
per-row foreign-key triggers, since the plan has resolved every reference, and every
table loads at once, largest first.
The foreign keys are then dropped (recorded in `ballsy_import.deferred_foreign_keys`)
and each re-added, which makes PostgreSQL check it over every row, once both its tables
are loaded: the catalog never shows a foreign key as validated over rows nobody checked.
Otherwise tables load in foreign-key order, each once the tables it references are
complete. Into an empty target, the tables load without their indexes (all but the
primary keys that foreign keys refer to): they are dropped and recorded in
`ballsy_import.deferred_indexes` in one transaction, and re-created, each with its record
deleted in the same transaction, as soon as their table is loaded; a killed import's
re-run re-creates whatever is still recorded. Ids are kept and the id sequences are moved
past them. Per table, the row count and, per batch id range, a content digest (see
`checksum`: the MD5 of the range's binary COPY stream, as the workers sent it and as
PostgreSQL copies the stored rows out again) are compared; any mismatch (the report names
the id ranges) or dangling reference makes the command exit 1.

Conversions (not reported): text timestamps with or without fractional seconds, `T` or
space, with an offset (converted) or without (assumed UTC), and Unix-second numbers, all
become aware UTC; booleans from 0/1 (non-zero is true) or words (true/false, t/f,
yes/no, y/n, on/off; any case); text is kept exactly, code point for code point, and
binary values (the long-term memories' vectors) byte for byte.

Repair rules (each reported with table, row id, column and rule name):
- `placeholder_user_created` / `orphan_user_placeholder`: a row whose `user_id` names no
  user keeps that id, and a placeholder user is created with it: username
  `legacy-orphan-<id>`, `is_placeholder` true, `created_at` the earliest timestamp among
  the rows pointing to it (the epoch when none is readable).
- `unknown_user_placeholder`: a `user_id` that is NULL or not an integer PostgreSQL can
  hold goes to one placeholder user `legacy-orphan-unknown` with the next free id.
- `placeholder_conversation_created` / `orphan_conversation_placeholder`: a message whose
  conversation is missing keeps its `conversation_id`; a placeholder conversation with
  that id is created, owned by `legacy-orphan-unknown`. `unknown_conversation_placeholder`:
  a NULL or non-integer `conversation_id` goes to one placeholder conversation with the
  next free id, owned by the same user.
- `duplicate_username_renamed`: usernames are unique; the lowest id keeps the name, later
  ones become `<name>~<id>`. `bad_username_renamed`: a NULL, blank or over-150-character
  username becomes `legacy-user-<id>`. Placeholder names take the same `~<id>` suffix if a
  real user already has them.
- `duplicate_settings_dropped`: one settings row per user; the lowest id (the row the
  prototype read) is kept, the others are not imported and are listed.
- `bad_setting_defaulted`: a NULL or unusable `voice`, `voice_speed` or `theme` takes the
  models' default (Daniel, 180, light).
- `null_text_emptied`: a NULL `messages.content` or `command_history.command` becomes "".
- `null_timestamp_epoch` / `bad_timestamp_epoch`: a missing or unreadable required
  timestamp becomes 1970-01-01T00:00:00Z; `bad_timestamp_cleared`: an unreadable optional
  one becomes NULL.
- `null_boolean_false` / `bad_boolean_false`: a missing or unreadable boolean is false.
- `nul_replaced`, `invalid_utf8_replaced`, `blob_decoded`, `number_as_text`: PostgreSQL
  text cannot hold U+0000 or invalid UTF-8; those become U+FFFD; BLOBs and numbers found
  in text columns are decoded / written as text.
- `too_long_cleared`, `duplicate_unique_cleared`, `bad_json_cleared`, `bad_number_cleared`:
  an optional value longer than its column, a repeated `token_hash` or `turn_id` (the
  lowest id keeps it), invalid `action_data` JSON, or a non-numeric latency becomes NULL;
  `bad_bytes_cleared`: text or a number in a binary column is dropped, not guessed at
  (a NOT NULL one then takes `null_value_defaulted`: empty bytes).
- `too_long_truncated`: text longer than the product's limit for its column (the models'
  `info["max_chars"]`: a command 1,000 characters, a reply or message 32,000) is cut to
  that length, ending with " [… cut by the SQLite import from N characters]".
- `null_value_defaulted`: a NULL in a NOT NULL column no table rule handles (one the
  models gained) takes the models' default.

Refused before anything is written (exit 2, the target untouched): ids that repeat or are
not integers PostgreSQL can hold, since ids are kept. A source table may be a view; it is
read like a table, and a table is verified only when every one of its source rows was read.
If PostgreSQL refuses rows anyway, the import is undone (`ImportRejected`): its rows and
records are deleted and the indexes and foreign keys it dropped re-created.

Imported users have no bearer token (`token_hash` NULL) unless the source is Ballsy's
own schema, whose token hashes are carried over so existing browsers stay signed in.
An imported user claims their data with `ballsy users issue-token USERNAME`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ballsy.importer.cli import main
    from ballsy.importer.errors import ImportFailed
    from ballsy.importer.options import DEFAULT_BATCH_SIZE
    from ballsy.importer.progress import Progress, SilentProgress, TerminalProgress
    from ballsy.importer.report import ImportReport, TableResult, format_report
    from ballsy.importer.run import import_sqlite

# Where each public name lives. They load on first use, so that a worker process, which
# imports only `workers` and what it needs, does not load the CLI, the coordinator and
# SQLAlchemy with this package. Measured: importing `workers` takes about 160 ms (245
# modules); loading these homes eagerly would add about 225 ms (155 modules) to every
# worker's start.
_HOMES = {
    "main": "cli",
    "ImportFailed": "errors",
    "Progress": "progress",
    "SilentProgress": "progress",
    "TerminalProgress": "progress",
    "ImportReport": "report",
    "TableResult": "report",
    "format_report": "report",
    "DEFAULT_BATCH_SIZE": "options",
    "import_sqlite": "run",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ImportFailed",
    "ImportReport",
    "Progress",
    "SilentProgress",
    "TableResult",
    "TerminalProgress",
    "format_report",
    "import_sqlite",
    "main",
]
