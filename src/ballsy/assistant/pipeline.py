"""The command pipeline: text in, events out, every turn stored.

    input text -> checks -> local command or AI reply -> stored turn -> events

Every door (WebSocket, REST, CLI) calls `Assistant.run_turn` and owns only its
wire format. A turn is acknowledged (TurnEnded) only after it is stored, so an
acknowledged turn is never lost. Cancelling the task that iterates a turn stops
the AI call at once and stores the reply as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from ballsy.assistant.events import Event, Source, TextDelta, TurnEnded, TurnStarted
from ballsy.assistant.identity import Identity, TokenlessScopes, parse_zone
from ballsy.assistant.limits import TurnLimits
from ballsy.assistant.memory import MemoryCache
from ballsy.assistant.prompting import (
    PromptBuilder,
    cut_off,
    fallback_for,
    not_configured_reply,
)
from ballsy.assistant.recall import LongTermMemory
from ballsy.assistant.timers import Timers
from ballsy.assistant.tool_runner import ToolLimits, ToolRunner
from ballsy.assistant.tools import ToolBox, ToolContext, ToolResult
from ballsy.commands.base import CommandContext, LocalReply, NeedsAI, NeedsTool
from ballsy.commands.hedging import first_sentence, is_uncertain, search_fallback
from ballsy.commands.memory import memory_intent
from ballsy.commands.router import Decision, route
from ballsy.commands.timers import TimerRequest
from ballsy.db import repositories as repo
from ballsy.db.errors import database_error
from ballsy.db.models import utcnow
from ballsy.db.turn_store import UNCHANGED, Memory, StaleMemory, TurnWriter
from ballsy.errors import BadRequest, InvalidData
from ballsy.metrics import Metrics
from ballsy.providers.llm.base import (
    AIError,
    ChatMessage,
    GenerationParams,
    LLMProvider,
    ReplyStats,
    ToolCall,
)

log = logging.getLogger("ballsy.assistant")

Router = Callable[[str, CommandContext], Decision]
UTC_ZONE = ZoneInfo("UTC")
# Control characters a command may not hold: NUL and the other C0 controls except tab,
# line feed and carriage return (which people paste), and DEL. PostgreSQL cannot store
# NUL in text at all, and none of them means anything to a voice assistant. Refused at
# the door, before any AI call, rather than silently stripped: the client learns its
# text was mangled.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Tries to answer a local turn before its memory is read and stored unchecked.
_MEMORY_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class TurnRequest:
    identity: Identity
    text: str
    turn_id: str | None = None
    # When the door received the command (time.perf_counter()), for turn latency.
    received_at: float | None = None
    # Where weather questions are about, from the client: coordinates the browser shared
    # with the user's consent, or a place name the user set on that device.
    location: tuple[float, float] | None = None
    place: str | None = None


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    max_command_chars: int = 1000
    context_turns: int = 6
    context_max_chars: int = 4000
    conversation_idle: timedelta = timedelta(minutes=30)
    generation: GenerationParams = field(default_factory=GenerationParams)


@dataclass(slots=True)
class _Memory:
    """What the router may know about the asker, loaded once per turn."""

    timezone: ZoneInfo
    last_result: Fraction | None


class Assistant:
    """Answers one turn at a time for any identity; safe to share across connections."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        llm: LLMProvider | None,
        prompts: PromptBuilder,
        config: PipelineConfig,
        scopes: TokenlessScopes,
        limits: TurnLimits,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        router: Router = route,
        turns: TurnWriter | None = None,
        memory: MemoryCache | None = None,
        recall: LongTermMemory | None = None,
        tools: ToolBox | None = None,
        tool_limits: ToolLimits | None = None,
        default_place: str | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.router = router
        self.llm = llm
        self.prompts = prompts
        self.config = config
        self.scopes = scopes
        self.limits = limits
        self.metrics = metrics
        self.clock = clock
        # Stored turns go through one writer per database (group commit, see db/turn_store):
        # one transaction for every turn waiting, and on SQLite never two writers at once.
        self.turns = turns or TurnWriter(engine, idle_gap=config.conversation_idle)
        self.memory = memory or MemoryCache()
        # Long-term memory (remembered facts); None when switched off.
        self.recall = recall
        # Tools the AI may call (function calling) and local commands may use.
        self.tools = ToolRunner(tools or ToolBox(), tool_limits, metrics)
        # The place weather questions are about when the asker names none.
        self.default_place = default_place
        self.timers = timers or Timers(engine)

    # --- the turn ------------------------------------------------------------------

    def validate(self, text: object) -> str:
        """The command as the pipeline accepts it, or `BadRequest`."""
        if not isinstance(text, str):
            raise BadRequest("The command must be a string.")
        cleaned = text.strip()
        if not cleaned:
            raise BadRequest("The command is empty.")
        if len(cleaned) > self.config.max_command_chars:
            raise BadRequest(
                f"The command is too long ({len(cleaned)} characters; "
                f"the limit is {self.config.max_command_chars})."
            )
        if CONTROL_CHARACTERS.search(cleaned):
            raise InvalidData(
                "The command holds control characters (such as NUL); send plain text."
            )
        return cleaned

    async def run_turn(self, request: TurnRequest) -> AsyncIterator[Event]:
        """Answer one command; yields TurnStarted, TextDelta*, TurnEnded."""
        started = request.received_at if request.received_at is not None else time.perf_counter()
        text = self.validate(request.text)
        turn_id = request.turn_id or str(uuid.uuid4())
        identity = request.identity
        intent = memory_intent(text) if self.recall is not None else None
        if intent is not None and self.recall is not None:
            now = self.clock()
            reply = await self.recall.answer(identity.user_id, intent)
            ended = TurnEnded(turn_id, reply.text, None, None, "local", reply.family)
            await self._store(
                identity, text, ended, now=now, started=started, first_text=time.perf_counter()
            )
            yield TurnStarted(turn_id, "local")
            yield ended
            return
        # A local answer computed from cached memory is stored only if that memory is still
        # current (see assistant/memory.py); if not, it is answered again from a fresh read.
        # The last attempt stores without the check, as a plain read-then-write would.
        for attempt in range(_MEMORY_ATTEMPTS):
            now = self.clock()
            fresh = attempt > 0
            decision, history, used = await self._understand(identity, text, now, fresh=fresh)
            acted = isinstance(decision, TimerRequest)
            if isinstance(decision, TimerRequest):  # done once: the retry below stores unchecked
                decision = await self.timers.carry_out(identity, decision, now)
            if not isinstance(decision, LocalReply):
                break
            first_text = time.perf_counter()
            ended = TurnEnded(
                turn_id, decision.text, decision.action, decision.data, "local", decision.family
            )
            new_result = decision.last_result if decision.result_changed else None
            try:
                await self._store(
                    identity,
                    text,
                    ended,
                    now=now,
                    started=started,
                    first_text=first_text,
                    new_result=(decision.result_changed, new_result),
                    used=used,
                    check=attempt < _MEMORY_ATTEMPTS - 1 and not acted,
                )
            except StaleMemory:
                assert identity.user_id is not None
                self.memory.forget(identity.user_id)
                continue
            yield TurnStarted(turn_id, "local")
            yield ended
            return
        if isinstance(decision, NeedsTool):
            tool_ctx = self._tool_context(request, turn_id, now)
            async for event in self._tool_turn(identity, text, tool_ctx, decision, now, started):
                yield event
            return
        # The last attempt stores unchecked, so the loop only ends on an AI or tool turn.
        assert isinstance(decision, NeedsAI)
        tool_ctx = self._tool_context(request, turn_id, now)
        async for event in self._ai_turn(
            identity, text, turn_id, decision, history, now, started, tool_ctx
        ):
            yield event

    def _tool_context(self, request: TurnRequest, turn_id: str, now: datetime) -> ToolContext:
        identity = request.identity
        cached = self.memory.get(identity.user_id) if identity.user_id is not None else None
        zone = parse_zone(identity.timezone) or parse_zone(cached[1] if cached else None)
        return ToolContext(
            user_id=identity.user_id,
            now=now,
            zone=zone or UTC_ZONE,
            turn_id=turn_id,
            # The user's own place or shared position comes before the server's default.
            place=request.place or (None if request.location else self.default_place),
            location=request.location,
        )

    async def _tool_turn(
        self,
        identity: Identity,
        text: str,
        ctx: ToolContext,
        need: NeedsTool,
        now: datetime,
        started: float,
    ) -> AsyncIterator[Event]:
        """A command Ballsy understood that a tool answers (no AI involved)."""
        if self.tools.toolbox.get(need.tool) is None:
            result = ToolResult(f"Sorry, {need.family} is switched off on this server.")
        else:
            result = await self.tools.run(ToolCall(ctx.turn_id, need.tool, need.arguments), ctx)
        ended = TurnEnded(
            ctx.turn_id, result.text, result.action, result.data, "local", need.family
        )
        await self._store(
            identity, text, ended, now=now, started=started, first_text=time.perf_counter()
        )
        yield TurnStarted(ctx.turn_id, "local")
        yield ended

    async def _ai_turn(
        self,
        identity: Identity,
        text: str,
        turn_id: str,
        need: NeedsAI,
        history: list[tuple[str, str]],
        now: datetime,
        started: float,
        tool_ctx: ToolContext,
    ) -> AsyncIterator[Event]:
        if self.llm is None:
            reply = not_configured_reply(need)
            yield TurnStarted(turn_id, "local")
            ended = TurnEnded(turn_id, reply.text, reply.action, reply.data, "local", "no_ai")
            await self._store(
                identity, text, ended, now=now, started=started, first_text=time.perf_counter()
            )
            yield ended
            return

        await self.limits.check_ai(user_id=identity.user_id, address=identity.address)
        yield TurnStarted(turn_id, "ai")
        parts: list[str] = []
        first_text: float | None = None
        stats = ReplyStats(model=self.llm.model)
        messages = self.prompts.build(need, history, await self._remembered(identity, text))
        offered = self.tools.toolbox.specs()
        failure: AIError | None = None
        # Every answer streams. A lookup's search fallback is decided from its first
        # sentence: a hedge there ("I'm not sure who that is.") stops the reply and
        # offers the search after what was already said; a confident start streams on.
        judged = need.kind != "lookup"
        hedged = False
        done_by_tool: ToolResult | None = None
        try:
            for round_number in range(self.tools.limits.max_rounds + 1):
                # The last round offers no tools: the model must answer in words.
                tools = offered if round_number < self.tools.limits.max_rounds else []
                round_stats = ReplyStats(model=self.llm.model)
                calls: list[ToolCall] = []
                round_text: list[str] = []
                try:
                    stream = self.llm.stream_with_tools(
                        messages, self.config.generation, round_stats, tools
                    )
                    async with aclosing(
                        cast(AsyncGenerator[str | ToolCall, None], stream)
                    ) as chunks:
                        async for chunk in chunks:
                            if isinstance(chunk, ToolCall):
                                calls.append(chunk)
                                continue
                            if not chunk:
                                continue
                            if first_text is None:
                                first_text = time.perf_counter()
                            parts.append(chunk)
                            round_text.append(chunk)
                            yield TextDelta(turn_id, chunk)
                            if not judged:
                                sentence = first_sentence("".join(parts))
                                if sentence is not None:
                                    judged = True
                                    hedged = is_uncertain(
                                        sentence, subject=need.subject, is_person=need.is_person
                                    )
                                    if hedged:
                                        break
                finally:
                    _merge_stats(stats, round_stats)
                if hedged or not calls:
                    break
                results = await self.tools.run_round(calls, tool_ctx)
                messages = [
                    *messages,
                    ChatMessage("assistant", "".join(round_text), tool_calls=tuple(calls)),
                    *(ChatMessage("tool", r.text, tool_call=c) for c, r in results),
                ]
                # The page carries out what a tool did (open a site, a search).
                done_by_tool = next((r for _, r in reversed(results) if r.action), done_by_tool)
        except AIError as exc:
            failure = exc
        except asyncio.CancelledError:
            partial = "".join(parts).strip()
            ended = TurnEnded(turn_id, partial, None, None, "ai", need.family, interrupted=True)
            await asyncio.shield(
                self._store_quietly(
                    identity, text, ended, now=now, started=started, first_text=first_text
                )
            )
            raise
        finally:
            self._observe_ai(stats, failure)

        answer = "".join(parts).strip()
        action: str | None = done_by_tool.action if done_by_tool else None
        data: dict[str, Any] | None = done_by_tool.data if done_by_tool else None
        source: Source = "ai"
        if failure is not None:
            log.warning(
                "AI reply failed", extra={"ai_failure": failure.kind, "ai_detail": failure.message}
            )
            fallback = fallback_for(failure.kind, need, partial=answer)
            answer, action, data = fallback.text, fallback.action, fallback.data
        elif need.kind == "lookup" and (
            hedged
            or (not judged and is_uncertain(answer, subject=need.subject, is_person=need.is_person))
        ):
            # What was said stays said; the search is offered after it.
            fallback = (
                search_fallback(need.subject, answer)
                if answer
                else fallback_for("uncertain", need, partial="")
            )
            answer, action, data = fallback.text, fallback.action, fallback.data
        ended = TurnEnded(
            turn_id, answer, action, data, source, need.family, model=stats.model or None
        )
        await self._store(
            identity,
            text,
            ended,
            now=now,
            started=started,
            first_text=first_text or time.perf_counter(),
        )
        yield ended

    # --- memory ----------------------------------------------------------------------

    async def _remembered(self, identity: Identity, text: str) -> list[str]:
        """The user's remembered facts for this command's prompt (assistant/recall.py).
        A failure here costs the prompt its facts, never the reply."""
        if self.recall is None or identity.user_id is None:
            return []
        try:
            return await self.recall.for_prompt(identity.user_id, text)
        except Exception:
            log.warning("could not recall remembered facts", exc_info=True)
            return []

    async def _understand(
        self, identity: Identity, text: str, now: datetime, *, fresh: bool = False
    ) -> tuple[Decision, list[tuple[str, str]], Memory | None]:
        """Route the command with what Ballsy remembers of the asker, and the conversation's
        context when the AI will answer. Also returns the memory the route used (for the
        writer's check). A signed-in user's memory comes from the instance's cache (read
        once, or afresh with `fresh`); an AI turn reads its context, and the memory with
        it, in one statement. A tokenless scope reads nothing."""
        if not identity.authenticated:
            scope = self.scopes.get(identity.scope_key or "")
            memory = _Memory(
                timezone=parse_zone(identity.timezone) or UTC_ZONE, last_result=scope.last_result
            )
            decision = self._route(text, now, memory)
            if not self._wants_context(decision):
                return decision, [], None
            return decision, list(scope.turns)[-self.config.context_turns :], None
        user_id = identity.user_id
        assert user_id is not None
        cached = None if fresh else self.memory.get(user_id)
        if cached is None:
            remembered = await self._read_memory(user_id, now, context_messages=0)
            cached = self._remember(user_id, remembered)
        decision = self._route(text, now, self._memory_of(identity, cached))
        if not self._wants_context(decision):
            return decision, [], cached
        remembered = await self._read_memory(
            user_id, now, context_messages=self.config.context_turns * 2
        )
        current = self._remember(user_id, remembered)
        decision = self._route(text, now, self._memory_of(identity, current))
        if not self._wants_context(decision) or remembered is None:
            return decision, [], current
        return decision, _pair_turns(remembered.context), current

    async def _read_memory(
        self, user_id: int, now: datetime, *, context_messages: int
    ) -> repo.TurnMemory | None:
        async with self._connection() as conn:
            return await repo.turn_memory(
                conn,
                user_id,
                now=now,
                idle_gap=self.config.conversation_idle,
                context_messages=context_messages,
            )

    def _remember(self, user_id: int, remembered: repo.TurnMemory | None) -> Memory | None:
        """Cache what was read; None (nothing cached) for an unknown user."""
        if remembered is None:
            self.memory.forget(user_id)
            return None
        memory = (remembered.last_result, remembered.timezone)
        self.memory.put(user_id, memory)
        return memory

    @staticmethod
    def _memory_of(identity: Identity, stored: Memory | None) -> _Memory:
        last_result, timezone = stored or (None, None)
        zone = parse_zone(identity.timezone) or parse_zone(timezone) or UTC_ZONE
        return _Memory(timezone=zone, last_result=_parse_fraction(last_result))

    def _route(self, text: str, now: datetime, memory: _Memory) -> Decision:
        return self.router(
            text, CommandContext(now=now, timezone=memory.timezone, last_result=memory.last_result)
        )

    @property
    def _reads_context(self) -> bool:
        """Whether an AI reply could use the conversation: an AI is configured and the
        context is not switched off."""
        return self.llm is not None and self.config.context_turns > 0

    def _wants_context(self, decision: Decision) -> bool:
        """Only an AI reply uses the conversation."""
        return isinstance(decision, NeedsAI) and self._reads_context

    async def _store(
        self,
        identity: Identity,
        command: str,
        ended: TurnEnded,
        *,
        now: datetime,
        started: float,
        first_text: float | None,
        new_result: tuple[bool, Fraction | None] = (False, None),
        used: Memory | None = None,
        check: bool = False,
    ) -> None:
        """Store the turn; with `check`, only if the user's memory is still `used`
        (else `StaleMemory`)."""
        done = time.perf_counter()
        if not identity.authenticated:
            scope = self.scopes.get(identity.scope_key or "")
            changed, value = new_result
            if changed:
                scope.last_result = value
            self.scopes.remember_turn(scope, command, ended.response)
            self._count(ended, done - started)
            return
        assert identity.user_id is not None
        record = repo.TurnRecord(
            user_id=identity.user_id,
            turn_id=ended.turn_id,
            command=command,
            response=ended.response,
            source=ended.source,
            family=ended.family,
            action=ended.action,
            action_data=ended.data,
            interrupted=ended.interrupted,
            created_at=now,
            first_text_ms=None if first_text is None else round((first_text - started) * 1000, 3),
            total_ms=round((done - started) * 1000, 3),
        )
        changed, value = new_result
        stored_result = _format_fraction(value) if changed else UNCHANGED
        await self.turns.store(record, last_result=stored_result, expected=used if check else None)
        if used is not None:  # write-through: the next turn here starts from this one
            after = used[0] if stored_result is UNCHANGED else stored_result
            self.memory.put(identity.user_id, (after, used[1]))
        self._count(ended, done - started)

    def _count(self, ended: TurnEnded, seconds: float) -> None:
        """Metrics of a stored turn (counted once, after it is stored)."""
        if self.metrics is not None:
            self.metrics.commands_of(ended.source, ended.family).inc()
            self.metrics.turn_latency_of(ended.source).observe(seconds)

    async def _store_quietly(
        self, identity: Identity, command: str, ended: TurnEnded, **kwargs: Any
    ) -> None:
        """Store an interrupted turn; a failure here must not mask the cancellation."""
        try:
            await self._store(identity, command, ended, **kwargs)
        except Exception:
            log.exception("could not store an interrupted turn")

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled Core connection for a read, without a session's bookkeeping;
        database failures surface as client errors (see `ballsy.db.errors`)."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except Exception as exc:
            known = database_error(exc)
            if known is None:
                raise
            raise known from exc

    def _observe_ai(self, stats: ReplyStats, failure: AIError | None) -> None:
        provider = self.llm.name if self.llm else "none"
        log.info(
            "AI reply",
            extra={
                "ai_provider": provider,
                "ai_model": stats.model,
                "ai_ttft_s": stats.time_to_first_token_s,
                "ai_total_s": stats.total_s,
                "ai_tokens_in": stats.input_tokens,
                "ai_tokens_out": stats.output_tokens,
                "ai_attempts": stats.attempts,
                "ai_failure": failure.kind if failure else None,
            },
        )
        if self.metrics is None:
            return
        if stats.time_to_first_token_s is not None:
            self.metrics.ai_first_token.labels(provider).observe(stats.time_to_first_token_s)
        if stats.total_s is not None:
            self.metrics.ai_total.labels(provider).observe(stats.total_s)
        if stats.input_tokens:
            self.metrics.ai_tokens.labels(provider, "input").inc(stats.input_tokens)
        if stats.output_tokens:
            self.metrics.ai_tokens.labels(provider, "output").inc(stats.output_tokens)
        if failure is not None:
            self.metrics.ai_failures.labels(provider, failure.kind).inc()


