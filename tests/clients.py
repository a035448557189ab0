"""Small helpers for tests that talk to the app."""

from __future__ import annotations

from fastapi.testclient import TestClient


def new_user(client: TestClient) -> tuple[int, dict[str, str]]:
    """Create an anonymous session; return (user_id, auth headers)."""
    response = client.post("/api/session")
    assert response.status_code == 201, response.text
    body = response.json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}
