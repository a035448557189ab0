"""What the user heard: a spoken reply cut off by the user is stored as far as it played.

The door that played the reply (the WebSocket, which knows which sentences were sent
as audio and how far the client says it got) works out the heard text; this stores it
in place of the generated reply, marked interrupted, so history shows what was said
and the next AI turn's context knows the reply was cut off and where
(`prompting.cut_off`).
"""

from __future__ import annotations

from ballsy.assistant.identity import Identity
from ballsy.assistant.pipeline import Assistant
from ballsy.assistant.prompting import cut_off
from ballsy.db import repositories as repo
from ballsy.db.errors import database_error


async def store_heard(assistant: Assistant, identity: Identity, turn_id: str, heard: str) -> bool:
    """Replace the stored reply of `turn_id` with `heard`; False when there is no such
    turn of this identity's (another user's turn id changes nothing)."""
    if not identity.authenticated:
        # A tokenless scope keeps only recent (command, reply) pairs for the AI's context;
        # the turn cut off is its latest one.
        scope = assistant.scopes.get(identity.scope_key or "")
        if not scope.turns:
            return False
        command, _reply = scope.turns[-1]
        scope.turns[-1] = (command, cut_off(heard))
        return True
    assert identity.user_id is not None
    try:
        async with assistant.engine.begin() as conn:
            return await repo.replace_reply(
                conn, user_id=identity.user_id, turn_id=turn_id, response=heard
            )
    except Exception as exc:
        known = database_error(exc)
        if known is None:
            raise
        raise known from exc
