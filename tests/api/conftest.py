"""An app and a client for API tests, on a fresh database of the requested kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ballsy.app import create_app
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.wiring import Overrides


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Build a started app (lifespan run) on `database_url`; closed at the end."""
    clients: list[TestClient] = []

    def factory(
        database_url: str | None = None,
        *,
        overrides: Overrides | None = None,
        **settings_overrides: Any,
    ) -> TestClient:
        values: dict[str, Any] = {"stt_enabled": False, "rate_limit_enabled": False}
        values.update(settings_overrides)
        if database_url is not None:
            values["database_url"] = database_url
            if not database_url.startswith("sqlite"):
                migrate.upgrade(database_url)
        settings = make_settings(**values)
        client = TestClient(create_app(settings, overrides=overrides))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


def new_user(client: TestClient) -> tuple[int, dict[str, str]]:
    """Create an anonymous session; return (user_id, auth headers)."""
    response = client.post("/api/session")
    assert response.status_code == 201, response.text
    body = response.json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}
