"""Pure parts of Ballsy's voice: cutting streamed text into sentences, and what was heard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballsy.api.voice_stream import Sentence, TurnVoice
from ballsy.providers.tts.base import Speech, TextToSpeech
from ballsy.providers.tts.formats import wav_from_pcm
from ballsy.providers.tts.sentences import SentenceSplitter


def _split(*chunks: str) -> list[str]:
    splitter = SentenceSplitter()
    out: list[str] = []
    for chunk in chunks:
        out += splitter.feed(chunk)
    return out + splitter.flush()


def test_sentences_come_out_as_soon_as_they_end() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The moon is far. It ") == ["The moon is far."]
    assert splitter.feed("shines!") == []  # the end of a sentence, or "!!" to come?
    assert splitter.feed(" Does it") == ["It shines!"]
    assert splitter.feed("? Yes") == ["Does it?"]
    assert splitter.flush() == ["Yes"]


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence() -> None:
    assert _split("Dr. Who met J. R. Smith at 3.14 p.m. today. Then left.") == [
        "Dr. Who met J. R. Smith at 3.14 p.m. today.",
        "Then left.",
    ]


@given(st.lists(st.sampled_from(["Hi. ", "a", " b", "! ", "?", "\n", "Dr. ", "x."]), max_size=30))
def test_no_text_is_lost_or_reordered(chunks: list[str]) -> None:
    text = "".join(chunks)
    assert " ".join(_split(*chunks)).split() == text.split()


def test_wav_header_describes_the_pcm() -> None:
    import io
    import wave

    with wave.open(io.BytesIO(wav_from_pcm(b"\x01\x00" * 100, 22050))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() == 100


class _Recorder(TextToSpeech):
    """Synthesis stand-in for the door's bookkeeping: one second of silence per sentence."""

    voice = "test"

    def __init__(self, fail_from: int | None = None, error: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.fail_from = fail_from
        self.error = error

    async def synthesize(self, text: str, *, speed: float = 1.0, fmt: str = "pcm_s16le") -> Speech:
        self.calls.append(text)
        if self.fail_from is not None and len(self.calls) > self.fail_from:
            assert self.error is not None
            raise self.error
        return Speech(b"\x00\x00" * 1000, 1000)


async def _run_voice(tts: TextToSpeech, deltas: list[str], response: str) -> tuple[Any, list[Any]]:
    sent: list[Any] = []

    async def send_audio(start: dict[str, Any], audio: bytes, end: dict[str, Any]) -> None:
        sent.extend([start, len(audio), end])

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    voice = TurnVoice(tts, turn_id="t1", speed=1.0, send_audio=send_audio, send=send)
    for delta in deltas:
        voice.feed(delta)
    voice.finish(response)
    await asyncio.wait_for(voice.task, 30)
    return voice, sent


async def test_what_was_heard_is_whole_sentences_then_the_words_that_played() -> None:
    tts = _Recorder()
    voice, sent = await _run_voice(
        tts, ["One two three four. ", "Five six seven eight. Nine ten."], "ignored"
    )
    assert tts.calls == ["One two three four.", "Five six seven eight.", "Nine ten."]
    assert sent[-1] == {"type": "voice_done", "turn_id": "t1", "sentences": 3}
    assert voice.sentences[0] == Sentence(0, "One two three four.", 1.0)
    assert voice.heard(0, 0) == ""
    assert voice.heard(1, 0) == "One two three four."
    assert voice.heard(1, 0.5) == "One two three four. Five six"
    assert voice.heard(1, 0.49) == "One two three four. Five"  # a half-heard word is not heard
    assert voice.heard(3, 0) == "One two three four. Five six seven eight. Nine ten."


async def test_a_local_answer_and_a_fallback_after_streaming_are_spoken_too() -> None:
    tts = _Recorder()
    await _run_voice(tts, [], "That's 56.")
    assert tts.calls == ["That's 56."]
    tts = _Recorder()
    await _run_voice(tts, ["Half an answer"], "Half an answer … Sorry, I lost the AI mid-answer.")
    assert tts.calls == ["Half an answer …", "Sorry, I lost the AI mid-answer."]


@pytest.mark.parametrize("code", ["busy", "tts_unavailable"])
async def test_a_busy_voice_hands_the_rest_to_the_browser_once(code: str) -> None:
    from ballsy.errors import Busy, TtsUnavailable

    error = Busy("busy now") if code == "busy" else TtsUnavailable("worker died")
    tts = _Recorder(fail_from=1, error=error)
    voice, sent = await _run_voice(tts, ["First. Second. ", "Third."], "ignored")
    fallbacks = [m for m in sent if isinstance(m, dict) and m["type"] == "voice_fallback"]
    assert fallbacks == [
        {
            "type": "voice_fallback",
            "turn_id": "t1",
            "seq": 1,
            "text": "Second. Third.",
            "code": code,
            "message": error.message,  # type: ignore[attr-defined]
        }
    ]
    assert not [m for m in sent if isinstance(m, dict) and m["type"] == "voice_done"]
    # Only the first sentence was played as audio: that is all a barge-in could have heard.
    assert voice.heard(1, 5.0) == "First."
