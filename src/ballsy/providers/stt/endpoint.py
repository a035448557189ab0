"""Server-side endpointing: where speech starts in a live stream, and when the turn ends.

An energy detector over 20 ms frames of the stream, counted in *audio* time (the
samples received), never in wall-clock time: a busy server or a late browser timer
cannot shorten or stretch a pause. The thresholds follow the page's detector
(web/voice_activity.js), which was tuned on the browser-processed microphone signal:

- the first CALIBRATION_MS measure the noise floor, which then follows the level while
  nobody speaks (slowly up, quickly down);
- a frame is voiced when it is VOICE_RATIO times the floor, clamped to
  [MIN_THRESHOLD, MAX_THRESHOLD];
- speech starts after SPEECH_MIN_MS of voiced frames with gaps of at most GAP_MS
  (a click or a cough is shorter);
- the turn ends `silence_seconds` after the last voiced frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from ballsy.providers.stt.pcm import BYTES_PER_SECOND, frame_rms

FRAME_MS = 20
FRAME_BYTES = BYTES_PER_SECOND * FRAME_MS // 1000
CALIBRATION_MS = 200
VOICE_RATIO = 3.0
MIN_THRESHOLD = 0.01
MAX_THRESHOLD = 0.05
SPEECH_MIN_MS = 120
GAP_MS = 200
FLOOR_RISE = 0.03
FLOOR_FALL = 0.3


@dataclass(slots=True)
class SpeechState:
    """What the detector knows, in bytes from the start of the stream."""

    received: int = 0
    started_at: int | None = None  # the first voiced frame of the speech
    last_voice_end: int = 0  # the end of the latest voiced frame


class EnergyEndpointer:
    """Feed PCM16 bytes with `feed`; read `state`, `in_speech`, `silence_bytes`."""

    def __init__(self) -> None:
        self.state = SpeechState()
        self.floor = 0.0
        self._calibration: list[float] = []
        self._pending = bytearray()
        self._run_start: int | None = None  # first voiced frame of the current loud run
        self._loud_ms = 0
        self._quiet_ms = 0
        self.level = 0.0  # the latest frame's loudness, for a level meter

    @property
    def threshold(self) -> float:
        return min(MAX_THRESHOLD, max(MIN_THRESHOLD, self.floor * VOICE_RATIO))

    @property
    def heard_speech(self) -> bool:
        return self.state.started_at is not None

    @property
    def silence_bytes(self) -> int:
        """Bytes since the last voiced frame (0 before any speech)."""
        if self.state.started_at is None:
            return 0
        return self.state.received - self.state.last_voice_end

    def feed(self, pcm: bytes) -> None:
        self._pending.extend(pcm)
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        for offset in range(0, whole, FRAME_BYTES):
            self._frame(frame_rms(memoryview(self._pending)[offset : offset + FRAME_BYTES]))
        del self._pending[:whole]

    def _frame(self, level: float) -> None:
        state = self.state
        start = state.received
        state.received += FRAME_BYTES
        self.level = level
        if state.received <= CALIBRATION_MS * BYTES_PER_SECOND // 1000:
            self._calibration.append(level)
            self.floor = sum(self._calibration) / len(self._calibration)
            return
        if level >= self.threshold:
            if self._run_start is None:
                self._run_start = start
            self._loud_ms += FRAME_MS
            self._quiet_ms = 0
            if state.started_at is None and self._loud_ms >= SPEECH_MIN_MS:
                state.started_at = self._run_start
            if state.started_at is not None:
                state.last_voice_end = state.received
            return
        self._quiet_ms += FRAME_MS
        if self._quiet_ms > GAP_MS:
            self._loud_ms = 0
            self._run_start = None
        if self._loud_ms == 0:
            rate = FLOOR_RISE if level > self.floor else FLOOR_FALL
            self.floor += (level - self.floor) * rate
