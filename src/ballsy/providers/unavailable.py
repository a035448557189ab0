"""What a provider that cannot run here says about itself, whichever kind it is.

Routes always have a provider to call; where speech-to-text or the voice cannot run
(switched off, an extra not installed), a stand-in answers every call with
`FeatureUnavailable` carrying the reason and its fix, and reports itself as neither
available nor ready.
"""

from __future__ import annotations

from typing import NoReturn

from ballsy.errors import FeatureUnavailable


class Unavailable:
    """Mixed into a provider kind's stand-in: holds the reason and refuses with it."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def available(self) -> bool:
        return False

    @property
    def ready(self) -> bool:
        return False

    def refuse(self) -> NoReturn:
        raise FeatureUnavailable(self.reason)
