"""Memory survives a restart: history, settings, AI context and the last result."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from ballsy.wiring import Overrides
from tests.scripted_llm import Script, ScriptedLLM


def test_everything_survives_a_new_app_instance(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    first_llm = ScriptedLLM(Script(chunks=["Paris ", "is lovely."]))
    first = make_client(database_url, overrides=Overrides(llm=first_llm, use_llm_override=True))
    session = first.post("/api/session").json()
    user_id, auth = session["user_id"], {"Authorization": f"Bearer {session['token']}"}
    first.post("/api/command", json={"command": "what is 7 times 8"}, headers=auth)
    first.post("/api/command", json={"command": "tell me about paris in spring"}, headers=auth)
    first.put(
        f"/api/settings/{user_id}", json={"theme": "dark", "timezone": "Asia/Tokyo"}, headers=auth
    )
    first.__exit__(None, None, None)

    second_llm = ScriptedLLM(Script(chunks=["Yes."]))
    second = make_client(database_url, overrides=Overrides(llm=second_llm, use_llm_override=True))
    history = second.get(f"/api/history/{user_id}", headers=auth).json()["history"]
    assert [h["command"] for h in history] == ["tell me about paris in spring", "what is 7 times 8"]
    settings = second.get(f"/api/settings/{user_id}", headers=auth).json()["settings"]
    assert settings["theme"] == "dark" and settings["timezone"] == "Asia/Tokyo"
    assert (
        "62"
        in second.post("/api/command", json={"command": "+ 6"}, headers=auth).json()["response"]
    )
    second.post("/api/command", json={"command": "and in autumn"}, headers=auth)
    context = [m.content for m in second_llm.calls[0]]
    assert "tell me about paris in spring" in context
    assert "Paris is lovely." in context
