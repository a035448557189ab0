"""Long-term memory: facts a user asked Ballsy to remember, recalled by meaning.

    "remember that my sister is called Alice"  -> stored with its sentence vector
    any AI turn                                -> the most relevant facts, within a token
                                                  budget, join the system prompt
    "forget that" / "forget …" / "forget everything"

Storage: `remembered_facts` (db/memories.py), every statement scoped to the owner, so a
user's memory is never read for anyone else; rows go with the user (ON DELETE CASCADE).
Meaning: all-MiniLM-L6-v2 in numpy (providers/embedding), off the event loop.

The cache: ranking needs every vector of the user, so each user's vectors are kept in
one numpy matrix per instance (bounded by `cache_max_vectors`, least recently used
dropped first). It is only trusted after one cheap indexed read of the user's
(count, newest id) — which changes on every add or delete, by any instance — so a fact
stored or forgotten elsewhere is seen on the next turn. Writes here drop the entry.
A user with no facts costs that one read and no embedding at all.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ballsy.commands.base import LocalReply
from ballsy.commands.memory import MemoryIntent, second_person
from ballsy.db import memories as store
from ballsy.db.errors import database_error
from ballsy.db.models import MEMORY_MAX_CHARS
from ballsy.errors import BadRequest, FeatureUnavailable
from ballsy.providers.embedding.encoder import Embedder

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("ballsy.memory")

PROMPT_HEADER = (
    "Facts this user asked you to remember (their own words; use them when relevant, "
    "and do not mention this list otherwise):"
)
# Above this similarity a new fact repeats one already stored.
_DUPLICATE = 0.97
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class MemoryOptions:
    """How the long-term memory behaves (built from settings in wiring.py)."""

    prompt_tokens: int = 150
    max_per_user: int = 1000
    cache_max_vectors: int = 200_000
    # Facts below this cosine similarity never join a prompt (unrelated ones score
    # about 0 to 0.15 with this model).
    min_score: float = 0.15
    # "forget <something>" deletes the best match only at or above this similarity.
    forget_min_score: float = 0.45


@dataclass(frozen=True, slots=True)
class Recalled:
    id: int
    text: str
    score: float
    tokens: int


@dataclass(slots=True)
class _Facts:
    """One user's facts as the ranking needs them."""

    version: store.Version
    ids: list[int]
    texts: list[str]
    tokens: list[int]
    matrix: Any  # (n, 384) float32, unit rows

    @property
    def size(self) -> int:
        return len(self.ids)


