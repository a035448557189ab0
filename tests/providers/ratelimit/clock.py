"""A clock tests move by hand: refills happen when the test says, never by sleeping."""

from __future__ import annotations


class FakeClock:
    """Callable like `time.monotonic`; `advance` moves it forward."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
