"""Fakes at the boundaries: real servers on 127.0.0.1 that tests script, never mocks.

`FakeGemini` and `FakeOpenAI` are HTTP servers speaking the providers' REST shapes
(`FakeOpenMeteo` the weather service's); each
runs in its own thread, so sync, async and browser tests can share them. Script them
with the steps below; read back `.requests` and `.disconnects`.
"""

from tests.fakes._server import FOREVER, Drop, Fail, Raw, RecordedRequest, Reply
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.open_meteo import FakeOpenMeteo
from tests.fakes.openai_server import FakeOpenAI

__all__ = [
    "FOREVER",
    "Drop",
    "Fail",
    "FakeGemini",
    "FakeOpenAI",
    "FakeOpenMeteo",
    "Raw",
    "RecordedRequest",
    "Reply",
]
