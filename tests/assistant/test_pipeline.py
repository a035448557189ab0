"""The pipeline itself, without HTTP: the events a turn emits and the rows it stores.

A turn is TurnStarted, TextDelta* (AI chat only), TurnEnded; TurnEnded comes only after
the turn is stored. The AI is `ScriptedLLM`, a provider at the `LLMProvider` boundary;
the database is real (SQLite, and PostgreSQL where the test takes `database_url`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ballsy.assistant.events import Event, TextDelta, TurnEnded, TurnStarted
from ballsy.assistant.identity import Identity, TokenlessScopes
from ballsy.assistant.pipeline import Assistant, PipelineConfig, TurnRequest
from ballsy.assistant.prompting import PromptBuilder
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import CommandHistory, Message, User
from ballsy.db.turn_store import TurnWriter
from ballsy.errors import BadRequest, RateLimited
from ballsy.metrics import Metrics
from ballsy.providers.llm.base import ChatMessage, LLMProvider
from tests.scripted_llm import Script, ScriptedLLM

SYSTEM_PROMPT = "You are Ballsy."


@dataclass
class Rig:
    """An Assistant on a migrated database, and what a test inspects."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    metrics: Metrics
    scopes: TokenlessScopes
    build: Callable[..., Assistant]

    async def new_user(self) -> int:
        async with self.sessions() as session:
            user = await repo.create_anonymous_user(session, token_hash=secrets.token_hex(32))
            await session.commit()
            return user.id

    async def history(self, user_id: int) -> list[CommandHistory]:
        async with self.sessions() as session:
            # The stored rows themselves, newest first (the API's read is cut to fit).
            rows = await session.scalars(
                select(CommandHistory)
                .where(CommandHistory.user_id == user_id)
                .order_by(CommandHistory.id.desc())
                .limit(50)
            )
            return list(rows)

    async def messages(self, turn_id: str) -> list[tuple[bool, str, bool]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Message.is_user, Message.content, Message.interrupted)
                .where(Message.turn_id == turn_id)
                .order_by(Message.id)
            )
            return [(bool(u), c, bool(i)) for u, c, i in rows.all()]

    async def last_result(self, user_id: int) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(select(User.last_result).where(User.id == user_id))


class Unlimited:
    """Budgets that never refuse: these tests are about the pipeline, not the limits."""

    async def check_ai(self, *, user_id: int | None, address: str | None) -> None:
        return None


async def _rig(settings: Settings, url: str) -> AsyncIterator[Rig]:
    await asyncio.to_thread(migrate.upgrade, url)
    engine = build_engine(settings.database, url=url)
    sessions = build_sessionmaker(engine)
    metrics = Metrics()
    scopes = TokenlessScopes(ttl_seconds=600, max_entries=10, max_turns=6)

    def build(llm: LLMProvider | None = None, **kwargs: Any) -> Assistant:
        parts: dict[str, Any] = {
            "engine": engine,
            "sessions": sessions,
            "prompts": PromptBuilder(system_prompt=SYSTEM_PROMPT, context_max_chars=4000),
            "config": PipelineConfig(),
            "scopes": scopes,
            "metrics": metrics,
            "limits": Unlimited(),
        }
        return Assistant(llm=llm, **(parts | kwargs))

    try:
        yield Rig(engine, sessions, metrics, scopes, build)
    finally:
        await engine.dispose()


@pytest.fixture
async def rig(make_settings: Callable[..., Settings], sqlite_url: str) -> AsyncIterator[Rig]:
    """SQLite only: for what does not depend on the database engine."""
    async for value in _rig(make_settings(), sqlite_url):
        yield value


@pytest.fixture
async def any_rig(make_settings: Callable[..., Settings], database_url: str) -> AsyncIterator[Rig]:
    """Once on SQLite, once on PostgreSQL (marked `postgres`)."""
    async for value in _rig(make_settings(), database_url):
        yield value


async def _events(assistant: Assistant, identity: Identity, text: str) -> list[Event]:
    return [event async for event in assistant.run_turn(TurnRequest(identity, text))]


def _metric(metrics: Metrics, name: str, labels: dict[str, str]) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# --- local commands ------------------------------------------------------------------


