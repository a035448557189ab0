"""The recognition benchmark in small: a handful of commands in the voices tiny.en found
hardest, decoded as the server decodes them, every spoken sum answered right.

bench/bench_recognition.py runs the whole set (20 commands, six voices) and the
comparison with the decoding used before; this keeps the tuned decoding from sliding back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from bench.recognition_phrases import (
    HELD_OUT_SUMS,
    PHRASES,
    TEST_PHRASES,
    answered_right,
    taken_for_sum,
    word_error_rate,
)

from tests import voices

pytestmark = pytest.mark.speech

# Three espeak-ng voices that turned "what is seven times eight" into "What in seven time
# made?" before the decoding was tuned, and the Piper voice.
HARD_VOICES = ("en", "en-gb-x-rp", "en-us+f3", voices.PIPER)


def server_engine(**changes: Any) -> Any:
    """The embedded model with the decoding the server uses by default, or `changes`."""
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.config import Settings
    from ballsy.providers.stt.engine import WhisperEngine
    from ballsy.providers.stt.whisper import WhisperConfig, resolve_model_path

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    config = WhisperConfig(
        model_path=resolve_model_path("embedded"),
        device="cpu",
        beam_size=defaults.stt_beam_size,
        language=defaults.stt_language,
        command_prompt=defaults.stt_command_prompt,
    )
    return WhisperEngine(replace(config.engine_options(), **changes))


def listen(engine: Any) -> tuple[float, list[tuple[str, str, str]]]:
    """(word error rate, the sums answered wrong) over the test phrases in HARD_VOICES."""
    said: list[str] = []
    heard: list[str] = []
    wrong_sums: list[tuple[str, str, str]] = []
    for voice in HARD_VOICES:
        for phrase in TEST_PHRASES:
            text = engine.transcribe(voices.to_float(voices.say(phrase.text, voice))).text
            said.append(phrase.text)
            heard.append(text)
            if not answered_right(phrase, text):
                wrong_sums.append((voice, phrase.text, text))
    return word_error_rate(said, heard), wrong_sums


def test_short_commands_are_heard_and_every_sum_is_answered_right() -> None:
    wer, wrong_sums = listen(server_engine())
    assert wrong_sums == []
    # Measured 19% here, most of it "bohemian rhapsody", a name tiny.en does not know (the
    # whole benchmark: 9.7%); the decoding used before measured 24%.
    assert wer <= 0.25
    # That decoding (no prompt, temperature fallback, beam 2) got sums wrong here, as
    # "what is seven times eight" -> "What in seven times made?" in three voices.
    _, before_wrong = listen(
        server_engine(beam_size=2, initial_prompt=None, temperature_fallback=True, sum_prompt=None)
    )
    assert before_wrong != []


# Sums whose first decode has a word that is no number ("How much is three times high?",
# "What is it multiplied by nine?"), and a command that only sounds like a sum.
MISHEARD_SUMS = (
    ("en-us+f3", "how much is three times nine"),
    ("en-us", "what is eight multiplied by nine"),
    # The benchmark's last two: the beam's best sum was a question asked after the one
    # said ("What is i minus three? What is nine minus three?"), and no reading of the
    # beam as spoken was the sum ("What in eighteen one divided by nine?": heard slower).
    ("en-gb-x-rp", "what is nine minus three"),
    ("en", "what is eighty one divided by nine"),
)
NOT_A_SUM = ("en-gb-x-rp", "what is a plus one")


def test_a_sum_misheard_as_words_is_decoded_again_among_calculations() -> None:
    engine, one_decode = server_engine(), server_engine(sum_prompt=None)
    phrases = {phrase.text: phrase for phrase in (*HELD_OUT_SUMS, *PHRASES)}
    for voice, said in MISHEARD_SUMS:
        samples = voices.to_float(voices.say(said, voice))
        first = one_decode.transcribe(samples).text
        assert not answered_right(phrases[said], first), (voice, first)  # the case at hand
        heard = engine.transcribe(samples).text
        assert answered_right(phrases[said], heard), (voice, said, heard)
    voice, said = NOT_A_SUM
    heard = engine.transcribe(voices.to_float(voices.say(said, voice))).text
    assert not taken_for_sum(heard), heard


def test_a_sentence_whisper_repeats_is_kept_once() -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.engine import collapse_repeats

    assert collapse_repeats("What is nine minus three? What is nine minus three?") == (
        "What is nine minus three?"
    )
    assert collapse_repeats("Stop. Go.") == "Stop. Go."
    assert collapse_repeats("hello hello") == "hello hello"
    assert collapse_repeats("Open YouTube.") == "Open YouTube."
    # A decimal point ends no sentence: a number is kept whole, and one said twice once.
    assert collapse_repeats("1.1.") == "1.1."
    assert collapse_repeats("2.2") == "2.2"
    assert collapse_repeats("Three point five. 3.5.") == "Three point five. 3.5."
    assert collapse_repeats("It is 3.5. It is 3.5.") == "It is 3.5."
