"""Row converters: one SQLite row in, one PostgreSQL-ready row out, repairs logged.

Converters are stateless: any row converts the same way whichever batch or process it is
in (whole-file decisions, such as which duplicate keeps a unique value, are in the plan),
so batches run in parallel and a resumed import reaches the same rows and repairs: that is what
makes a resumed import reach the same rows and the same repairs as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ballsy.importer.plan import Plan
from ballsy.importer.rules import (
    INT4_MAX,
    INT4_MIN,
    UNKNOWN_TIME,
    RepairLog,
    boolean_or_none,
    float_or_none,
    int4_or_none,
    is_json_text,
    text_or_rule,
    timestamp_or_none,
    truncate_text,
)
from ballsy.importer.tables import Column, Kind, TableSpec

Row = tuple[Any, ...]
_fromisoformat = datetime.fromisoformat
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
Converter = Callable[[Sequence[Row]], list[Row]]


class _Fixer:
    """Column rules for one table; the fast path of each is a type check and a return."""

    def __init__(self, spec: TableSpec, log: RepairLog) -> None:
        self.table = spec.name
        self.log = log
        self.max_chars = {c.name: c.max_chars for c in spec.columns if c.max_chars}
        self.limit_chars = {c.name: c.limit_chars for c in spec.columns if c.limit_chars}

    def text(self, row_id: int, column: str, value: Any, *, required: bool = False) -> Any:
        if type(value) is str and "\x00" not in value:
            text: str | None = value
        else:
            text, rule = text_or_rule(value)
            if rule is not None:
                self.log.add(self.table, row_id, rule, column)
        if text is None and required:
            self.log.add(self.table, row_id, "null_text_emptied", column)
            return ""
        if text is None:
            return None
        limit = self.max_chars.get(column)
        if limit is not None and len(text) > limit:
            self.log.add(self.table, row_id, "too_long_cleared", column, f"{len(text)} > {limit}")
            return None
        limit = self.limit_chars.get(column)
        if limit is not None and len(text) > limit:
            self.log.add(
                self.table, row_id, "too_long_truncated", column, f"{len(text):,} > {limit:,}"
            )
            return truncate_text(text, limit)
        return text

    def timestamp(self, row_id: int, column: str, value: Any, *, required: bool) -> Any:
        if type(value) is str:  # the common case, inlined: ISO text, UTC unless offset
            try:
                parsed = _fromisoformat(value)
            except ValueError:
                pass
            else:
                if parsed.tzinfo is None:
                    # The same wall time in UTC: exact, and cheaper than `replace(tzinfo=…)`.
                    return _UTC_EPOCH + (parsed - _NAIVE_EPOCH)
                return parsed.astimezone(UTC)
        fallback = timestamp_or_none(value)
        if fallback is not None:
            return fallback
        if value is None and not required:
            return None
        rule = "null_timestamp_epoch" if value is None else "bad_timestamp_epoch"
        if not required:
            rule = "bad_timestamp_cleared"
        self.log.add(self.table, row_id, rule, column)
        return UNKNOWN_TIME if required else None

    def boolean(self, row_id: int, column: str, value: Any, *, missing: bool) -> bool:
        """`missing`: the source has no such column, so the default is no repair."""
        if type(value) is int:
            return value != 0
        parsed = boolean_or_none(value)
        if parsed is not None:
            return parsed
        if not missing:
            rule = "null_boolean_false" if value is None else "bad_boolean_false"
            self.log.add(self.table, row_id, rule, column)
        return False

    def number(self, row_id: int, column: str, value: Any) -> float | None:
        if value is None:
            return None
        parsed = float_or_none(value)
        if parsed is None:
            self.log.add(self.table, row_id, "bad_number_cleared", column)
        return parsed

    def json(self, row_id: int, column: str, value: Any) -> str | None:
        text: str | None = self.text(row_id, column, value)
        if text is not None and not is_json_text(text):
            self.log.add(self.table, row_id, "bad_json_cleared", column)
            return None
        return text

    def binary(self, row_id: int, column: str, value: Any) -> bytes | None:
        if type(value) is bytes or value is None:
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        # Text or a number where bytes belong (SQLite does not enforce column types):
        # no reading of it is safe, so it is dropped rather than guessed at.
        self.log.add(self.table, row_id, "bad_bytes_cleared", column)
        return None

    def unique(
        self, row_id: int, column: str, value: str | None, duplicates: frozenset[int]
    ) -> str | None:
        """`duplicates`: rows whose value an earlier row already holds (from the plan)."""
        if value is None:
            return None
        if row_id in duplicates:
            self.log.add(self.table, row_id, "duplicate_unique_cleared", column)
            return None
        return value


def _user_ref(fix: _Fixer, plan: Plan, row_id: int, value: Any) -> int:
    user_id = int4_or_none(value)
    if user_id is None:
        fix.log.add(fix.table, row_id, "unknown_user_placeholder", "user_id")
        return plan.resolve_user(value)
    if user_id in plan.orphan_user_ids:
        fix.log.add(fix.table, row_id, "orphan_user_placeholder", "user_id")
    return user_id


def _has_any(has: Callable[[str], bool], *columns: str) -> bool:
    return any(has(column) for column in columns)


def users_converter(
    spec: TableSpec, plan: Plan, log: RepairLog, *, has: Callable[[str], bool]
) -> Converter:
    fix = _Fixer(spec, log)
    duplicate_tokens = plan.duplicate_token_ids
    overrides = plan.username_overrides
    placeholder_missing = not has("is_placeholder")
    extras = _has_any(has, "token_hash", "token_issued_at", "last_seen_at", "last_result")

    def convert(rows: Sequence[Row]) -> list[Row]:
        if not extras:  # the prototype's schema: the extras are absent, hence NULL
            return [
                (
                    rid,
                    overrides.get(rid, username),
                    fix.timestamp(rid, "created_at", created, required=True),
                    None,
                    None,
                    None,
                    None,
                    fix.boolean(rid, "is_placeholder", placeholder, missing=placeholder_missing),
                )
                for rid, username, created, _, _, _, _, placeholder in rows
            ]
        return [
            (
                rid,
                overrides.get(rid, username),
                fix.timestamp(rid, "created_at", created, required=True),
                fix.unique(rid, "token_hash", fix.text(rid, "token_hash", token), duplicate_tokens),
                fix.timestamp(rid, "token_issued_at", issued, required=False),
                fix.timestamp(rid, "last_seen_at", seen_at, required=False),
                fix.text(rid, "last_result", last_result),
                fix.boolean(rid, "is_placeholder", placeholder, missing=placeholder_missing),
            )
            for rid, username, created, token, issued, seen_at, last_result, placeholder in rows
        ]

    return convert


def conversations_converter(
    spec: TableSpec, plan: Plan, log: RepairLog, *, has: Callable[[str], bool]
) -> Converter:
    fix = _Fixer(spec, log)
    orphans = plan.orphan_user_ids

    def convert(rows: Sequence[Row]) -> list[Row]:
        return [
            (
                rid,
                user_id
                if type(user_id) is int
                and user_id not in orphans
                and INT4_MIN <= user_id <= INT4_MAX
                else _user_ref(fix, plan, rid, user_id),
                fix.timestamp(rid, "started_at", started, required=True),
                None
                if last_activity is None
                else fix.timestamp(rid, "last_activity_at", last_activity, required=False),
            )
            for rid, user_id, started, last_activity in rows
        ]

    return convert


def messages_converter(
    spec: TableSpec, plan: Plan, log: RepairLog, *, has: Callable[[str], bool]
) -> Converter:
    fix = _Fixer(spec, log)
    orphans = plan.orphan_conversation_ids
    interrupted_missing = not has("interrupted")
    extras = _has_any(has, "turn_id", "interrupted")
    content_limit = spec.column("content").limit_chars or float("inf")

    def conversation_ref(rid: int, value: Any) -> int:
        conv_id = int4_or_none(value)
        if conv_id is None:
            log.add("messages", rid, "unknown_conversation_placeholder", "conversation_id")
            assert plan.unknown_conversation_id is not None
            return plan.unknown_conversation_id
        if conv_id in orphans:
            log.add("messages", rid, "orphan_conversation_placeholder", "conversation_id")
        return conv_id

    def convert(rows: Sequence[Row]) -> list[Row]:
        return [
            (
                rid,
                conv
                if type(conv) is int and conv not in orphans and INT4_MIN <= conv <= INT4_MAX
                else conversation_ref(rid, conv),
                is_user != 0
                if type(is_user) is int
                else fix.boolean(rid, "is_user", is_user, missing=False),
                content
                if type(content) is str and "\x00" not in content and len(content) <= content_limit
                else fix.text(rid, "content", content, required=True),
                fix.timestamp(rid, "created_at", created, required=True),
                fix.text(rid, "turn_id", turn_id) if extras else None,
                fix.boolean(rid, "interrupted", interrupted, missing=interrupted_missing)
                if extras
                else False,
            )
            for rid, conv, is_user, content, created, turn_id, interrupted in rows
        ]

    return convert


def _setting_text(fix: _Fixer, spec: TableSpec, rid: int, column: str, value: Any) -> str:
    text = fix.text(rid, column, value)
    if text is None:
        fix.log.add("settings", rid, "bad_setting_defaulted", column)
        return str(spec.column(column).default)  # the models' default
    return str(text)


def settings_converter(
    spec: TableSpec, plan: Plan, log: RepairLog, *, has: Callable[[str], bool]
) -> Converter:
    fix = _Fixer(spec, log)
    dropped = plan.dropped_settings_ids

    default_speed = int(spec.column("voice_speed").default)  # the models' default

    def speed(rid: int, value: Any) -> int:
        parsed = int4_or_none(value)
        if parsed is None:
            log.add("settings", rid, "bad_setting_defaulted", "voice_speed")
            return default_speed
        return parsed

    def convert(rows: Sequence[Row]) -> list[Row]:
        return [
            (
                rid,
                _user_ref(fix, plan, rid, user_id),
                _setting_text(fix, spec, rid, "voice", voice),
                speed(rid, voice_speed),
                _setting_text(fix, spec, rid, "theme", theme),
                fix.text(rid, "timezone", timezone),
            )
            for rid, user_id, voice, voice_speed, theme, timezone in rows
            if rid not in dropped
        ]

    return convert


def command_history_converter(
    spec: TableSpec, plan: Plan, log: RepairLog, *, has: Callable[[str], bool]
) -> Converter:
    fix = _Fixer(spec, log)
    duplicate_turns = plan.duplicate_turn_ids
    orphans = plan.orphan_user_ids
    interrupted_missing = not has("interrupted")
    extras = _has_any(
        has,
        "turn_id",
        "source",
        "family",
        "action",
        "action_data",
        "interrupted",
        "first_text_ms",
        "total_ms",
    )

    def user_ref(rid: int, user_id: Any) -> int:
        if type(user_id) is int and user_id not in orphans and INT4_MIN <= user_id <= INT4_MAX:
            return user_id
        return _user_ref(fix, plan, rid, user_id)

    limits = {c.name: c.limit_chars or c.max_chars or float("inf") for c in spec.columns}

    def text(rid: int, column: str, value: Any, required: bool = False) -> Any:
        if type(value) is str and "\x00" not in value and len(value) <= limits[column]:
            return value
        return fix.text(rid, column, value, required=required)

    def convert_lean(rows: Sequence[Row]) -> list[Row]:
        return [
            (
                rid,
                user_ref(rid, user_id),
                text(rid, "command", command, True),
                text(rid, "result", result),
                fix.timestamp(rid, "created_at", created, required=True),
                None,
                None,
                None,
                None,
                None,
                False,
                None,
                None,
            )
            for rid, user_id, command, result, created, *_ in rows
        ]

    def convert(rows: Sequence[Row]) -> list[Row]:
        if not extras:
            return convert_lean(rows)
        out = []
        for (
            rid, user_id, command, result, created, turn_id, source, family, action,
            action_data, interrupted, first_text_ms, total_ms,
        ) in rows:  # fmt: skip
            out.append(
                (
                    rid,
                    user_ref(rid, user_id),
                    fix.text(rid, "command", command, required=True),
                    fix.text(rid, "result", result),
                    fix.timestamp(rid, "created_at", created, required=True),
                    fix.unique(rid, "turn_id", fix.text(rid, "turn_id", turn_id), duplicate_turns),
                    fix.text(rid, "source", source),
                    fix.text(rid, "family", family),
                    fix.text(rid, "action", action),
                    fix.json(rid, "action_data", action_data),
                    fix.boolean(rid, "interrupted", interrupted, missing=interrupted_missing),
                    fix.number(rid, "first_text_ms", first_text_ms),
                    fix.number(rid, "total_ms", total_ms),
                )
            )
        return out

    return convert


# The table rules above, and the columns each handles, in the order it takes them.
CONVERTERS: dict[str, Callable[..., Converter]] = {
    "users": users_converter,
    "conversations": conversations_converter,
    "messages": messages_converter,
    "settings": settings_converter,
    "command_history": command_history_converter,
}
RULE_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": (
        "id",
        "username",
        "created_at",
        "token_hash",
        "token_issued_at",
        "last_seen_at",
        "last_result",
        "is_placeholder",
    ),
    "conversations": ("id", "user_id", "started_at", "last_activity_at"),
    "messages": (
        "id",
        "conversation_id",
        "is_user",
        "content",
        "created_at",
        "turn_id",
        "interrupted",
    ),
    "settings": ("id", "user_id", "voice", "voice_speed", "theme", "timezone"),
    "command_history": (
        "id",
        "user_id",
        "command",
        "result",
        "created_at",
        "turn_id",
        "source",
        "family",
        "action",
        "action_data",
        "interrupted",
        "first_text_ms",
        "total_ms",
    ),
}

# A required column the source lacks (or holds NULL in), with no default in the models.
_STAND_IN: dict[Kind, Any] = {
    "int": 0,
    "float": 0.0,
    "bool": False,
    "text": "",
    "json": None,
    "ts": UNKNOWN_TIME,
    "bytes": b"",
}


def column_converter(
    spec: TableSpec, column: Column, log: RepairLog, *, missing: bool
) -> Callable[[int, Any], Any]:
    """`(row id, value) -> value` for a column no table rule handles (a column or table
    the models gained): the kind's conversions and repairs, the models' default where
    the source has no such column (`missing`)."""
    fix = _Fixer(spec, log)
    name, required = column.name, column.required
    fallback = column.default if column.default is not None else None
    if fallback is None and required:
        fallback = _STAND_IN[column.kind]
    if missing:
        return lambda rid, value: fallback

    def defaulted(rid: int, value: Any) -> Any:
        if value is None and required:
            log.add(spec.name, rid, "null_value_defaulted", name)
            return fallback
        return value

    if column.kind == "text":
        return lambda rid, value: defaulted(rid, fix.text(rid, name, value))
    if column.kind == "json":
        return lambda rid, value: defaulted(rid, fix.json(rid, name, value))
    if column.kind == "bytes":
        return lambda rid, value: defaulted(rid, fix.binary(rid, name, value))
    if column.kind == "ts":
        return lambda rid, value: fix.timestamp(rid, name, value, required=required)
    if column.kind == "bool":
        return lambda rid, value: (
            None if value is None and not required else fix.boolean(rid, name, value, missing=False)
        )

    def number(rid: int, value: Any) -> Any:
        parsed: Any = fix.number(rid, name, value)
        if parsed is not None and column.kind == "int":
            parsed = int4_or_none(parsed)
            if parsed is None:
                log.add(spec.name, rid, "bad_number_cleared", name)
        return defaulted(rid, parsed)

    return number


def build_converter(
    spec: TableSpec, plan: Plan, log: RepairLog, *, has: Callable[[str], bool]
) -> Converter:
    """The converter of `spec`'s rows (in the spec's column order): the table's rule for
    the columns it knows (`RULE_COLUMNS`), and `column_converter` for every other column,
    so a column or table added to the models is imported without a new rule."""
    names = spec.column_names
    known = RULE_COLUMNS.get(spec.name, ())
    rule = CONVERTERS[spec.name](spec, plan, log, has=has) if known else None
    if rule is not None and names == known:
        return rule  # the usual case: the table's own rule, at full speed
    others = [
        (index, column_converter(spec, column, log, missing=not has(column.name)))
        for index, column in enumerate(spec.columns)
        if column.name not in known
    ]
    picks = [names.index(name) for name in known] if rule is not None else []

    def convert(rows: Sequence[Row]) -> list[Row]:
        by_id: dict[Any, Row] = {}
        if rule is not None:
            by_id = {row[0]: row for row in rule([tuple(r[i] for i in picks) for r in rows])}
        out = []
        for raw in rows:
            if rule is not None and raw[0] not in by_id:
                continue  # the rule dropped it (a duplicate settings row)
            ruled = dict(zip(known, by_id[raw[0]], strict=True)) if rule is not None else {}
            extra = {names[i]: convert_one(raw[0], raw[i]) for i, convert_one in others}
            out.append(tuple(ruled[n] if n in ruled else extra[n] for n in names))
        return out

    return convert
