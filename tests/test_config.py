"""Settings: production refuses unsafe values, secrets are redacted."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from ballsy.cli import app as cli_app
from ballsy.config import ConfigError, Settings

PG = "postgresql://ballsy:s3cr3t-pass@db.internal:5432/ballsydb"


def production(make_settings: Callable[..., Settings], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "database_url": PG,
        "cors_origins": "https://ballsy.example.com",
        "metrics_token": "metrics-token-value",
        "gemini_api_key": "AIza-test-key-123456",
    }
    values.update(overrides)
    return make_settings(**values)


def test_safe_production_config_is_accepted(make_settings: Callable[..., Settings]) -> None:
    production(make_settings).check_production()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"cors_origins": "*"}, "CORS_ORIGINS"),
        ({"cors_origins": "https://a.example.com,*"}, "CORS_ORIGINS"),
        ({"database_url": None}, "DATABASE_URL"),
        ({"database_url": "sqlite:///prod.db"}, "DATABASE_URL"),
        ({"ai_provider": "gemini", "gemini_api_key": None}, "GEMINI_API_KEY"),
        ({"ai_provider": "openai"}, "OPENAI_BASE_URL"),
        ({"metrics_token": None}, "METRICS_TOKEN"),
    ],
)
def test_unsafe_production_settings_are_refused_by_name(
    make_settings: Callable[..., Settings], overrides: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        production(make_settings, **overrides).check_production()
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_cloud_run_means_production(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(environment="development", k_service="ballsy")
    assert settings.is_production
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        settings.check_production()


def test_vertex_mode_needs_no_key(make_settings: Callable[..., Settings]) -> None:
    production(
        make_settings, ai_provider="gemini", gemini_api_key=None, google_genai_use_vertexai=True
    ).check_production()


def test_cors_origins_are_comma_separated(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(cors_origins=" https://a.example.com , https://b.example.com,")
    assert settings.cors_origins == ["https://a.example.com", "https://b.example.com"]


def test_ai_provider_auto_resolution(make_settings: Callable[..., Settings]) -> None:
    assert make_settings().effective_ai_provider() == "none"
    assert make_settings(gemini_api_key="k-123456").effective_ai_provider() == "gemini"
    assert (
        make_settings(
            openai_base_url="http://127.0.0.1:11434/v1", openai_model="llama3"
        ).effective_ai_provider()
        == "openai"
    )


def test_config_check_redacts_every_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    secrets = {
        "GEMINI_API_KEY": "AIzaSyTopSecretGeminiKey0000",
        "OPENAI_API_KEY": "sk-openai-secret-value-1111",
        "METRICS_TOKEN": "metrics-secret-token-2222",
        "OPERATOR_API_KEYS": "operator-key-one-3333,operator-key-two-4444",
        "DATABASE_URL": "postgresql://ballsy:p%40ss%3Aw0rd%2F%3F%23%25@db:5432/ballsydb",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BALLSY_ENV_FILE", str(tmp_path / "absent.env"))
    result = CliRunner().invoke(cli_app, ["config", "check", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    as_text = CliRunner().invoke(cli_app, ["config", "check"])
    assert as_text.exit_code == 0, as_text.output
    assert 'DATABASE_URL="postgresql://ballsy:***@db:5432/ballsydb"' in as_text.output
    for value in [*secrets.values(), "p@ss:w0rd/?#%", "operator-key-one-3333"]:
        assert value not in as_text.output
    assert shown["GEMINI_API_KEY"] == "**********"
    assert shown["DATABASE_URL"] == "postgresql://ballsy:***@db:5432/ballsydb"
    assert "***" in shown["DATABASE_URL"]
    for value in [*secrets.values(), "p@ss:w0rd/?#%", "operator-key-one-3333"]:
        assert value not in result.output
    for part in secrets["OPERATOR_API_KEYS"].split(","):
        assert part not in result.output


def test_config_check_exits_2_on_unsafe_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("BALLSY_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    result = CliRunner().invoke(cli_app, ["config", "check"])
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.output


def test_the_former_anonymous_scope_names_still_set_the_tokenless_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANONYMOUS_SCOPE_TTL_SECONDS", "120")
    monkeypatch.setenv("ANONYMOUS_SCOPE_MAX_ENTRIES", "55")
    old = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (old.tokenless_scope_ttl_seconds, old.tokenless_scope_max_entries) == (120, 55)
    monkeypatch.setenv("TOKENLESS_SCOPE_TTL_SECONDS", "300")  # the new name wins
    assert Settings(_env_file=None).tokenless_scope_ttl_seconds == 300  # type: ignore[call-arg]
