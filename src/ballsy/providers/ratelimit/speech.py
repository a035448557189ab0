"""Speech paid before it runs: a reservation taken from the speech budgets, settled
once the transcript says how long the audio was."""

from __future__ import annotations

import logging

from ballsy.providers.ratelimit.base import Budget, RateLimitStore

log = logging.getLogger("ballsy.ratelimit")

# What every speech attempt costs at least, even one that fails or hears nothing:
# decoding the upload is work too.
MIN_SPEECH_CHARGE_SECONDS = 1.0

Charge = tuple[RateLimitStore, str, Budget, float]


class SpeechReservation:
    """Speech seconds taken before a transcription runs; `settle` returns the rest.

    Settle once, with the seconds the transcript covered (None when the attempt
    failed before it said, e.g. undecodable audio): the reservation less what was
    used, but never less than `MIN_SPEECH_CHARGE_SECONDS`, goes back to each
    budget. Settling again does nothing. A reservation never settled (the turn was
    cancelled while the model ran) keeps its whole cost: the work was done.
    """

    __slots__ = ("_charges", "settled")

    def __init__(self, charges: list[Charge]) -> None:
        """`charges`: (store, key, budget, cost) taken; empty when limits are off."""
        self._charges = charges
        self.settled = False

    @property
    def reserved_seconds(self) -> float:
        """The largest amount taken from any one budget (0 when limits are off)."""
        return max((cost for *_, cost in self._charges), default=0.0)

    async def settle(self, used_seconds: float | None) -> None:
        if self.settled:
            return
        self.settled = True
        used = max(MIN_SPEECH_CHARGE_SECONDS, used_seconds or 0.0)
        for store, key, budget, cost in self._charges:
            unused = cost - min(cost, used)
            if unused > 0:
                await refund_quietly(store, key, budget, unused)


async def refund_quietly(store: RateLimitStore, key: str, budget: Budget, amount: float) -> None:
    # A refund that fails leaves the caller with less budget, never more: log it only.
    try:
        await store.refund(key, budget, amount)
    except Exception as exc:
        log.warning(
            "rate limit refund failed",
            extra={"error_type": type(exc).__name__, "budget": budget.name},
        )
