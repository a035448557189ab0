"""Ballsy works on imported data: an imported user claims their identity and reads it back.

The prototype had no identities, so imported users carry no token. An operator runs
`ballsy users issue-token USERNAME` (a real process here) and hands the printed token to
that person; with it as a Bearer token, their history and settings come back through the
API exactly as the prototype stored them, and nobody else's do.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ballsy.db import migrate
from ballsy.importer import import_sqlite
from tests.db.legacy_factory import build_legacy_db

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]


def _issue_token(database_url: str, username: str, cwd: Path) -> tuple[int, str]:
    """Run `python -m ballsy users issue-token USERNAME`; return (user id, token)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ballsy", "users", "issue-token", username],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines() if ": " in line)
    return int(lines["user_id"]), lines["token"]


def _source_rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def test_an_imported_user_claims_their_history_and_settings(
    tmp_path: Path, postgres_url: str, make_client: Callable[..., Any]
) -> None:
    facts = build_legacy_db(tmp_path / "voice_assistant.db", users=12, commands=120)
    migrate.upgrade(postgres_url)
    report = asyncio.run(import_sqlite(facts.path, postgres_url))
    assert report.ok

    # User 2 has a Unicode name and, like everyone imported, no token yet.
    username = _source_rows(facts.path, "SELECT username FROM users WHERE id = 2")[0][0]
    user_id, token = _issue_token(postgres_url, username, tmp_path)
    assert user_id == 2

    client = make_client(postgres_url)
    auth = {"Authorization": f"Bearer {token}"}
    expected = _source_rows(
        facts.path,
        "SELECT id, command, result FROM command_history WHERE user_id = 2 "
        "ORDER BY id DESC LIMIT 10",
    )
    assert expected, "the factory gives every user some history"
    history = client.get(f"/api/history/{user_id}", params={"limit": 10}, headers=auth)
    assert history.status_code == 200, history.text
    items = history.json()["history"]
    assert [(i["id"], i["command"], i["result"]) for i in items] == expected
    assert all(i["user_id"] == user_id for i in items)
    assert all(i["timestamp"].endswith("+00:00") for i in items)

    voice, speed, theme = _source_rows(
        facts.path, "SELECT voice, voice_speed, theme FROM settings WHERE user_id = 2"
    )[0]
    settings = client.get(f"/api/settings/{user_id}", headers=auth)
    assert settings.status_code == 200, settings.text
    assert settings.json()["settings"] == {
        "user_id": user_id,
        "voice": voice or "Daniel",
        "voice_speed": speed or 180,
        "theme": theme or "light",
        "timezone": None,  # the prototype had no time zone
    }

    # The token opens only this user's data; no token opens nothing.
    assert client.get("/api/history/1", headers=auth).status_code in (403, 404)
    assert client.get(f"/api/history/{user_id}").status_code == 401
