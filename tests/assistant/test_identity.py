"""Identity helpers: tokens are hashed, caches and scopes are bounded and expire."""

from __future__ import annotations

import asyncio

import pytest

from ballsy.assistant.identity import (
    Identity,
    TokenCache,
    TokenlessScopes,
    TokenLookups,
    hash_token,
    new_token,
)


def test_tokens_are_unguessable_and_hashed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 40 for t in tokens)
    token = next(iter(tokens))
    assert hash_token(token) != token and len(hash_token(token)) == 64


def test_token_cache_expires_and_is_bounded() -> None:
    cache = TokenCache(ttl_seconds=30, max_entries=3)
    cache.put("a", 1, now=0)
    assert cache.get("a", now=29) == 1
    assert cache.get("a", now=31) is None
    for index, key in enumerate("bcde"):
        cache.put(key, index, now=100)
    assert cache.get("b", now=100) is None  # evicted, oldest first
    assert [cache.get(k, now=100) for k in "cde"] == [1, 2, 3]


def test_tokenless_callers_are_limited_by_address_not_by_their_id() -> None:
    one = Identity.tokenless("1", "203.0.113.7", connection="a")
    other = Identity.tokenless("999", "203.0.113.7", connection="b")
    assert one.limit_key == other.limit_key == "ip:203.0.113.7"
    assert Identity.user(5).limit_key == "u:5"


def test_tokenless_scopes_differ_by_connection_even_with_one_client_id() -> None:
    one = Identity.tokenless("ws:1", "203.0.113.7", connection="first")
    other = Identity.tokenless("ws:1", "203.0.113.7", connection="second")
    assert one.scope_key != other.scope_key


def test_tokenless_scopes_expire_and_are_bounded() -> None:
    scopes = TokenlessScopes(ttl_seconds=10, max_entries=2, max_turns=2)
    scope = scopes.get("a", now=0)
    for n in range(5):
        scopes.remember_turn(scope, f"c{n}", f"r{n}")
    assert scope.turns == [("c3", "r3"), ("c4", "r4")]
    assert scopes.get("a", now=5) is scope
    assert scopes.get("a", now=20) is not scope  # expired: a fresh scope
    scopes.get("b", now=20)
    scopes.get("c", now=20)
    assert len(scopes) == 2


# --- token lookups: lookups arriving together share one query --------------------------------


class _Users:
    """The database side of `TokenLookups`: known token hashes, and each query asked."""

    def __init__(self, known: dict[str, int], *, fail_first: bool = False) -> None:
        self.known = known
        self.queries: list[list[str]] = []
        self.fail_first = fail_first

    async def fetch(self, token_hashes: list[str]) -> dict[str, int]:
        self.queries.append(list(token_hashes))
        if self.fail_first and len(self.queries) == 1:
            raise ConnectionError("the database went away")
        return {h: self.known[h] for h in token_hashes if h in self.known}


async def test_a_thousand_lookups_at_once_share_a_few_queries() -> None:
    users = _Users({f"hash-{i}": i for i in range(1000)})
    lookups = TokenLookups(users.fetch, max_batch=500)
    names = [*(f"hash-{i}" for i in range(1000)), "nobody"]
    results = await asyncio.wait_for(
        asyncio.gather(*(lookups.user_id(name) for name in names)), timeout=30
    )
    assert results == [*range(1000), None]
    # One query per 500 waiting lookups (at most one more for a first lookup that came
    # alone), each token asked exactly once.
    assert len(users.queries) <= 3 and max(len(query) for query in users.queries) <= 500
    assert sorted(h for query in users.queries for h in query) == sorted(names)


async def test_the_same_token_twice_is_asked_once_and_answered_twice() -> None:
    users = _Users({"h": 7})
    lookups = TokenLookups(users.fetch)
    answers = await asyncio.wait_for(
        asyncio.gather(lookups.user_id("h"), lookups.user_id("h")), timeout=30
    )
    assert list(answers) == [7, 7]
    assert users.queries == [["h"]]


async def test_a_failed_query_fails_its_lookups_and_the_next_one_is_asked_again() -> None:
    users = _Users({"a": 1, "b": 2}, fail_first=True)
    lookups = TokenLookups(users.fetch)
    together = await asyncio.wait_for(
        asyncio.gather(lookups.user_id("a"), lookups.user_id("b"), return_exceptions=True),
        timeout=30,
    )
    assert [type(result) for result in together] == [ConnectionError, ConnectionError]
    assert await asyncio.wait_for(lookups.user_id("a"), timeout=30) == 1
    assert len(users.queries) == 2


async def test_a_caller_that_gives_up_leaves_the_others_answered() -> None:
    users = _Users({"a": 1, "b": 2})
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow_fetch(token_hashes: list[str]) -> dict[str, int]:
        asked.set()
        await release.wait()  # the query is held until the test lets it answer
        return await users.fetch(token_hashes)

    lookups = TokenLookups(slow_fetch)
    patient = asyncio.create_task(lookups.user_id("a"))
    await asyncio.wait_for(asked.wait(), timeout=30)
    with pytest.raises(TimeoutError):  # gives up while its query is held
        await asyncio.wait_for(lookups.user_id("b"), timeout=0.05)
    other = asyncio.create_task(lookups.user_id("b"))
    release.set()
    assert list(await asyncio.wait_for(asyncio.gather(patient, other), timeout=30)) == [1, 2]
