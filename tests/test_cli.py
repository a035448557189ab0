"""The `ballsy` command: version, migrations, tokens for existing users, ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ballsy import __version__
from ballsy.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BALLSY_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STT_ENABLED", "false")
    monkeypatch.setenv("AI_PROVIDER", "none")
    return tmp_path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ballsy {__version__}"


def test_db_upgrade_current_downgrade(env: Path) -> None:
    assert runner.invoke(app, ["db", "current"]).output.startswith("current: none")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    current = runner.invoke(app, ["db", "current"]).output
    assert current.split()[1] == current.split()[3]  # current equals head
    assert runner.invoke(app, ["db", "downgrade", "--revision", "base"]).exit_code == 0
    assert runner.invoke(app, ["db", "current"]).output.startswith("current: none")


def test_issue_token_lets_an_existing_user_sign_in(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from ballsy.app import create_app
    from ballsy.config import load_settings

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = load_settings(
        environment="test", rate_limit_enabled=False, trusted_hosts="testserver"
    )
    with TestClient(create_app(settings)) as client:
        username = client.post("/api/session").json()["username"]
    missing = runner.invoke(app, ["users", "issue-token", "nobody-here"])
    assert missing.exit_code == 1
    issued = runner.invoke(app, ["users", "issue-token", username])
    assert issued.exit_code == 0, issued.output
    lines = dict(line.split(": ", 1) for line in issued.output.strip().splitlines())
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/session", headers={"Authorization": f"Bearer {lines['token']}"})
        assert me.status_code == 200
        assert me.json() == {"user_id": int(lines["user_id"]), "username": username}


def test_ask_answers_through_the_pipeline(env: Path) -> None:
    result = runner.invoke(app, ["ask", "what is 6 times 7"])
    assert result.exit_code == 0, result.output
    assert "42" in result.output
    no_ai = runner.invoke(app, ["ask", "why do cats purr"])
    assert no_ai.exit_code == 0
    assert "GEMINI_API_KEY" in no_ai.output
    assert "[search]" in no_ai.output