class LongTermMemory:
    """Remember, recall and forget per user; shared by every connection of the instance."""

    def __init__(
        self,
        engine: AsyncEngine,
        embedder: Embedder | None,
        options: MemoryOptions,
        *,
        unavailable: str | None = None,
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.options = options
        self.unavailable = unavailable if embedder is None else None
        self._cache: OrderedDict[int, _Facts] = OrderedDict()
        self._cached_vectors = 0

    @property
    def available(self) -> bool:
        return self.embedder is not None

    @contextlib.asynccontextmanager
    async def _db(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection (in a committed transaction with `write`); database failures
        surface as the client errors of `ballsy.db.errors` (503 when unreachable)."""
        try:
            opened = self.engine.begin() if write else self.engine.connect()
            async with opened as conn:
                yield conn
        except Exception as exc:
            known = database_error(exc)
            if known is None:
                raise
            raise known from exc

    def _model(self) -> Embedder:
        if self.embedder is None:
            raise FeatureUnavailable(self.unavailable or "Long-term memory is switched off.")
        return self.embedder

    # --- writing ---------------------------------------------------------------------

    async def remember(self, user_id: int, fact: str) -> tuple[bool, str]:
        """Store `fact`; returns (stored, the fact). Not stored when it repeats one."""
        embedder = self._model()
        fact = _clean(fact)
        embedded = await embedder.embed(fact)
        known = await self._facts(user_id)
        if known.size >= self.options.max_per_user:
            raise BadRequest(
                f"You have {known.size} remembered facts, the most I keep; "
                "ask me to forget some first."
            )
        if known.size:
            best = await self._rank(known, embedded.vector, limit=1)
            if best and best[0].score >= _DUPLICATE:
                return False, best[0].text
        async with self._db(write=True) as conn:
            await store.add_fact(
                conn,
                user_id,
                text=fact,
                embedding=embedded.vector.tobytes(),
                model=embedder.model_name,
                tokens=embedded.tokens,
            )
        self._drop(user_id)
        return True, fact

    async def forget_newest(self, user_id: int) -> str | None:
        self._model()
        async with self._db(write=True) as conn:
            newest = await store.newest_fact(conn, user_id)
            if newest is None:
                return None
            deleted = await store.delete_facts(conn, user_id, [newest[0]])
        self._drop(user_id)
        return deleted[0] if deleted else None

    async def forget_matching(self, user_id: int, query: str) -> str | None:
        """Delete the fact closest in meaning to `query`, if close enough; its text."""
        found = await self.recall(user_id, _clean(query), limit=1)
        if not found or found[0].score < self.options.forget_min_score:
            return None
        async with self._db(write=True) as conn:
            deleted = await store.delete_facts(conn, user_id, [found[0].id])
        self._drop(user_id)
        return deleted[0] if deleted else None

    async def forget_all(self, user_id: int) -> int:
        self._model()
        async with self._db(write=True) as conn:
            removed = await store.delete_all_facts(conn, user_id)
        self._drop(user_id)
        return removed

    # --- reading ---------------------------------------------------------------------

    async def everything(self, user_id: int) -> list[str]:
        self._model()
        return list((await self._facts(user_id)).texts)

    async def recall(self, user_id: int, query: str, *, limit: int = 5) -> list[Recalled]:
        """The user's facts closest in meaning to `query`, best first."""
        embedder = self._model()
        known = await self._facts(user_id)
        if not known.size:
            return []
        embedded = await embedder.embed(query[:MEMORY_MAX_CHARS])
        return await self._rank(known, embedded.vector, limit=limit)

    async def for_prompt(self, user_id: int, query: str) -> list[str]:
        """The facts for an AI prompt about `query`: most relevant first, within the
        token budget, none below `min_score`. Costs one indexed read for a user with no
        facts (or with the memory unavailable, nothing)."""
        if self.embedder is None or self.options.prompt_tokens <= 0:
            return []
        known = await self._facts(user_id)
        if not known.size:
            return []
        embedded = await self.embedder.embed(query[:MEMORY_MAX_CHARS])
        ranked = await self._rank(known, embedded.vector, limit=64)
        chosen: list[str] = []
        budget = self.options.prompt_tokens
        for fact in ranked:
            if fact.score < self.options.min_score:
                break
            if fact.tokens <= budget:
                chosen.append(fact.text)
                budget -= fact.tokens
        return chosen

    async def _rank(self, known: _Facts, query: Any, *, limit: int) -> list[Recalled]:
        assert self.embedder is not None
        pairs = await self.embedder.run(_top, known.matrix, query, limit)
        return [
            Recalled(known.ids[i], known.texts[i], score, known.tokens[i]) for i, score in pairs
        ]

    # --- the cache -------------------------------------------------------------------

    async def _facts(self, user_id: int) -> _Facts:
        async with self._db() as conn:
            current = await store.version(conn, user_id)
            cached = self._cache.get(user_id)
            if cached is not None and cached.version == current:
                self._cache.move_to_end(user_id)
                return cached
            rows = await store.all_facts(conn, user_id) if current.count else []
        model = self.embedder.model_name if self.embedder else ""
        usable = [row for row in rows if row.model == model]
        facts = _Facts(
            version=current,
            ids=[row.id for row in usable],
            texts=[row.text for row in usable],
            tokens=[row.tokens for row in usable],
            matrix=None,
        )
        if usable and self.embedder is not None:
            facts.matrix = await self.embedder.run(_stack, [row.embedding for row in usable])
        self._store_entry(user_id, facts)
        return facts

    def _store_entry(self, user_id: int, facts: _Facts) -> None:
        self._drop(user_id)
        self._cache[user_id] = facts
        self._cached_vectors += facts.size
        while self._cached_vectors > self.options.cache_max_vectors and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cached_vectors -= evicted.size

    def _drop(self, user_id: int) -> None:
        gone = self._cache.pop(user_id, None)
        if gone is not None:
            self._cached_vectors -= gone.size

    # --- spoken commands ---------------------------------------------------------------

    async def answer(self, user_id: int | None, intent: MemoryIntent) -> LocalReply:
        """The spoken reply to a memory command (carrying it out first)."""
        if self.embedder is None:
            return LocalReply(
                f"I can't remember things on this server yet. {self.unavailable or ''}".strip(),
                family="memory",
            )
        if user_id is None:
            return LocalReply(
                "I can only remember things for a signed-in user; open Ballsy in the "
                "browser to get one.",
                family="memory",
            )
        handlers: dict[str, Callable[[int, str], Any]] = {
            "remember": self._say_remember,
            "list": self._say_list,
            "forget_last": self._say_forget_last,
            "forget_match": self._say_forget_match,
            "forget_all": self._say_forget_all,
        }
        text: str = await handlers[intent.kind](user_id, intent.text)
        return LocalReply(text, family="memory")

    async def _say_remember(self, user_id: int, fact: str) -> str:
        try:
            stored, text = await self.remember(user_id, fact)
        except BadRequest as exc:
            return exc.message
        if not stored:
            return f"I already remember that {second_person(text)}."
        return f"Got it. I'll remember that {second_person(text)}."

    async def _say_list(self, user_id: int, _: str) -> str:
        facts = await self.everything(user_id)
        if not facts:
            return (
                "I don't remember anything about you yet. "
                'Say "remember that …" to tell me something.'
            )
        shown = [second_person(f) for f in facts[-10:]]
        more = f" And {len(facts) - 10} older things." if len(facts) > 10 else ""
        return "I remember that " + "; that ".join(shown) + "." + more

    async def _say_forget_last(self, user_id: int, _: str) -> str:
        gone = await self.forget_newest(user_id)
        if gone is None:
            return "There's nothing to forget: I don't remember anything about you."
        return f"Done. I've forgotten that {second_person(gone)}."

    async def _say_forget_match(self, user_id: int, query: str) -> str:
        gone = await self.forget_matching(user_id, query)
        if gone is None:
            return f'I don\'t remember anything like "{second_person(query)}".'
        return f"Done. I've forgotten that {second_person(gone)}."

    async def _say_forget_all(self, user_id: int, _: str) -> str:
        removed = await self.forget_all(user_id)
        if not removed:
            return "There's nothing to forget: I don't remember anything about you."
        if removed == 1:
            return "Done. I've forgotten the one thing you told me to remember."
        return f"Done. I've forgotten all {removed} things you told me to remember."


def prompt_section(facts: list[str]) -> str:
    """The system prompt's memory paragraph ("" with no facts)."""
    if not facts:
        return ""
    return PROMPT_HEADER + "\n" + "\n".join(f"- {fact}" for fact in facts)


def _clean(text: str) -> str:
    cleaned = " ".join(_CONTROL.sub(" ", text).split())
    if not cleaned:
        raise BadRequest("There is nothing to remember in that.")
    if len(cleaned) > MEMORY_MAX_CHARS:
        raise BadRequest(
            f"That is too long to remember ({len(cleaned)} characters; "
            f"the limit is {MEMORY_MAX_CHARS})."
        )
    return cleaned


# --- numpy work, run in the embedder's threads ----------------------------------------


def _stack(blobs: list[bytes]) -> np.ndarray[Any, Any]:
    import numpy as np

    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)


def _top(matrix: Any, query: Any, limit: int) -> list[tuple[int, float]]:
    """(row, cosine) of the `limit` rows closest to `query`, best first (rows and query
    are unit vectors, so the dot product is the cosine)."""
    import numpy as np

    scores = matrix @ query
    if limit < len(scores):
        candidates = np.argpartition(-scores, limit)[:limit]
    else:
        candidates = np.arange(len(scores))
    best = candidates[np.argsort(-scores[candidates], kind="stable")]
    return [(int(i), float(scores[i])) for i in best]
