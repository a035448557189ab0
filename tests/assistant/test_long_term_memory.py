"""Long-term memory through the real pipeline, on SQLite and PostgreSQL.

Facts are stored by speaking them ("remember that …") and recalled into the prompt the
AI receives (`ScriptedLLM.calls` records it); the embedding model is the real one.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ballsy.assistant.events import TurnEnded
from ballsy.assistant.identity import Identity, TokenlessScopes
from ballsy.assistant.memory_tools import memory_tools
from ballsy.assistant.pipeline import Assistant, PipelineConfig, TurnRequest
from ballsy.assistant.prompting import PromptBuilder
from ballsy.assistant.recall import PROMPT_HEADER, LongTermMemory, MemoryOptions
from ballsy.assistant.tools import ToolContext, ToolError
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import CommandHistory, RememberedFact, User
from ballsy.errors import DatabaseUnavailable
from ballsy.providers.embedding.encoder import MISSING_EXTRA, Embedder
from tests.pg import free_port
from tests.scripted_llm import ScriptedLLM

# (fact, a question asking for it in other words)
FACTS_AND_QUESTIONS = [
    ("My sister is called Alice", "What's my sibling's name?"),
    ("I am allergic to peanuts", "Is there any food I must avoid?"),
    ("My dog's name is Biscuit", "What do I call my puppy?"),
    ("My birthday is on the 14th of March", "When was I born?"),
    ("I work as a nurse at the city hospital", "What is my job?"),
    ("My favourite colour is green", "Which colour do I like best?"),
    ("I live in Lyon", "Which city is my home?"),
    ("My wife is called Maria", "What's my spouse's name?"),
    ("I drive a blue Toyota Corolla", "What car do I own?"),
    ("I play the piano every evening", "Which musical instrument do I practise?"),
    ("My son Tom goes to Riverside primary school", "Where does my boy study?"),
    ("I'm vegetarian", "Do I eat meat?"),
    ("My dentist appointment is next Tuesday", "When do I have to get my teeth checked?"),
    ("I support Arsenal football club", "Which soccer team am I a fan of?"),
    ("I keep my spare keys under the blue flower pot", "Where are my extra house keys hidden?"),
    ("I am learning Japanese", "Which foreign language am I studying?"),
    ("My mother lives in Dublin", "Where does my mum live?"),
    ("I prefer tea to coffee", "What hot drink do I like?"),
    ("I go running on Saturday mornings", "What exercise do I do at the weekend?"),
    ("My flight to New York leaves on Friday", "When is my trip to America?"),
]
# Room for about three of the twenty facts (124 tokens in all): recall must rank, not
# just include everything.
TIGHT_BUDGET = 20


class Unlimited:
    async def check_ai(self, *, user_id: int | None, address: str | None) -> None:
        return None


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    shared = Embedder(threads=2)
    yield shared
    shared.close()


@dataclass
class Rig:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    embedder: Embedder

    def memory(self, **options: Any) -> LongTermMemory:
        return LongTermMemory(self.engine, self.embedder, MemoryOptions(**options))

    def assistant(self, memory: LongTermMemory | None, llm: ScriptedLLM | None = None) -> Assistant:
        return Assistant(
            engine=self.engine,
            sessions=self.sessions,
            llm=llm if llm is not None else ScriptedLLM(),
            prompts=PromptBuilder(system_prompt="You are Ballsy.", context_max_chars=4000),
            config=PipelineConfig(context_turns=0),
            scopes=TokenlessScopes(ttl_seconds=600, max_entries=10, max_turns=6),
            limits=Unlimited(),
            recall=memory,
        )

    async def new_user(self) -> int:
        async with self.sessions() as session:
            user = await repo.create_anonymous_user(session, token_hash=secrets.token_hex(32))
            await session.commit()
            return user.id

    async def stored(self, user_id: int) -> list[str]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(RememberedFact.text)
                .where(RememberedFact.user_id == user_id)
                .order_by(RememberedFact.id)
            )
            return list(rows)


@pytest.fixture
async def rig(
    make_settings: Callable[..., Settings], database_url: str, embedder: Embedder
) -> AsyncIterator[Rig]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = build_engine(make_settings(), url=database_url)
    try:
        yield Rig(engine, build_sessionmaker(engine), embedder)
    finally:
        await engine.dispose()


async def say(assistant: Assistant, user_id: int | None, text: str) -> TurnEnded:
    identity = Identity(user_id=user_id) if user_id is not None else Identity(scope_key="cli:x")
    events = [e async for e in assistant.run_turn(TurnRequest(identity, text))]
    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    return ended


def facts_in_prompt(llm: ScriptedLLM) -> str:
    """The memory paragraph of the system prompt of the AI's latest call ("" if none)."""
    system = llm.calls[-1][0]
    assert system.role == "system"
    _, _, section = system.content.partition(PROMPT_HEADER)
    return section


