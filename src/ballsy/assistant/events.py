"""What a turn emits, in order: TurnStarted, zero or more TextDelta, then TurnEnded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Source = Literal["local", "ai"]


@dataclass(frozen=True, slots=True)
class TurnStarted:
    turn_id: str
    source: Source


@dataclass(frozen=True, slots=True)
class TextDelta:
    turn_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The whole reply, emitted only after the turn is stored (so it is never lost)."""

    turn_id: str
    response: str
    action: str | None
    data: dict[str, Any] | None
    source: Source
    family: str
    interrupted: bool = False
    # The AI model that wrote the reply (None when Ballsy answered itself).
    model: str | None = None

    def legacy(self) -> dict[str, Any]:
        """The original API's reply shape: exactly response, action, data."""
        return {"response": self.response, "action": self.action, "data": self.data}


Event = TurnStarted | TextDelta | TurnEnded
