"""Prometheus metrics, one registry per app instance (so tests can build many apps)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

M = TypeVar("M", bound=MetricWrapperBase)


class Children(Generic[M]):
    """A labelled metric's series, kept by their label values for paths that count on
    every turn or request: `labels()` takes a lock and checks its arguments on each
    call, a dictionary lookup does not. The same series either way."""

    __slots__ = ("_metric", "_series")

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._series: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = self._metric.labels(*values)
        return series


class Metrics:
    """Every series Ballsy exports; components call the `observe_*` helpers."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_latency = Histogram(
            "ballsy_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ws_connections = Gauge(
            "ballsy_websocket_connections", "Open WebSocket connections.", registry=r
        )
        self.ws_messages = Counter(
            "ballsy_websocket_messages_total",
            "WebSocket messages by direction and type.",
            ["direction", "type"],
            registry=r,
        )
        self.commands = Counter(
            "ballsy_commands_total",
            "Turns answered, by source (local/ai) and command family.",
            ["source", "family"],
            registry=r,
        )
        self.turn_latency = Histogram(
            "ballsy_turn_duration_seconds",
            "From command received to reply stored, by source.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ai_first_token = Histogram(
            "ballsy_ai_time_to_first_token_seconds",
            "AI provider time to first token.",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ai_total = Histogram(
            "ballsy_ai_reply_duration_seconds",
            "AI provider time for the whole reply.",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ai_tokens = Counter(
            "ballsy_ai_tokens_total",
            "AI tokens by direction (input/output).",
            ["provider", "direction"],
            registry=r,
        )
        self.ai_failures = Counter(
            "ballsy_ai_failures_total", "AI failures by kind.", ["provider", "kind"], registry=r
        )
        self.tool_calls = Counter(
            "ballsy_tool_calls_total",
            "Tool calls (AI function calls and local commands) by tool and outcome "
            "(ok, refused, error, timeout, unknown).",
            ["tool", "outcome"],
            registry=r,
        )
        self.stt_duration = Histogram(
            "ballsy_stt_duration_seconds",
            "Speech-to-text processing time.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stt_rtf = Histogram(
            "ballsy_stt_real_time_factor",
            "Speech-to-text processing time divided by audio duration.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=r,
        )
        self.rate_limited = Counter(
            "ballsy_rate_limit_refusals_total",
            "Requests refused by a rate-limit budget.",
            ["budget"],
            registry=r,
        )
        self.timers_fired = Counter(
            "ballsy_timers_fired_total",
            "Timers, alarms and reminders this instance claimed and fired when due.",
            registry=r,
        )
        # The series counted on every request or turn, looked up without `labels()`.
        self.http_latency_of = Children(self.http_latency)
        self.ws_messages_of = Children(self.ws_messages)
        self.commands_of = Children(self.commands)
        self.turn_latency_of = Children(self.turn_latency)

    def watch_pool(self, stats: Callable[[], dict[str, float]]) -> None:
        """Export the database pool's live numbers (in use, idle, overflow, size)."""
        self.registry.register(_PoolCollector(stats))


class _PoolCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, float]]) -> None:
        self.stats = stats

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ballsy_db_pool_connections", "Database pool connections by state.", labels=["state"]
        )
        for state, value in self.stats().items():
            family.add_metric([state], value)
        yield family