# --- Done means: 20 facts, 20 paraphrased questions, >= 18 with the right memory ------


async def test_paraphrased_questions_bring_the_right_fact_into_the_prompt(rig: Rig) -> None:
    user = await rig.new_user()
    llm = ScriptedLLM()
    assistant = rig.assistant(rig.memory(prompt_tokens=TIGHT_BUDGET), llm)
    for fact, _ in FACTS_AND_QUESTIONS:
        ended = await say(assistant, user, f"Remember that {fact}")
        assert ended.source == "local" and ended.family == "memory"
        assert ended.response.startswith("Got it. I'll remember that")
    assert llm.calls == []  # remembering is local: no AI call
    assert await rig.stored(user) == [fact for fact, _ in FACTS_AND_QUESTIONS]

    hits = 0
    sizes = []
    for fact, question in FACTS_AND_QUESTIONS:
        await say(assistant, user, question)
        section = facts_in_prompt(llm)
        lines = [line for line in section.splitlines() if line.startswith("- ")]
        sizes.append(len(lines))
        hits += f"- {fact}" in lines
    assert len(llm.calls) == len(FACTS_AND_QUESTIONS)
    assert hits >= 18, f"{hits}/20 questions had their fact in the prompt"
    # The budget held: a few facts per prompt, never all twenty.
    assert 1 <= max(sizes) <= 5


async def test_a_turn_unrelated_to_any_fact_carries_none(rig: Rig) -> None:
    user = await rig.new_user()
    llm = ScriptedLLM()
    assistant = rig.assistant(rig.memory(), llm)
    await say(assistant, user, "Remember that my sister is called Alice")
    await say(assistant, user, "Explain how volcanoes erupt")
    assert facts_in_prompt(llm) == ""
    await say(assistant, user, "Tell me something nice about my sister")
    assert "- my sister is called Alice" in facts_in_prompt(llm)


# --- privacy -------------------------------------------------------------------------


async def test_another_users_memories_never_appear(rig: Rig) -> None:
    alice, bob = await rig.new_user(), await rig.new_user()
    llm = ScriptedLLM()
    memory = rig.memory()
    assistant = rig.assistant(memory, llm)
    for fact, _ in FACTS_AND_QUESTIONS:
        await say(assistant, alice, f"Remember that {fact}")
    for _, question in FACTS_AND_QUESTIONS:
        await say(assistant, bob, question)
        assert facts_in_prompt(llm) == ""
    listed = await say(assistant, bob, "What do you remember about me?")
    assert listed.response.startswith("I don't remember anything about you yet")
    assert (await say(assistant, bob, "forget that")).response.startswith("There's nothing")
    assert (await say(assistant, bob, "forget everything")).response.startswith("There's nothing")
    assert (await say(assistant, bob, "forget my sister is called Alice")).response.startswith(
        "I don't remember anything like"
    )
    # Through the AI's tools, whatever it asks for, only the caller's memory is reached.
    tools = {tool.name: tool for tool in memory_tools(memory)}
    as_bob = ToolContext(user_id=bob, now=datetime.now(UTC), zone=UTC, turn_id="t")  # type: ignore[arg-type]
    found = await tools["recall"].handler(as_bob, {"query": "What is my sister called?"})
    assert found.text == "Nothing remembered about that."
    gone = await tools["forget"].handler(as_bob, {"query": "my sister is called Alice"})
    assert gone.text.startswith("Nothing close enough")
    assert len(await rig.stored(alice)) == 20
    # And Alice still has all of hers.
    await say(assistant, alice, "What's my sibling's name?")
    assert "- My sister is called Alice" in facts_in_prompt(llm)


async def test_a_tokenless_caller_has_no_memory(rig: Rig) -> None:
    llm = ScriptedLLM()
    assistant = rig.assistant(rig.memory(), llm)
    ended = await say(assistant, None, "Remember that my sister is called Alice")
    assert "signed-in user" in ended.response
    async with rig.sessions() as session:
        assert await session.scalar(select(func.count(RememberedFact.id))) == 0


# --- forgetting ------------------------------------------------------------------------


async def test_forget_that_removes_the_newest_fact_from_storage_and_recall(rig: Rig) -> None:
    user = await rig.new_user()
    llm = ScriptedLLM()
    assistant = rig.assistant(rig.memory(), llm)
    await say(assistant, user, "Remember that my sister is called Alice")
    await say(assistant, user, "Remember that my dog's name is Biscuit")
    await say(assistant, user, "What do I call my puppy?")
    assert "- my dog's name is Biscuit" in facts_in_prompt(llm)

    ended = await say(assistant, user, "Forget that")
    assert ended.response == "Done. I've forgotten that your dog's name is Biscuit."
    assert await rig.stored(user) == ["my sister is called Alice"]
    await say(assistant, user, "What do I call my puppy?")
    assert "Biscuit" not in facts_in_prompt(llm)


