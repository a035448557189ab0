"""Every scripted failure, over every provider: the error kind, the retries, the time bound."""

from __future__ import annotations

import logging
import time

import pytest

from ballsy.providers.llm.base import AIError, ChatMessage, GenerationParams, ReplyStats
from ballsy.providers.llm.streaming import StreamLimits
from tests.fakes import Drop, Fail, Raw, Reply
from tests.providers.llm.conftest import FAST, SHORT, Case

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Tell me a joke.")]
# Scheduling slack on a busy 2-core machine: generous, yet below every wait a missing bound
# would cause (the fakes' 10 s stalls, a 60 s Retry-After).
SLACK_S = 3.0


async def run(
    case: Case, **overrides: object
) -> tuple[list[str], ReplyStats, float, AIError | None]:
    """Stream a reply; return the text, stats, elapsed time and the error, if any."""
    provider = case.make(**overrides)
    stats = ReplyStats()
    got: list[str] = []
    started = time.monotonic()
    try:
        async for chunk in provider.stream(MESSAGES, GenerationParams(), stats):
            got.append(chunk)
    except AIError as exc:
        return got, stats, time.monotonic() - started, exc
    return got, stats, time.monotonic() - started, None


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_transient_errors_are_retried_then_succeed(
    case: Case, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ballsy.providers.llm")
    case.fake.script(Fail(status, times=2), Reply(chunks=["Fine", " now."]))
    got, stats, _, error = await run(case)
    assert error is None
    assert got == ["Fine", " now."]  # said once, not once per attempt
    assert stats.attempts == 3
    assert len(case.fake.requests) == 3
    retries = [r for r in caplog.records if r.getMessage() == "ai_retry"]
    assert [r.__dict__["attempt"] for r in retries] == [1, 2]
    expected = "rate_limited" if status == 429 else "unavailable"
    assert {r.__dict__["kind"] for r in retries} == {expected}


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limited"), (503, "unavailable")])
async def test_retries_are_bounded(case: Case, status: int, kind: str) -> None:
    case.fake.script(Fail(status, times=10))
    got, stats, elapsed, error = await run(case)
    assert error is not None and error.kind == kind
    assert got == []
    assert len(case.fake.requests) == FAST.max_retries + 1
    assert stats.attempts == FAST.max_retries + 1
    # backoff is capped at backoff_max_s per retry
    assert elapsed < FAST.max_retries * FAST.backoff_max_s + SLACK_S


async def test_no_retries_means_one_request(case: Case) -> None:
    """The SDK's own retries are off: ours are the only ones."""
    case.fake.script(Fail(503, times=10))
    limits = StreamLimits(first_token_timeout_s=0.4, total_timeout_s=2.0, max_retries=0)
    _, _, _, error = await run(case, limits=limits)
    assert error is not None and error.kind == "unavailable"
    assert len(case.fake.requests) == 1


async def test_retry_after_beyond_the_budget_gives_up_at_once(case: Case) -> None:
    case.fake.script(Fail(429, retry_after=60, times=10))
    _, _, elapsed, error = await run(case)
    assert error is not None and error.kind == "rate_limited"
    assert len(case.fake.requests) == 1
    assert elapsed < SLACK_S


async def test_retry_after_within_the_budget_is_honoured(case: Case) -> None:
    case.fake.script(Fail(429, retry_after=0.3), Reply(chunks=["ok"]))
    got, stats, elapsed, error = await run(case)
    assert error is None and got == ["ok"]
    assert stats.attempts == 2
    assert elapsed >= 0.3


async def test_network_drop_is_retried(case: Case) -> None:
    case.fake.script(Drop(times=2), Reply(chunks=["back"]))
    got, stats, _, error = await run(case)
    assert error is None and got == ["back"]
    assert stats.attempts == 3


async def test_unreachable_server_is_unavailable(case: Case) -> None:
    port = case.fake.port
    case.fake.stop()  # nothing listens there any more
    base_url = f"http://127.0.0.1:{port}" + ("/v1" if case.kind == "openai" else "")
    _, stats, elapsed, error = await run(case, base_url=base_url)
    assert error is not None and error.kind == "unavailable"
    assert stats.attempts == FAST.max_retries + 1
    assert elapsed < FAST.total_timeout_s


@pytest.mark.parametrize("stall", ["before_headers", "after_headers"])
async def test_stall_before_first_token_times_out_without_retry(case: Case, stall: str) -> None:
    step = Reply(head_delay=10) if stall == "before_headers" else Reply(first_delay=10)
    case.fake.script(step, step, step)
    got, stats, elapsed, error = await run(case, limits=SHORT)
    assert error is not None and error.kind == "timeout"
    assert got == []
    assert len(case.fake.requests) == 1  # a stall is not cured by asking again
    assert SHORT.first_token_timeout_s <= elapsed < SHORT.first_token_timeout_s + SLACK_S
    assert stats.time_to_first_token_s is None and stats.total_s is not None
    assert await case.fake.await_disconnect(0.5)


async def test_stall_mid_stream_times_out_and_keeps_the_text(case: Case) -> None:
    limits = StreamLimits(first_token_timeout_s=0.3, total_timeout_s=0.8, max_retries=2)
    case.fake.script(Reply(chunks=["one", " two", " three"], stall_after=2))
    got, _, elapsed, error = await run(case, limits=limits)
    assert error is not None and error.kind == "timeout"
    assert got == ["one", " two"]
    assert len(case.fake.requests) == 1  # never retried once text was sent
    assert elapsed < limits.total_timeout_s + SLACK_S
    assert await case.fake.await_disconnect(0.5)


async def test_slow_reply_is_cut_at_the_total_timeout(case: Case) -> None:
    limits = StreamLimits(first_token_timeout_s=0.3, total_timeout_s=0.6, max_retries=0)
    case.fake.script(Reply(chunks=["la"] * 50, chunk_delay=0.05))
    got, _, elapsed, error = await run(case, limits=limits)
    assert error is not None and error.kind == "timeout"
    assert 3 <= len(got) < 50
    assert limits.total_timeout_s <= elapsed < limits.total_timeout_s + SLACK_S


async def test_connection_closed_mid_stream_is_not_retried(case: Case) -> None:
    case.fake.script(Reply(chunks=["a", "b", "c"], close_after=2), Reply(chunks=["dup"]))
    got, _, _, error = await run(case)
    assert error is not None and error.kind == "unavailable"
    assert got == ["a", "b"]
    assert len(case.fake.requests) == 1


async def test_connection_closed_before_any_text_is_retried(case: Case) -> None:
    case.fake.script(Reply(chunks=["a"], close_after=0), Reply(chunks=["whole"]))
    got, stats, _, error = await run(case)
    assert error is None and got == ["whole"]
    assert stats.attempts == 2


async def test_malformed_chunk_is_a_bad_response(case: Case) -> None:
    case.fake.script(Reply(chunks=["a", "b"], malformed_after=1))
    got, _, _, error = await run(case)
    assert error is not None and error.kind == "bad_response"
    assert got == ["a"]
    assert len(case.fake.requests) == 1


async def test_wrongly_shaped_chunk_is_a_bad_response(case: Case) -> None:
    case.fake.script(Raw(['{"candidates": 5, "choices": 5}']))
    _, _, _, error = await run(case)
    assert error is not None and error.kind == "bad_response"
    assert len(case.fake.requests) == 1


async def test_blocked_prompt(case: Case) -> None:
    case.fake.script(Reply(blocked="SAFETY"))
    got, _, _, error = await run(case)
    assert error is not None and error.kind == "blocked"
    assert got == []
    assert len(case.fake.requests) == 1


async def test_reply_stopped_by_the_safety_filter(case: Case) -> None:
    reason = "SAFETY" if case.kind == "gemini" else "content_filter"
    case.fake.script(Reply(chunks=["Well,", " actually"], finish_reason=reason))
    _, stats, _, error = await run(case)
    assert error is not None and error.kind == "blocked"
    assert stats.finish_reason == reason


async def test_empty_answer(case: Case) -> None:
    case.fake.script(Reply(chunks=[]), Reply(chunks=["never asked"]))
    _, _, _, error = await run(case)
    assert error is not None and error.kind == "empty"
    assert len(case.fake.requests) == 1


async def test_unknown_model_is_a_config_error_reported_once(case: Case) -> None:
    _, _, elapsed, error = await run(case, model="no-such-model-9000")
    assert error is not None and error.kind == "config"
    assert "no-such-model-9000" in error.message and "MODEL" in error.message
    assert len(case.fake.requests) == 1  # not retried, no guessing other names
    assert elapsed < SLACK_S


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_a_config_error(case: Case, status: int) -> None:
    case.fake.script(Fail(status, times=5))
    _, _, _, error = await run(case)
    assert error is not None and error.kind == "config"
    assert len(case.fake.requests) == 1


async def test_wrong_key_is_a_config_error(case: Case) -> None:
    _, _, _, error = await run(case, api_key="wrong-key-value-123")
    assert error is not None and error.kind == "config"
    assert "API_KEY" in error.message
    assert len(case.fake.requests) == 1


async def test_bad_request_is_a_config_error_not_retried(case: Case) -> None:
    case.fake.script(Fail(400, "max tokens out of range", times=5))
    _, _, _, error = await run(case)
    assert error is not None and error.kind == "config"
    assert len(case.fake.requests) == 1
