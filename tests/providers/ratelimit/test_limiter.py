"""The policy: every budget refuses its (N+1)-th action with code, message and retry_after."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ballsy.config import Settings
from ballsy.db.engine import build_engine
from ballsy.errors import RateLimited
from ballsy.metrics import Metrics
from ballsy.providers.ratelimit.keys import ip_key, limit_key
from ballsy.providers.ratelimit.limiter import RateLimiter
from ballsy.providers.ratelimit.memory import MemoryStore
from ballsy.providers.ratelimit.sockets import FloodStrikes
from tests.providers.ratelimit.clock import FakeClock

SettingsFactory = Callable[..., Settings]


def build(make_settings: SettingsFactory, clock: FakeClock, **overrides: object) -> RateLimiter:
    settings = make_settings(**overrides)
    store = MemoryStore(max_keys=settings.rate_limit_max_keys, clock=clock)
    return RateLimiter(
        settings.limits, store, speech_max_seconds=settings.stt_max_seconds, clock=clock
    )


async def test_requests_per_client(make_settings: SettingsFactory) -> None:
    clock = FakeClock()
    limiter = build(make_settings, clock, rate_limit_requests_per_minute=3)
    for _ in range(3):
        await limiter.check_request("ip:1.2.3.4")
    with pytest.raises(RateLimited) as refused:
        await limiter.check_request("ip:1.2.3.4")
    error = refused.value
    assert error.code == "rate_limited" and error.status == 429
    assert error.retry_after == pytest.approx(20.0)
    assert error.message == "Too many requests; slow down. Try again in 20 seconds."
    assert error.to_dict() == {
        "code": "rate_limited",
        "message": error.message,
        "retry_after": 20.0,
    }
    await limiter.check_request("ip:5.6.7.8")  # another client has its own budget

    clock.advance(20.0)
    await limiter.check_request("ip:1.2.3.4")
    with pytest.raises(RateLimited):
        await limiter.check_request("ip:1.2.3.4")


async def test_websocket_messages_per_caller(make_settings: SettingsFactory) -> None:
    clock = FakeClock()
    limiter = build(make_settings, clock, rate_limit_ws_messages_per_minute=2)
    await limiter.check_ws_message(user_id=1, address="10.0.0.1")
    await limiter.check_ws_message(user_id=1, address="10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limiter.check_ws_message(user_id=1, address="10.0.0.1")
    assert refused.value.retry_after == pytest.approx(30.0)
    assert "too quickly" in refused.value.message
    await limiter.check_ws_message(user_id=2, address="10.0.0.1")  # another user, same home
    clock.advance(30.0)
    await limiter.check_ws_message(user_id=1, address="10.0.0.1")


async def test_websocket_messages_per_address_across_users(make_settings: SettingsFactory) -> None:
    clock = FakeClock()
    limiter = build(
        make_settings,
        clock,
        rate_limit_ws_messages_per_minute=2,
        rate_limit_ws_messages_per_address_per_minute=5,
    )
    for user in range(5):  # a new user per message: each has budget, the address not
        await limiter.check_ws_message(user_id=user, address="10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limiter.check_ws_message(user_id=99, address="10.0.0.1")
    assert "network" in refused.value.message
    await limiter.check_ws_message(user_id=99, address="10.0.0.2")


async def test_ai_calls_per_user(make_settings: SettingsFactory) -> None:
    clock = FakeClock()
    limiter = build(make_settings, clock, rate_limit_ai_calls_per_user_per_hour=2)
    await limiter.check_ai(user_id=1, address=None)
    await limiter.check_ai(user_id=1, address=None)
    with pytest.raises(RateLimited) as refused:
        await limiter.check_ai(user_id=1, address=None)
    assert refused.value.retry_after == pytest.approx(1800.0)
    assert "1800 seconds" in refused.value.message
    await limiter.check_ai(user_id=2, address=None)


async def test_ai_calls_per_instance_across_users(make_settings: SettingsFactory) -> None:
    clock = FakeClock()
    limiter = build(make_settings, clock, rate_limit_ai_calls_per_instance_per_minute=3)
    for user in range(3):
        await limiter.check_ai(user_id=user, address=None)
    with pytest.raises(RateLimited) as refused:
        await limiter.check_ai(user_id=99, address=None)
    assert refused.value.retry_after == pytest.approx(20.0)
    assert "busy" in refused.value.message
    clock.advance(20.0)
    await limiter.check_ai(user_id=100, address=None)


async def test_a_user_over_their_own_ai_budget_does_not_spend_the_instance_budget(
    make_settings: SettingsFactory,
) -> None:
    clock = FakeClock()
    limiter = build(
        make_settings,
        clock,
        rate_limit_ai_calls_per_user_per_hour=1,
        rate_limit_ai_calls_per_instance_per_minute=2,
    )
    await limiter.check_ai(user_id=666, address=None)
    for _ in range(20):
        with pytest.raises(RateLimited):
            await limiter.check_ai(user_id=666, address=None)
    await limiter.check_ai(user_id=7, address=None)  # the instance still has its second call


async def test_the_instance_ai_budget_cannot_be_evicted_by_many_keys(
    make_settings: SettingsFactory,
) -> None:
    clock = FakeClock()
    limiter = build(
        make_settings,
        clock,
        rate_limit_ai_calls_per_instance_per_minute=1,
        rate_limit_max_keys=100,
    )
    await limiter.check_ai(user_id=0, address=None)
    for index in range(3000):  # connections and clients churn through the other stores
        await limiter.check_ws_message(user_id=index, address=f"10.1.{index >> 8}.{index & 255}")
        await limiter.check_request(f"ip:10.0.{index >> 8}.{index & 255}")
    with pytest.raises(RateLimited):
        await limiter.check_ai(user_id=1, address=None)


async def test_speech_is_reserved_up_front_and_the_unused_part_returned(
    make_settings: SettingsFactory,
) -> None:
    clock = FakeClock()
    limiter = build(
        make_settings, clock, rate_limit_stt_seconds_per_user_per_hour=120, stt_max_seconds=60
    )
    first = await limiter.reserve_speech(user_id=1, address=None)
    assert first.reserved_seconds == 60
    second = await limiter.reserve_speech(user_id=1, address=None)
    with pytest.raises(RateLimited) as refused:  # both reservations hold the whole budget
        await limiter.reserve_speech(user_id=1, address=None)
    assert refused.value.retry_after == pytest.approx(1800.0)  # 60 s refill at 1/30 s per s
    assert "speech" in refused.value.message
    await first.settle(5.0)  # 55 s come back
    await first.settle(5.0)  # once
    await second.settle(None)  # a failed attempt keeps the minimum, 1 s
    third = await limiter.reserve_speech(user_id=1, address=None)
    await third.settle(59.0)
    with pytest.raises(RateLimited):  # 120 - 5 - 1 - 59 = 55 left: less than one utterance
        await limiter.reserve_speech(user_id=1, address=None)


async def test_speech_is_capped_per_address_across_users(make_settings: SettingsFactory) -> None:
    limiter = build(
        make_settings,
        FakeClock(),
        rate_limit_stt_seconds_per_user_per_hour=120,
        rate_limit_stt_seconds_per_address_per_hour=100,
        stt_max_seconds=40,
    )
    for user in range(2):
        await (await limiter.reserve_speech(user_id=user, address="10.0.0.1")).settle(40.0)
    with pytest.raises(RateLimited) as refused:  # a fresh user, but the address has 20 s
        await limiter.reserve_speech(user_id=2, address="10.0.0.1")
    assert "network" in refused.value.message
    # The refused attempt kept nothing from the user's own budget.
    for other in range(3):  # 3 x 40 s: the user's whole 120 s
        address = f"10.0.1.{other}"
        await (await limiter.reserve_speech(user_id=2, address=address)).settle(40.0)


async def test_a_budget_smaller_than_one_utterance_costs_it_whole(
    make_settings: SettingsFactory,
) -> None:
    clock = FakeClock()
    limiter = build(
        make_settings, clock, rate_limit_stt_seconds_per_user_per_hour=30, stt_max_seconds=60
    )
    reservation = await limiter.reserve_speech(user_id=1, address=None)
    assert reservation.reserved_seconds == 30
    with pytest.raises(RateLimited):
        await limiter.reserve_speech(user_id=1, address=None)
    await reservation.settle(2.0)
    with pytest.raises(RateLimited):  # 28 s back, but an utterance needs the full 30 s
        await limiter.reserve_speech(user_id=1, address=None)
    clock.advance(240)  # 2 s refilled
    await limiter.reserve_speech(user_id=1, address=None)


def test_websocket_slots_per_address_and_per_instance(make_settings: SettingsFactory) -> None:
    limiter = build(
        make_settings, FakeClock(), rate_limit_ws_per_address=2, rate_limit_ws_per_instance=3
    )
    first = limiter.acquire_ws("ip:1.1.1.1")
    second = limiter.acquire_ws("ip:1.1.1.1")
    with pytest.raises(RateLimited) as per_client:
        limiter.acquire_ws("ip:1.1.1.1")
    assert "at most 2" in per_client.value.message
    assert per_client.value.retry_after is not None

    third = limiter.acquire_ws("ip:2.2.2.2")
    with pytest.raises(RateLimited) as per_instance:
        limiter.acquire_ws("ip:3.3.3.3")
    assert "too many open connections" in per_instance.value.message
    assert limiter.open_websockets == 3

    first.release()
    first.release()  # releasing twice frees one slot, not two
    assert limiter.open_websockets == 2
    with limiter.acquire_ws("ip:1.1.1.1"):
        assert limiter.open_websockets == 3
    assert limiter.open_websockets == 2
    second.release()
    third.release()
    assert limiter.open_websockets == 0
    assert limiter.sockets.by_key == {}  # no entry left behind per client


def test_websocket_slots_per_signed_in_user(make_settings: SettingsFactory) -> None:
    limiter = build(
        make_settings, FakeClock(), rate_limit_ws_per_user=2, rate_limit_ws_per_instance=3
    )
    first = limiter.acquire_ws_user(7)
    limiter.acquire_ws_user(7)
    with pytest.raises(RateLimited) as refused:
        limiter.acquire_ws_user(7)
    assert "at most 2" in refused.value.message
    other = limiter.acquire_ws_user(8)
    assert limiter.open_websockets == 0  # user places are not sockets: no double count
    first.release()
    limiter.acquire_ws_user(7)
    other.release()
    assert limiter.refusals == {"ws_per_user": 1}


def test_flood_strikes_close_after_the_warnings_and_reset_when_the_client_waits() -> None:
    strikes = FloodStrikes(max_warnings=3)
    assert [strikes.refused() for _ in range(4)] == [False, False, False, True]
    strikes.admitted()
    assert strikes.refused() is False
    assert FloodStrikes.CLOSE_CODE == 1008


async def test_disabled_limits_refuse_nothing(make_settings: SettingsFactory) -> None:
    limiter = build(
        make_settings,
        FakeClock(),
        rate_limit_enabled=False,
        rate_limit_requests_per_minute=1,
        rate_limit_ws_per_address=1,
    )
    for _ in range(10):
        await limiter.check_request("ip:1.1.1.1")
        await limiter.check_ai(user_id=1, address=None)
        limiter.acquire_ws("ip:1.1.1.1")
        limiter.acquire_ws_user(1)
        await limiter.check_ws_message(user_id=1, address="1.1.1.1")
        await limiter.check_new_session("1.1.1.1")
        await limiter.check_new_conversation(1)
        reservation = await limiter.reserve_speech(user_id=1, address="1.1.1.1")
        assert reservation.reserved_seconds == 0


def test_keys_come_from_the_token_or_else_the_address() -> None:
    assert limit_key(7, "1.2.3.4") == "u:7"
    assert limit_key(None, "1.2.3.4") == "ip:1.2.3.4"
    assert limit_key(None, None) == "ip:unknown"
    # One IPv6 subscriber holds a whole /64: rotating within it buys nothing.
    assert ip_key("2001:db8:1:2::1") == ip_key("2001:db8:1:2:ffff::9") == "ip:2001:db8:1:2::/64"
    assert ip_key("2001:db8:1:3::1") != ip_key("2001:db8:1:2::1")
    assert ip_key("::ffff:10.0.0.1") == "ip:10.0.0.1"
    assert ip_key("unknown") == "ip:unknown"


async def test_from_settings_picks_the_store(
    make_settings: SettingsFactory, sqlite_url: str
) -> None:
    limiter = RateLimiter.from_settings(make_settings().limits, speech_max_seconds=60)
    assert limiter.store.name == "memory"
    settings = make_settings(rate_limit_store="postgres", database_url=sqlite_url)
    with pytest.raises(ValueError, match="needs the database engine"):
        RateLimiter.from_settings(settings.limits, speech_max_seconds=60)
    engine = build_engine(settings.database)
    try:
        with pytest.raises(ValueError, match="DATABASE_URL to be PostgreSQL"):
            RateLimiter.from_settings(settings.limits, speech_max_seconds=60, engine=engine)
    finally:
        await engine.dispose()


async def test_ip_keys_are_normalised_whoever_builds_them(make_settings: SettingsFactory) -> None:
    limiter = build(make_settings, FakeClock(), rate_limit_requests_per_minute=1)
    await limiter.check_request("ip:2001:db8:1:2::1")
    with pytest.raises(RateLimited):  # another address in the same /64
        await limiter.check_request("ip:2001:db8:1:2::abcd")
    slot = limiter.acquire_ws("ip:::ffff:10.0.0.1")
    assert slot.client_key == "ip:10.0.0.1"
    limiter.release_ws(slot)
    assert limiter.open_websockets == 0


async def test_refusals_are_exported_to_prometheus_once_each(
    make_settings: SettingsFactory,
) -> None:
    limiter = build(
        make_settings, FakeClock(), rate_limit_requests_per_minute=1, rate_limit_ws_per_address=1
    )
    metrics = Metrics()
    await limiter.check_request("ip:1.1.1.1")
    for _ in range(3):
        with pytest.raises(RateLimited):
            await limiter.check_request("ip:1.1.1.1")
    limiter.acquire_ws("ip:1.1.1.1")
    with pytest.raises(RateLimited):
        limiter.acquire_ws("ip:1.1.1.1")

    limiter.export_metrics(metrics)
    limiter.export_metrics(metrics)  # a second scrape adds nothing new
    sample = metrics.registry.get_sample_value
    assert sample("ballsy_rate_limit_refusals_total", {"budget": "requests"}) == 3
    assert sample("ballsy_rate_limit_refusals_total", {"budget": "ws_per_address"}) == 1