async def test_forget_something_removes_the_best_match(rig: Rig) -> None:
    user = await rig.new_user()
    llm = ScriptedLLM()
    assistant = rig.assistant(rig.memory(), llm)
    for fact, _ in FACTS_AND_QUESTIONS[:5]:
        await say(assistant, user, f"Remember that {fact}")
    ended = await say(assistant, user, "Forget about my sister's name")
    assert ended.response == "Done. I've forgotten that your sister is called Alice."
    assert "My sister is called Alice" not in await rig.stored(user)
    assert len(await rig.stored(user)) == 4
    await say(assistant, user, "What's my sibling's name?")
    assert "Alice" not in facts_in_prompt(llm)
    # Nothing close enough: nothing deleted.
    ended = await say(assistant, user, "forget the price of gold in 1850")
    assert ended.response.startswith("I don't remember anything like")
    assert len(await rig.stored(user)) == 4


async def test_forget_everything_empties_the_users_memory(rig: Rig) -> None:
    user, other = await rig.new_user(), await rig.new_user()
    llm = ScriptedLLM()
    assistant = rig.assistant(rig.memory(), llm)
    for fact, _ in FACTS_AND_QUESTIONS[:3]:
        await say(assistant, user, f"Remember that {fact}")
    await say(assistant, other, "Remember that I live in Lyon")
    listed = await say(assistant, user, "what do you remember about me")
    assert listed.response == (
        "I remember that your sister is called Alice; that you are allergic to peanuts; "
        "that your dog's name is Biscuit."
    )
    ended = await say(assistant, user, "Forget everything")
    assert ended.response == "Done. I've forgotten all 3 things you told me to remember."
    assert await rig.stored(user) == []
    assert await rig.stored(other) == ["I live in Lyon"]
    await say(assistant, user, "What's my sibling's name?")
    assert facts_in_prompt(llm) == ""


async def test_saying_a_fact_twice_stores_it_once(rig: Rig) -> None:
    user = await rig.new_user()
    assistant = rig.assistant(rig.memory())
    await say(assistant, user, "Remember that my sister is called Alice")
    again = await say(assistant, user, "remember that my sister is called Alice.")
    assert again.response == "I already remember that your sister is called Alice."
    assert await rig.stored(user) == ["my sister is called Alice"]


async def test_the_per_user_limit_is_kept(rig: Rig) -> None:
    user = await rig.new_user()
    assistant = rig.assistant(rig.memory(max_per_user=2))
    await say(assistant, user, "Remember that my sister is called Alice")
    await say(assistant, user, "Remember that my dog's name is Biscuit")
    full = await say(assistant, user, "Remember that I live in Lyon")
    assert "the most I keep" in full.response
    assert len(await rig.stored(user)) == 2


# --- several instances ---------------------------------------------------------------


async def test_a_change_made_by_another_instance_is_seen_on_the_next_turn(rig: Rig) -> None:
    user = await rig.new_user()
    llm_a = ScriptedLLM()
    here = rig.assistant(rig.memory(), llm_a)
    there = rig.assistant(rig.memory())
    await say(here, user, "Remember that my sister is called Alice")
    await say(here, user, "What's my sibling's name?")  # this instance caches the vectors
    assert "Alice" in facts_in_prompt(llm_a)

    await say(there, user, "Remember that my dog's name is Biscuit")
    await say(here, user, "What do I call my puppy?")
    assert "- my dog's name is Biscuit" in facts_in_prompt(llm_a)

    await say(there, user, "Forget that")  # the newest: Biscuit, forgotten elsewhere
    await say(here, user, "What do I call my puppy?")
    assert "Biscuit" not in facts_in_prompt(llm_a)
    # A delete plus an add elsewhere (same count) is still seen: the newest id moved on.
    await say(there, user, "Forget everything")
    await say(there, user, "Remember that my cat is called Tiger")
    await say(here, user, "What's my pet's name?")
    assert "- my cat is called Tiger" in facts_in_prompt(llm_a)
    assert "Alice" not in facts_in_prompt(llm_a)


# --- the AI's tools ----------------------------------------------------------------------


