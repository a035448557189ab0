"""The metrics registry: series looked up on hot paths are the exported ones."""

from __future__ import annotations

from ballsy.metrics import Metrics


def test_children_count_into_the_series_labels_names() -> None:
    metrics = Metrics()
    metrics.commands_of("local", "arithmetic").inc()
    metrics.commands.labels("local", "arithmetic").inc()
    metrics.turn_latency_of("local").observe(0.002)

    assert metrics.commands_of("local", "arithmetic") is metrics.commands.labels(
        "local", "arithmetic"
    )
    sample = metrics.registry.get_sample_value
    assert sample("ballsy_commands_total", {"source": "local", "family": "arithmetic"}) == 2
    assert sample("ballsy_turn_duration_seconds_count", {"source": "local"}) == 1
    assert sample("ballsy_commands_total", {"source": "ai", "family": "arithmetic"}) is None
