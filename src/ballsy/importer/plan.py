"""The whole-file decisions, made once before any row is written.

Which placeholder users and conversations to create, which usernames to rename, which
duplicate settings rows to drop. Everything here is deterministic in the source's content,
so an interrupted import that runs again makes exactly the same decisions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ballsy.importer.errors import SourceInvalid
from ballsy.importer.rules import (
    INT4_MAX,
    INT4_MIN,
    UNKNOWN_TIME,
    RepairLog,
    int4_or_none,
    text_or_rule,
    timestamp_or_none,
)
from ballsy.importer.source import SourceDb

# `# nosec B608` below: SQL text is built only from the importer's fixed table and
# column names (the table specs and constants), never from the source file's contents;
# every value travels as a bound parameter.

UNKNOWN_USERNAME = "legacy-orphan-unknown"


def orphan_username(user_id: int) -> str:
    """The username of the placeholder for a missing user id."""
    return f"legacy-orphan-{user_id}"


@dataclass(slots=True)
class Plan:
    orphan_user_ids: frozenset[int] = frozenset()
    unknown_user_id: int | None = None
    orphan_conversation_ids: frozenset[int] = frozenset()
    unknown_conversation_id: int | None = None
    # Placeholder rows, already in the target's column order, sorted by id.
    placeholder_users: list[tuple[Any, ...]] = field(default_factory=list)
    placeholder_conversations: list[tuple[Any, ...]] = field(default_factory=list)
    # Final usernames of the users whose name the import changes.
    username_overrides: dict[int, str] = field(default_factory=dict)
    dropped_settings_ids: frozenset[int] = frozenset()
    # Rows repeating an earlier row's token_hash / turn_id (the lowest id keeps it).
    duplicate_token_ids: frozenset[int] = frozenset()
    duplicate_turn_ids: frozenset[int] = frozenset()
    repairs: RepairLog = field(default_factory=RepairLog)

    def placeholders(self, table: str) -> list[tuple[Any, ...]]:
        """The placeholder rows planned for `table`, sorted by id."""
        if table == "users":
            return self.placeholder_users
        if table == "conversations":
            return self.placeholder_conversations
        return []

    def resolve_user(self, value: object) -> int:
        """The user id a reference ends up with: itself, or the unknown placeholder."""
        user_id = int4_or_none(value)
        if user_id is None:
            assert self.unknown_user_id is not None, "planned whenever a bad reference exists"
            return self.unknown_user_id
        return user_id


def _earliest(values: Iterable[object]) -> datetime:
    parsed = [ts for ts in (timestamp_or_none(v) for v in values) if ts is not None]
    return min(parsed, default=UNKNOWN_TIME)


def _check_ids(source: SourceDb) -> None:
    """Every id an integer PostgreSQL can hold, each once: ids are kept, so anything else
    would fail in PostgreSQL halfway through. Refused here, before anything is written."""
    for spec in source.specs:
        if not source.has(spec.name):
            continue
        low, high = source.id_range(spec.name)
        for bound in (low, high):
            if bound is not None and not (isinstance(bound, int) and INT4_MIN <= bound <= INT4_MAX):
                raise SourceInvalid(
                    f"{spec.name} has id {bound!r}, outside PostgreSQL's integer range; "
                    "this file cannot be imported with its ids preserved"
                )
        if source.is_rowid_table(spec.name):
            continue  # SQLite itself keeps these ids distinct integers
        bad = source.query(
            f"SELECT id FROM {spec.name} WHERE typeof(id) != 'integer' LIMIT 5"  # noqa: S608  # nosec B608
        )
        if bad:
            raise SourceInvalid(
                f"{spec.name} has ids that are not integers ({', '.join(repr(r[0]) for r in bad)}"
                "); ids are kept, so this file cannot be imported as it is"
            )
        repeated = source.query(
            f"SELECT id, count(*) FROM {spec.name} GROUP BY id HAVING count(*) > 1 "  # noqa: S608  # nosec B608
            "ORDER BY id LIMIT 5"
        )
        if repeated:
            listed = ", ".join(f"{row[0]} ({row[1]} rows)" for row in repeated)
            raise SourceInvalid(
                f"{spec.name} repeats ids ({listed}); ids are kept and must be unique, so "
                "this file cannot be imported as it is: remove or renumber the duplicates"
            )


def _dense_ids(source: SourceDb, table: str) -> tuple[int, int] | None:
    """(low, high) when the ids of `table` are exactly the integers low..high, each once
    (the usual case: an AUTOINCREMENT table nobody deleted from); None otherwise."""
    if not source.has(table):
        return None
    distinct, total, low, high, integers = source.query(
        f"SELECT count(DISTINCT id), count(*), min(id), max(id), "  # noqa: S608  # nosec B608
        f"sum(typeof(id) = 'integer') FROM {table}"
    )[0]
    if total and distinct == total == integers and high - low + 1 == total:
        return int(low), int(high)
    return None


def _dangling(
    source: SourceDb,
    table: str,
    column: str,
    parent: str,
    ts_candidates: tuple[str, ...],
    parent_ids_dense: tuple[int, int] | None,
) -> list[tuple[Any, Any]]:
    """(reference, earliest timestamp) for each reference in `table` with no parent row."""
    if not source.has(table, column):
        return []
    ts_column = source.source_column(table, ts_candidates)
    ts_expr = f'min("{ts_column}")' if ts_column else "NULL"
    parent_ids = f"SELECT id FROM {parent}" if source.has(parent) else "SELECT NULL WHERE 0"  # noqa: S608  # nosec B608
    # When the parent's ids are dense, an integer reference inside their range has its row:
    # only the other rows are grouped and looked up (five times faster on a clean file).
    # Either way, grouping first looks each distinct reference up once, not once per row;
    # the filter depends on the reference alone, so the result is the same.
    where = ""
    params: tuple[int, ...] = ()
    if parent_ids_dense is not None:
        where = f"""WHERE NOT (typeof("{column}") = 'integer' AND "{column}" BETWEEN ? AND ?) """
        params = parent_ids_dense
    return source.query(
        f'SELECT ref, earliest FROM (SELECT "{column}" AS ref, {ts_expr} AS earliest '  # noqa: S608  # nosec B608
        f'FROM {table} {where}GROUP BY "{column}") '
        f"WHERE ref IS NULL OR ref NOT IN ({parent_ids})",
        params,
    )


def build_plan(source: SourceDb) -> Plan:
    """Decide every whole-file repair; pure reads of `source`."""
    _check_ids(source)
    plan = Plan()
    log = plan.repairs

    dense = {parent: _dense_ids(source, parent) for parent in ("users", "conversations")}
    user_refs: dict[int, list[object]] = {}
    unknown_user_times: list[object] = []
    for table, ts in (
        ("conversations", ("started_at", "created_at", "timestamp")),
        ("settings", ()),
        ("command_history", ("created_at", "timestamp")),
    ):
        for ref, earliest in _dangling(source, table, "user_id", "users", ts, dense["users"]):
            ref_id = int4_or_none(ref)
            if ref_id is None:
                unknown_user_times.append(earliest)
            else:
                user_refs.setdefault(ref_id, []).append(earliest)

    conv_refs: dict[int, list[object]] = {}
    unknown_conv_times: list[object] = []
    for ref, earliest in _dangling(
        source,
        "messages",
        "conversation_id",
        "conversations",
        ("created_at", "timestamp"),
        dense["conversations"],
    ):
        ref_id = int4_or_none(ref)
        if ref_id is None:
            unknown_conv_times.append(earliest)
        else:
            conv_refs.setdefault(ref_id, []).append(earliest)

    plan.orphan_user_ids = frozenset(user_refs)
    plan.orphan_conversation_ids = frozenset(conv_refs)
    if unknown_conv_times:
        plan.unknown_conversation_id = _next_id(source, "conversations", conv_refs)
    if unknown_user_times or conv_refs or unknown_conv_times:
        plan.unknown_user_id = _next_id(source, "users", user_refs)

    _plan_usernames(source, plan, user_refs, unknown_user_times)
    _plan_conversations(plan, conv_refs, unknown_conv_times)
    _plan_settings(source, plan)
    plan.duplicate_token_ids = _later_duplicates(source, "users", "token_hash")
    plan.duplicate_turn_ids = _later_duplicates(source, "command_history", "turn_id")
    for user in plan.placeholder_users:
        log.add("users", user[0], "placeholder_user_created", detail=user[1])
    for conv in plan.placeholder_conversations:
        log.add("conversations", conv[0], "placeholder_conversation_created")
    return plan


def _later_duplicates(source: SourceDb, table: str, column: str) -> frozenset[int]:
    """Ids of rows whose `column` value a lower id already has."""
    if not source.has(table, column):
        return frozenset()
    rows = source.query(
        f'SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY "{column}" '  # noqa: S608  # nosec B608
        f'ORDER BY id) AS n FROM {table} WHERE "{column}" IS NOT NULL) WHERE n > 1'
    )
    return frozenset(row[0] for row in rows)


def _next_id(source: SourceDb, table: str, referenced: dict[int, list[object]]) -> int:
    _, high = source.id_range(table)
    candidate = max([high or 0, *referenced]) + 1
    if candidate > INT4_MAX:
        raise SourceInvalid(f"no free id left in {table} for a placeholder row")
    return candidate


def _user_row(user_id: int, username: str, created_at: datetime) -> tuple[Any, ...]:
    return (user_id, username, created_at, None, None, None, None, True)


def _plan_usernames(
    source: SourceDb,
    plan: Plan,
    user_refs: dict[int, list[object]],
    unknown_user_times: list[object],
) -> None:
    """Real users keep their names when they can; the rest get documented, unique ones."""
    log = plan.repairs
    rows: list[tuple[Any, ...]] = []
    if source.has("users", "username"):
        rows = source.query("SELECT id, username FROM users ORDER BY id")
    elif source.has("users"):
        rows = [(row[0], None) for row in source.query("SELECT id FROM users ORDER BY id")]
    limit = _username_limit(source)
    taken: set[str] = set()
    pending: list[tuple[int, str, str]] = []  # (id, base name, rule)
    for user_id, raw in rows:
        name, text_rule = text_or_rule(raw)
        if text_rule is not None:
            log.add("users", user_id, text_rule, "username")
        if name is None or not name.strip() or len(name) > limit:
            pending.append((user_id, f"legacy-user-{user_id}", "bad_username_renamed"))
        elif name in taken:
            pending.append((user_id, name, "duplicate_username_renamed"))
        else:
            taken.add(name)
            if text_rule is not None:
                plan.username_overrides[user_id] = name
    for user_id, base, rule in pending:
        plain_ok = rule == "bad_username_renamed" and base not in taken
        final = base if plain_ok else _free_name(base, user_id, taken, limit)
        taken.add(final)
        plan.username_overrides[user_id] = final
        log.add("users", user_id, rule, "username", detail=final)

    placeholders = [
        (user_id, orphan_username(user_id), _earliest(times))
        for user_id, times in sorted(user_refs.items())
    ]
    if plan.unknown_user_id is not None:
        placeholders.append((plan.unknown_user_id, UNKNOWN_USERNAME, _earliest(unknown_user_times)))
    for user_id, base, created_at in placeholders:
        name = base if base not in taken else _free_name(base, user_id, taken, limit)
        taken.add(name)
        plan.placeholder_users.append(_user_row(user_id, name, created_at))


def _username_limit(source: SourceDb) -> int:
    users = next(spec for spec in source.specs if spec.name == "users")
    return users.column("username").max_chars or 150


def _free_name(base: str, user_id: int, taken: set[str], limit: int) -> str:
    """`base~id` (then `base~id~2`, …), cut so it fits; bounded by the number of names."""
    for attempt in range(1, len(taken) + 2):
        suffix = f"~{user_id}" if attempt == 1 else f"~{user_id}~{attempt}"
        candidate = base[: limit - len(suffix)] + suffix
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    raise AssertionError("unreachable: more attempts than taken names")


def _plan_conversations(
    plan: Plan, conv_refs: dict[int, list[object]], unknown_conv_times: list[object]
) -> None:
    owner = plan.unknown_user_id
    for conv_id, times in sorted(conv_refs.items()):
        plan.placeholder_conversations.append((conv_id, owner, _earliest(times), None))
    if plan.unknown_conversation_id is not None:
        plan.placeholder_conversations.append(
            (plan.unknown_conversation_id, owner, _earliest(unknown_conv_times), None)
        )


def _plan_settings(source: SourceDb, plan: Plan) -> None:
    """One settings row per user: the first (lowest id) one, as the prototype read it."""
    if not source.has("settings", "user_id"):
        return
    kept: dict[int, int] = {}
    dropped: set[int] = set()
    for settings_id, raw_user in source.query("SELECT id, user_id FROM settings ORDER BY id"):
        user_id = plan.resolve_user(raw_user)
        if user_id in kept:
            dropped.add(settings_id)
            plan.repairs.add(
                "settings",
                settings_id,
                "duplicate_settings_dropped",
                "user_id",
                detail=f"kept settings {kept[user_id]}",
            )
        else:
            kept[user_id] = settings_id
    plan.dropped_settings_ids = frozenset(dropped)