async def test_the_ai_remembers_recalls_and_forgets_through_its_tools(rig: Rig) -> None:
    user = await rig.new_user()
    llm = ScriptedLLM()
    memory = rig.memory()
    assistant = rig.assistant(memory, llm)
    tools = {tool.name: tool for tool in memory_tools(memory)}
    assert set(tools) == {"remember", "recall", "forget"}
    assert all(tool.needs_user for tool in tools.values())
    context = ToolContext(user_id=user, now=datetime.now(UTC), zone=UTC, turn_id="t")  # type: ignore[arg-type]

    done = await tools["remember"].handler(context, {"fact": "I'm allergic to peanuts"})
    assert done.text.startswith("Remembered: I'm allergic to peanuts")
    await say(assistant, user, "Suggest a snack for me")
    assert "- I'm allergic to peanuts" in facts_in_prompt(llm)
    found = await tools["recall"].handler(context, {"query": "food allergies"})
    assert found.text == "- I'm allergic to peanuts"
    gone = await tools["forget"].handler(context, {"query": "the peanut allergy"})
    assert gone.text == "Forgotten: I'm allergic to peanuts"
    assert await rig.stored(user) == []

    for bad in ({}, {"fact": ""}, {"fact": 3}, {"fact": "x" * 501}):
        with pytest.raises(ToolError):
            await tools["remember"].handler(context, bad)
    anonymous = ToolContext(user_id=None, now=datetime.now(UTC), zone=UTC, turn_id="t")  # type: ignore[arg-type]
    with pytest.raises(ToolError):
        await tools["remember"].handler(anonymous, {"fact": "I live in Lyon"})


# --- the user's data ---------------------------------------------------------------------


async def test_facts_leave_with_the_user(rig: Rig) -> None:
    user, other = await rig.new_user(), await rig.new_user()
    assistant = rig.assistant(rig.memory())
    await say(assistant, user, "Remember that my sister is called Alice")
    await say(assistant, other, "Remember that I live in Lyon")
    async with rig.sessions() as session:
        await session.execute(delete(User).where(User.id == user))
        await session.commit()
    assert await rig.stored(user) == []
    assert await rig.stored(other) == ["I live in Lyon"]


async def test_retention_keeps_idle_users_whose_only_data_is_memories(rig: Rig) -> None:
    """`ballsy users prune` without --with-history deletes only users with no data at
    all: remembered facts count as data; --with-history takes them with the user."""
    user = await rig.new_user()
    assistant = rig.assistant(rig.memory())
    await say(assistant, user, "Remember that my sister is called Alice")
    long_ago = datetime.now(UTC) - timedelta(days=400)
    async with rig.sessions() as session:
        # History retention already took the turns; the fact outlived them.
        await session.execute(delete(CommandHistory).where(CommandHistory.user_id == user))
        await session.execute(
            update(User).where(User.id == user).values(created_at=long_ago, last_seen_at=long_ago)
        )
        await session.commit()
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert await repo.prune_anonymous_users(rig.sessions, cutoff=cutoff) == 0
    assert await rig.stored(user) == ["my sister is called Alice"]
    assert await repo.prune_anonymous_users(rig.sessions, cutoff=cutoff, with_history=True) == 1
    assert await rig.stored(user) == []


# --- without the extra ---------------------------------------------------------------------


async def test_without_the_memory_extra_memory_commands_say_what_to_install(rig: Rig) -> None:
    user = await rig.new_user()
    llm = ScriptedLLM()
    memory = LongTermMemory(rig.engine, None, MemoryOptions(), unavailable=MISSING_EXTRA)
    assistant = rig.assistant(memory, llm)
    for said in ("Remember that my sister is called Alice", "what do you remember about me"):
        ended = await say(assistant, user, said)
        assert ended.family == "memory"
        assert "ballsy[memory]" in ended.response
    assert memory_tools(memory) == []
    await say(assistant, user, "What's my sibling's name?")  # AI turns go on, unremembered
    assert facts_in_prompt(llm) == ""
    assert await rig.stored(user) == []


# --- the database unreachable ----------------------------------------------------------


async def test_an_unreachable_database_is_a_clear_error_and_ai_turns_go_on(
    rig: Rig, make_settings: Callable[..., Settings]
) -> None:
    user = await rig.new_user()
    dead = build_engine(make_settings(), url=f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    llm = ScriptedLLM()
    assistant = rig.assistant(LongTermMemory(dead, rig.embedder, MemoryOptions()), llm)
    try:
        with pytest.raises(DatabaseUnavailable):
            await say(assistant, user, "Remember that my sister is called Alice")
        # Recall failing costs the prompt its facts, never the reply.
        ended = await say(assistant, user, "What's my sibling's name?")
        assert ended.source == "ai" and ended.response == "Sure thing."
        assert facts_in_prompt(llm) == ""
    finally:
        await dead.dispose()
