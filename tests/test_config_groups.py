"""Settings grouped by area: every setting in exactly one group, each group exactly the
settings its `.env.example` section documents, and the parts built from their group."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from datetime import timedelta
from types import UnionType
from typing import Any

import pytest

from ballsy.config import Settings
from ballsy.config_groups import (
    GROUPS,
    AISettings,
    ConversationSettings,
    DatabaseSettings,
    MetricsSettings,
    RateLimitSettings,
    SettingsGroup,
    SpeechSettings,
)
from tests.env_example import documented

MakeSettings = Callable[..., Settings]
WHERE = "src/ballsy/config_groups.py"


def _owners() -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for group in GROUPS.values():
        for name in group.names():
            owners.setdefault(name, []).append(group.__name__)
    return owners


def _group_for_section(section: str) -> str | None:
    return next((g.__name__ for g in GROUPS.values() if section == g.SECTION), None)


def test_every_setting_belongs_to_exactly_one_group() -> None:
    owners = _owners()
    sections = {entry.name.lower(): entry.section for entry in documented()}
    problems = []
    for name in Settings.model_fields:
        found = owners.get(name, [])
        if len(found) > 1:
            problems.append(f"{name.upper()} is in {' and '.join(found)}; keep it in one")
        elif not found:
            section = sections.get(name)
            group = _group_for_section(section) if section else None
            if group is not None:
                where = f"add `{name}` (with its type) to {group} in {WHERE}"
            elif section is not None:
                where = (
                    f"its .env.example section {section!r} has no group: add a frozen group "
                    f"with SECTION = {section!r} to {WHERE} and GROUPS, and a property "
                    "for it on Settings"
                )
            else:
                where = "document it in .env.example under its area's section first"
            problems.append(f"{name.upper()} belongs to no settings group: {where}")
    assert problems == []
    assert set(owners) - set(Settings.model_fields) == set(), "groups name unknown settings"


def test_each_group_holds_exactly_its_sections_settings() -> None:
    by_section: dict[str, set[str]] = {}
    for entry in documented():
        if entry.name.lower() in Settings.model_fields:
            by_section.setdefault(entry.section, set()).add(entry.name.lower())
    for group in GROUPS.values():
        expected = by_section.get(group.SECTION, set())
        assert expected, f"{group.__name__}: no section {group.SECTION!r} in .env.example"
        held = set(group.names())
        assert held - expected == set(), (
            f"{group.__name__} holds settings .env.example documents under another section"
        )
        assert expected - held == set(), (
            f"documented under {group.SECTION!r} in .env.example, missing from {group.__name__}"
        )
    assert set(by_section) == {group.SECTION for group in GROUPS.values()}


def _as_group_type(annotation: Any) -> Any:
    """A setting's type as its group holds it: lists become tuples."""
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return tuple[item, ...]  # type: ignore[valid-type]
    return annotation


def _same_type(left: Any, right: Any) -> bool:
    if isinstance(left, UnionType) or isinstance(right, UnionType):
        return set(typing.get_args(left)) == set(typing.get_args(right))
    return bool(left == right)


def test_groups_hold_each_setting_with_its_type() -> None:
    for group in GROUPS.values():
        hints = typing.get_type_hints(group)
        for name in group.names():
            declared = _as_group_type(Settings.model_fields[name].annotation)
            assert _same_type(hints[name], declared), (
                f"{group.__name__}.{name} is {hints[name]}, the setting is {declared}"
            )


def test_settings_build_each_group_frozen_and_current(make_settings: MakeSettings) -> None:
    settings = make_settings(
        db_pool_size=7, cors_origins="https://a.example", operator_api_keys="k-1,k-2"
    )
    for prop, group in GROUPS.items():
        built = getattr(settings, prop)
        assert type(built) is group
        for name in group.names():
            value = getattr(settings, name)
            assert getattr(built, name) == (tuple(value) if isinstance(value, list) else value)
    database = settings.database
    with pytest.raises(dataclasses.FrozenInstanceError):
        database.db_pool_size = 1  # type: ignore[misc]
    assert settings.service.cors_origins == ("https://a.example",)
    assert len(settings.service.operator_api_keys) == 2
    # Built on access: a copy with other values hands out groups with those values.
    assert settings.model_copy(update={"db_pool_size": 9}).database.db_pool_size == 9
    assert settings.database.db_pool_size == 7


def test_derived_values_are_the_groups(make_settings: MakeSettings) -> None:
    settings = make_settings(environment="development", k_service="ballsy", host="10.0.0.5")
    assert settings.is_production is settings.service.is_production is True
    assert settings.allowed_hosts() == settings.service.allowed_hosts()
    assert settings.database_url_value() == settings.database.database_url_value()
    assert settings.uses_sqlite is settings.database.uses_sqlite is True
    assert settings.effective_ai_provider() == settings.ai.effective_ai_provider() == "none"


def _parameter_types(function: Callable[..., Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(function)
    hints.pop("return", None)
    return hints


def test_parts_are_built_from_their_group_never_the_whole_settings() -> None:
    from ballsy.api.routes import include_routes
    from ballsy.db.engine import build_engine
    from ballsy.providers.llm.gemini import GeminiProvider
    from ballsy.providers.llm.openai_compat import OpenAICompatProvider
    from ballsy.providers.llm.streaming import StreamLimits
    from ballsy.providers.ratelimit.limiter import RateLimiter
    from ballsy.providers.stt.whisper import WhisperSpeechToText
    from ballsy.wiring import build_stt, pipeline_config

    parts: dict[str, tuple[Callable[..., Any], set[type[SettingsGroup]]]] = {
        "database engine": (build_engine, {DatabaseSettings}),
        "rate limiter": (RateLimiter.__init__, {RateLimitSettings}),
        "rate limiter (with its store)": (RateLimiter.from_settings, {RateLimitSettings}),
        "AI stream limits": (StreamLimits.from_settings, {AISettings}),
        "Gemini": (GeminiProvider.from_settings, {AISettings}),
        "OpenAI-compatible": (OpenAICompatProvider.from_settings, {AISettings}),
        "speech-to-text": (WhisperSpeechToText.from_settings, {SpeechSettings}),
        "speech-to-text choice": (build_stt, {SpeechSettings}),
        "pipeline bounds": (pipeline_config, {ConversationSettings, AISettings}),
        "routes (metrics on or off)": (include_routes, {MetricsSettings}),
    }
    for part, (function, groups) in parts.items():
        types = set(_parameter_types(function).values())
        assert Settings not in types, f"{part} takes the whole Settings"
        assert groups <= types, f"{part} should take {groups}, takes {types}"


def test_a_part_uses_its_groups_values(make_settings: MakeSettings) -> None:
    from ballsy.wiring import pipeline_config

    settings = make_settings(
        max_command_chars=500, context_turns=3, conversation_idle_minutes=5, ai_temperature=0.2
    )
    config = pipeline_config(settings.conversation, settings.ai)
    assert (config.max_command_chars, config.context_turns) == (500, 3)
    assert config.conversation_idle == timedelta(minutes=5)
    assert config.generation.temperature == 0.2