def _merge_stats(total: ReplyStats, one: ReplyStats) -> None:
    """Add one request's usage and timing to the turn's (several with tool rounds)."""
    total.model = one.model or total.model
    if one.input_tokens is not None:
        total.input_tokens = (total.input_tokens or 0) + one.input_tokens
    if one.output_tokens is not None:
        total.output_tokens = (total.output_tokens or 0) + one.output_tokens
    if total.time_to_first_token_s is None:
        total.time_to_first_token_s = one.time_to_first_token_s
    if one.total_s is not None:
        total.total_s = (total.total_s or 0.0) + one.total_s
    total.attempts += one.attempts
    total.finish_reason = one.finish_reason or total.finish_reason


def _pair_turns(messages: list[tuple[bool, str, bool]]) -> list[tuple[str, str]]:
    """(user, assistant) pairs from (is_user, content, interrupted) messages, oldest first;
    a reply the user cut off says so, and where (see prompting.cut_off)."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for is_user, content, interrupted in messages:
        if is_user:
            pending = content
        elif pending is not None:
            pairs.append((pending, cut_off(content) if interrupted else content))
            pending = None
    return pairs


# Every turn of a signed-in user reads its last result back from the memory cache as
# text; parsing it is the costly part, and a Fraction is immutable.
@lru_cache(maxsize=1024)
def _parse_fraction(value: str | None) -> Fraction | None:
    if not value:
        return None
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None


def _format_fraction(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"
