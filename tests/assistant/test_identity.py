"""Identity helpers: tokens are hashed, caches and scopes are bounded and expire."""

from __future__ import annotations

from ballsy.assistant.identity import Identity, TokenCache, TokenlessScopes, hash_token, new_token


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