async def test_a_local_command_is_started_then_ended_and_stored(any_rig: Rig) -> None:
    user_id = await any_rig.new_user()
    assistant = any_rig.build()

    events = await _events(assistant, Identity.user(user_id), "  what is 7 times 8 ")

    started, ended = events
    assert started == TurnStarted(started.turn_id, "local")
    assert ended == TurnEnded(started.turn_id, "That's 56.", None, None, "local", "arithmetic")
    [row] = await any_rig.history(user_id)
    assert (row.turn_id, row.command, row.result) == (
        ended.turn_id,
        "what is 7 times 8",
        "That's 56.",
    )
    assert (row.source, row.family, row.interrupted) == ("local", "arithmetic", False)
    assert row.total_ms is not None and row.first_text_ms is not None
    assert 0 <= row.first_text_ms <= row.total_ms
    assert await any_rig.messages(ended.turn_id) == [
        (True, "what is 7 times 8", False),
        (False, "That's 56.", False),
    ]
    # The arithmetic memory is stored and read back by the next turn.
    assert await any_rig.last_result(user_id) == "56/1"
    *_, follow_up = await _events(assistant, Identity.user(user_id), "plus 2")
    assert isinstance(follow_up, TurnEnded) and follow_up.response == "That's 58."
    assert await any_rig.last_result(user_id) == "58/1"
    assert (
        _metric(
            any_rig.metrics, "ballsy_commands_total", {"source": "local", "family": "arithmetic"}
        )
        == 2
    )


async def test_the_turn_is_stored_before_it_is_acknowledged(rig: Rig) -> None:
    user_id = await rig.new_user()
    llm = ScriptedLLM(Script(chunks=["Fine, ", "thanks."]))
    seen_stored: list[tuple[str, int]] = []
    request = TurnRequest(Identity.user(user_id), "how do you feel about rain")
    async for event in rig.build(llm=llm).run_turn(request):
        # The consumer holds the generator here: what is in the database is what was
        # written before this event was emitted.
        seen_stored.append((type(event).__name__, len(await rig.history(user_id))))
    # Streamed while nothing is stored; acknowledged only once it is.
    assert seen_stored == [
        ("TurnStarted", 0),
        ("TextDelta", 0),
        ("TextDelta", 0),
        ("TurnEnded", 1),
    ]
    # A local answer is complete at once: stored before its end is emitted too.
    local: list[tuple[str, int]] = []
    async for event in rig.build().run_turn(TurnRequest(Identity.user(user_id), "hello")):
        local.append((type(event).__name__, len(await rig.history(user_id))))
    assert local[-1] == ("TurnEnded", 2)


async def test_a_given_turn_id_is_kept(rig: Rig) -> None:
    user_id = await rig.new_user()
    request = TurnRequest(Identity.user(user_id), "hello", turn_id="client-turn-1")
    events = [event async for event in rig.build().run_turn(request)]
    assert {event.turn_id for event in events} == {"client-turn-1"}
    assert [row.turn_id for row in await rig.history(user_id)] == ["client-turn-1"]


@pytest.mark.parametrize("text", ["", "   ", 42, "x" * 1001])
async def test_a_bad_command_is_refused_before_any_event_and_nothing_is_stored(
    rig: Rig, text: Any
) -> None:
    user_id = await rig.new_user()
    with pytest.raises(BadRequest):
        await _events(rig.build(llm=ScriptedLLM()), Identity.user(user_id), text)
    assert await rig.history(user_id) == []


async def test_a_tokenless_caller_is_answered_from_its_scope_and_writes_no_rows(rig: Rig) -> None:
    user_id = await rig.new_user()  # a real user, who must not see the tokenless turns
    llm = ScriptedLLM(Script(chunks=["Fine, ", "thanks."]))
    assistant = rig.build(llm=llm)
    caller = Identity.tokenless("client-1", "203.0.113.7", connection="socket-1")

    *_, first = await _events(assistant, caller, "what is 6 times 7")
    *_, second = await _events(assistant, caller, "plus 1")
    *_, chat = await _events(assistant, caller, "how is your day going")

    assert isinstance(first, TurnEnded) and first.response == "That's 42."
    assert isinstance(second, TurnEnded) and second.response == "That's 43."
    assert isinstance(chat, TurnEnded) and chat.response == "Fine, thanks."
    # The AI saw the scope's earlier turns as context.
    assert llm.calls[0][1:5] == [
        ChatMessage("user", "what is 6 times 7"),
        ChatMessage("assistant", "That's 42."),
        ChatMessage("user", "plus 1"),
        ChatMessage("assistant", "That's 43."),
    ]
    async with rig.sessions() as session:
        assert await session.scalar(select(CommandHistory.id).limit(1)) is None
    assert await rig.last_result(user_id) is None


# --- AI replies ----------------------------------------------------------------------


