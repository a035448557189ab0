"""One stream's wake word detector: 16 kHz PCM16 in, "was the wake word said?" out.

Runs where the audio is parsed: in the wake word worker process (worker.py), or in a
benchmark or test directly. Each stream has its own feature front end and its own
interpreter, because a streaming model keeps the recent past in its state.
"""

from __future__ import annotations

from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model


class StreamDetector:
    """Feed audio in chunks of any size; `feed` is True when the wake word ended in it."""

    def __init__(self, model_name: str) -> None:
        self.model = MicroWakeWord.from_builtin(Model(model_name))
        self.features = MicroWakeWordFeatures()
        self._odd_byte = b""

    def feed(self, pcm: bytes) -> bool:
        # A chunk may split a sample; keep the half until the next chunk.
        pcm = self._odd_byte + pcm
        cut = len(pcm) - len(pcm) % 2
        pcm, self._odd_byte = pcm[:cut], pcm[cut:]
        detected = False
        for features in self.features.process_streaming(pcm):
            if self.model.process_streaming(features):
                detected = True
                break
        if detected:
            # Start afresh: the same utterance must not wake it twice, and what followed
            # the wake phrase in this chunk is the command, heard by the recogniser.
            self.reset()
        return detected

    def reset(self) -> None:
        self.model.reset()
        self.features.reset()
        self._odd_byte = b""

    def close(self) -> None:
        self.model.close()
