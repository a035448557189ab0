"""What a turn needs to know about a signed-in user, cached within the instance.

A local command ("2+2", "plus six", "what time is it") is answered from the user's
arithmetic memory and stored time zone. Reading them on every turn cost a database round
trip (and, on SQLite, two thread hand-offs) per turn; this cache keeps them per user.

Staying correct with several instances (or a settings change) — the rule:
the cache is only a guess. Every turn answered from it is stored with the memory it used,
and the turn writer checks that memory against the database inside the batch's
transaction (the user's row locked on PostgreSQL). If another instance changed it, the
turn is not stored (`StaleMemory`): the entry is dropped, the memory is read afresh and
the turn answered again. So a stale entry costs one extra read, never a wrong answer
stored. The conversation a turn joins is decided by the writer from the database, never
from the cache, and an AI turn reads its conversation's context from the database.
"""

from __future__ import annotations

from collections import OrderedDict

from ballsy.db.turn_store import Memory


class MemoryCache:
    """Least-recently-used (last_result, stored time zone) per user id, bounded."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[int, Memory] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, user_id: int) -> Memory | None:
        found = self._entries.get(user_id)
        if found is not None:
            self._entries.move_to_end(user_id)
        return found

    def put(self, user_id: int, memory: Memory) -> None:
        self._entries[user_id] = memory
        self._entries.move_to_end(user_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, user_id: int) -> None:
        self._entries.pop(user_id, None)