async def test_an_ai_chat_streams_its_deltas_then_the_whole_reply(any_rig: Rig) -> None:
    user_id = await any_rig.new_user()
    llm = ScriptedLLM(Script(chunks=["Once ", "", "upon ", "a time. "]))
    assistant = any_rig.build(llm=llm)

    events = await _events(assistant, Identity.user(user_id), "tell me a story about a cat")

    turn_id = events[0].turn_id
    assert events == [
        TurnStarted(turn_id, "ai"),
        TextDelta(turn_id, "Once "),  # the empty chunk is not passed on
        TextDelta(turn_id, "upon "),
        TextDelta(turn_id, "a time. "),
        TurnEnded(turn_id, "Once upon a time.", None, None, "ai", "chat", model="scripted-1"),
    ]
    assert llm.calls == [
        [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", "tell me a story about a cat")]
    ]
    [row] = await any_rig.history(user_id)
    assert (row.source, row.family, row.result, row.interrupted) == (
        "ai",
        "chat",
        "Once upon a time.",
        False,
    )
    # The next AI turn is given this one, read back from the database, as context.
    await _events(assistant, Identity.user(user_id), "and then what happened")
    assert llm.calls[1] == [
        ChatMessage("system", SYSTEM_PROMPT),
        ChatMessage("user", "tell me a story about a cat"),
        ChatMessage("assistant", "Once upon a time."),
        ChatMessage("user", "and then what happened"),
    ]
    labels = {"provider": "scripted", "direction": "output"}
    assert _metric(any_rig.metrics, "ballsy_ai_tokens_total", labels) == 8


async def test_a_lookup_streams_and_a_hedging_first_sentence_offers_a_search(rig: Rig) -> None:
    user_id = await rig.new_user()
    question = "who is the mayor of Springfield"
    sure = rig.build(llm=ScriptedLLM(Script(chunks=["The mayor is ", "Joe Quimby."])))
    events = await _events(sure, Identity.user(user_id), question)
    assert [type(event) for event in events] == [TurnStarted, TextDelta, TextDelta, TurnEnded]
    assert events[-1] == TurnEnded(
        events[0].turn_id,
        "The mayor is Joe Quimby.",
        None,
        None,
        "ai",
        "lookup",
        model="scripted-1",
    )

    # The hedge is in the first sentence: the reply stops there (the rest is never asked
    # for) and the search is offered after what was already said.
    unsure_llm = ScriptedLLM(
        Script(chunks=["I'm not sure ", "who that is. ", "Maybe a cartoon ", "character?"])
    )
    unsure = rig.build(llm=unsure_llm)
    *streamed, ended = await _events(unsure, Identity.user(user_id), question)
    assert "".join(e.text for e in streamed if isinstance(e, TextDelta)) == (
        "I'm not sure who that is. "
    )
    assert ended == TurnEnded(
        ended.turn_id,
        "I'm not sure who that is. Let me search the web for that.",
        "search",
        {"query": question},
        "ai",
        "lookup",
        model="scripted-1",
    )
    assert unsure_llm.completed == 0  # stopped at the first sentence
    assert [(row.result, row.action) for row in await rig.history(user_id)] == [
        (ended.response, "search"),
        ("The mayor is Joe Quimby.", None),
    ]


async def test_no_ai_configured_is_answered_honestly_and_stored(rig: Rig) -> None:
    user_id = await rig.new_user()
    events = await _events(rig.build(llm=None), Identity.user(user_id), "tell me a joke")
    started, ended = events
    assert started == TurnStarted(started.turn_id, "local")
    assert isinstance(ended, TurnEnded)
    assert (ended.source, ended.family, ended.action) == ("local", "no_ai", "search")
    assert "GEMINI_API_KEY" in ended.response
    [row] = await rig.history(user_id)
    assert (row.family, row.result) == ("no_ai", ended.response)


@pytest.mark.parametrize(
    ("fail_after", "deltas", "says"),
    [
        (0, [], "I can't reach my AI brain right now. Let me search the web for that."),
        (2, ["It was ", "a dark "], "It was a dark … Sorry, I lost the AI mid-answer."),
    ],
)
async def test_a_failing_ai_ends_the_turn_with_a_fallback_that_is_stored(
    any_rig: Rig, fail_after: int, deltas: list[str], says: str
) -> None:
    user_id = await any_rig.new_user()
    llm = ScriptedLLM(
        Script(
            chunks=["It was ", "a dark ", "night."], fail_with="unavailable", fail_after=fail_after
        )
    )

    events = await _events(any_rig.build(llm=llm), Identity.user(user_id), "tell me a story")

    assert isinstance(events[0], TurnStarted) and events[0].source == "ai"
    assert [e.text for e in events if isinstance(e, TextDelta)] == deltas
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and len(events) == 2 + len(deltas)
    assert (ended.source, ended.action, ended.interrupted) == ("ai", "search", False)
    assert says in ended.response
    [row] = await any_rig.history(user_id)
    assert (row.result, row.action, row.interrupted) == (ended.response, "search", False)
    labels = {"provider": "scripted", "kind": "unavailable"}
    assert _metric(any_rig.metrics, "ballsy_ai_failures_total", labels) == 1


async def test_a_refused_ai_budget_stops_the_turn_before_it_starts(rig: Rig) -> None:
    class Spent:
        async def check_ai(self, *, user_id: int | None, address: str | None) -> None:
            raise RateLimited(f"no AI budget left for u:{user_id}", retry_after=3)

    user_id = await rig.new_user()
    llm = ScriptedLLM()
    received: list[Event] = []
    with pytest.raises(RateLimited, match=f"u:{user_id}"):
        request = TurnRequest(Identity.user(user_id), "tell me a story")
        async for event in rig.build(llm=llm, limits=Spent()).run_turn(request):
            received.append(event)
    assert received == [] and llm.calls == []
    assert await rig.history(user_id) == []


# --- cancellation --------------------------------------------------------------------


async def _cancel_while_streaming(
    assistant: Assistant, identity: Identity, text: str, llm: ScriptedLLM
) -> list[Event]:
    """Iterate a turn in a task and cancel it once the AI reply has stalled."""
    received: list[Event] = []

    async def consume() -> None:
        async for event in assistant.run_turn(TurnRequest(identity, text)):
            received.append(event)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(llm.holding.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=30)
    return received


@pytest.mark.parametrize(
    ("hold_after", "stored"), [(2, "Sentence one. Sentence two."), (0, "")], ids=["mid", "first"]
)
async def test_a_cancelled_turn_stops_the_ai_and_is_stored_once_as_interrupted(
    any_rig: Rig, hold_after: int, stored: str
) -> None:
    user_id = await any_rig.new_user()
    llm = ScriptedLLM(
        Script(chunks=["Sentence one. ", "Sentence two. ", "Three."], hold_after=hold_after)
    )

    received = await _cancel_while_streaming(
        any_rig.build(llm=llm), Identity.user(user_id), "tell me a long story", llm
    )

    assert llm.cancelled.is_set(), "the AI call was not stopped"
    assert llm.completed == 0
    # The caller saw the start and the deltas, never an end: the turn was not acknowledged.
    assert [type(event) for event in received] == [TurnStarted] + [TextDelta] * hold_after
    turn_id = received[0].turn_id
    [row] = await any_rig.history(user_id)
    assert (row.turn_id, row.result, row.interrupted, row.source) == (turn_id, stored, True, "ai")
    assert await any_rig.messages(turn_id) == [
        (True, "tell me a long story", False),
        (False, stored, True),
    ]


async def test_a_cancelled_tokenless_turn_is_remembered_in_its_scope(rig: Rig) -> None:
    llm = ScriptedLLM(Script(chunks=["Half ", "a reply."], hold_after=1))
    caller = Identity.tokenless("client-2", "198.51.100.1", connection="socket-2")
    await _cancel_while_streaming(rig.build(llm=llm), caller, "tell me a story", llm)
    scope = rig.scopes.get(caller.scope_key or "")
    assert list(scope.turns) == [("tell me a story", "Half")]


async def test_a_cancelled_turn_whose_store_fails_still_cancels(
    rig: Rig,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The interrupted turn is stored on a best-effort basis: a database that refuses the
    write must not turn the cancellation into another error."""
    user_id = await rig.new_user()
    llm = ScriptedLLM(Script(chunks=["Half ", "a reply."], hold_after=1))
    # Turns are written by the turn writer: here, one on a database without Ballsy's tables.
    empty = build_engine(make_settings().database, url=f"sqlite:///{tmp_path / 'empty.db'}")
    writer = TurnWriter(empty, idle_gap=timedelta(minutes=30))
    try:
        assistant = rig.build(llm=llm, turns=writer)
        await _cancel_while_streaming(assistant, Identity.user(user_id), "tell me a story", llm)
    finally:
        await writer.aclose()
        await empty.dispose()
    assert "could not store an interrupted turn" in caplog.text
    assert await rig.history(user_id) == []


# --- concurrency ---------------------------------------------------------------------


async def test_concurrent_turns_of_one_user_are_each_stored_once(any_rig: Rig) -> None:
    user_id = await any_rig.new_user()
    assistant = any_rig.build(llm=ScriptedLLM(Script(chunks=["Yes."])))
    texts = [f"what is {n} times 2" for n in range(8)] + ["tell me a story"] * 4

    results = await asyncio.gather(
        *(_events(assistant, Identity.user(user_id), text) for text in texts)
    )

    ended = [events[-1] for events in results]
    assert all(isinstance(event, TurnEnded) for event in ended)
    rows = await any_rig.history(user_id)
    assert sorted(row.turn_id for row in rows) == sorted(event.turn_id for event in ended)
    assert len({row.turn_id for row in rows}) == len(texts)
