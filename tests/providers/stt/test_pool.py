"""The speech worker pool: a worker that crashes, is killed or overruns costs one job a
coded error and is replaced; the next job is answered by the new worker.

Real worker processes with the real model, on real espeak-ng speech; signals are sent
to a worker while it is recognising (the pool says which stage each worker is in).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ballsy.errors import InvalidAudio, ProviderUnavailable, SttUnavailable
from tests import audio
from tests.audio_fuzz import unknown_tag_wav, zero_bits_wav

pytestmark = [pytest.mark.speech, pytest.mark.slow]


def _spec(*, memory_mb: int | None = 1536) -> Any:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from ballsy.providers.stt.whisper import WhisperConfig, resolve_model_path
    from ballsy.providers.stt.worker import WorkerSpec

    config = WhisperConfig(model_path=resolve_model_path("embedded"), device="cpu")
    return WorkerSpec(
        engine=config.engine_options(),
        max_seconds=60,
        memory_bytes=memory_mb * 1024 * 1024 if memory_mb else None,
        warm=False,
    )


def _pool(*, job_timeout_seconds: float = 120, memory_mb: int | None = 1536) -> Any:
    from ballsy.providers.stt.pool import WorkerPool

    return WorkerPool(_spec(memory_mb=memory_mb), size=1, job_timeout_seconds=job_timeout_seconds)


@pytest.fixture(scope="module")
def pool() -> Iterator[Any]:
    pool = _pool()
    pool.start_all()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def runner() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def _job(data: bytes, content_type: str | None = "audio/wav") -> Any:
    from ballsy.providers.stt.pool import Job

    return Job(data, content_type)


def _until(condition: Callable[[], Any], *, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it is dead all the same.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _recognising(pool: Any, runner: ThreadPoolExecutor, job: Any) -> tuple[Future[Any], int]:
    """Start a long job and return it with its worker's pid once the audio is decoded."""
    future = runner.submit(pool.run, job)
    pids = _until(lambda: pool.pids_at("recognising") or future.done())
    assert not future.done(), future.result()
    return future, pids[0]


def test_a_spoken_command_is_transcribed_in_a_worker(
    pool: Any, seven_times_eight_wav: Path
) -> None:
    transcript = pool.run(_job(seven_times_eight_wav.read_bytes()))
    assert audio.word_errors("what is seven times eight", transcript.text) <= 1
    assert transcript.audio_seconds > 1
    assert pool.pids() and os.getpid() not in pool.pids()


@pytest.mark.parametrize("data", [zero_bits_wav(), unknown_tag_wav()], ids=["0-bits", "0x9999"])
def test_the_reported_crashing_wavs_are_invalid_audio(pool: Any, data: bytes) -> None:
    before = pool.replaced
    with pytest.raises(InvalidAudio) as refused:
        pool.run(_job(data))
    assert refused.value.code == "invalid_audio" and refused.value.status == 422
    assert pool.replaced == before  # refused by the header check: no worker was lost


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
def test_a_worker_killed_mid_job_is_replaced_and_the_next_job_answered(
    pool: Any,
    runner: ThreadPoolExecutor,
    sig: signal.Signals,
    long_speech_wav: Path,
    seven_times_eight_wav: Path,
) -> None:
    before = pool.replaced
    running, pid = _recognising(pool, runner, _job(long_speech_wav.read_bytes()))
    os.kill(pid, sig)

    with pytest.raises(SttUnavailable) as failed:
        running.result(timeout=60)
    assert failed.value.code == "stt_unavailable" and failed.value.status == 503
    assert sig.name in failed.value.message
    assert pool.replaced == before + 1
    assert not _alive(pid)
    successor = _until(pool.pids)
    assert pid not in successor

    transcript = pool.run(_job(seven_times_eight_wav.read_bytes()))
    assert "times" in transcript.text.lower()


def test_a_worker_crashing_while_decoding_costs_that_upload_invalid_audio(
    runner: ThreadPoolExecutor, seven_times_eight_wav: Path, tmp_path: Path
) -> None:
    from ballsy.providers.stt.pool import WorkerPool
    from ballsy.providers.stt.worker import WorkerSpec

    # Half an hour of MP3 takes seconds to decode: long enough to crash the decoder
    # mid-way, as the reported WAVs did, with a fault signal.
    long_mp3 = tmp_path / "half-hour.mp3"
    audio.ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=300:duration=1800:sample_rate=8000"),
        *("-ac", "1", "-c:a", "libmp3lame", "-b:a", "8k", str(long_mp3)),
    )
    base = _spec()
    spec = WorkerSpec(engine=base.engine, max_seconds=4000, memory_bytes=None, warm=False)
    pool = WorkerPool(spec, size=1, job_timeout_seconds=120)
    try:
        pool.start_all()
        future = runner.submit(pool.run, _job(long_mp3.read_bytes(), "audio/mpeg"))
        (pid,) = _until(lambda: pool.pids_at("decoding") or future.done())
        os.kill(pid, signal.SIGSEGV)
        with pytest.raises(InvalidAudio, match="crashed the decoder") as refused:
            future.result(timeout=60)
        assert refused.value.status == 422
        assert pool.replaced == 1
        assert "times" in pool.run(_job(seven_times_eight_wav.read_bytes())).text.lower()
    finally:
        pool.close()


def test_a_worker_killed_while_idle_is_replaced_without_blaming_anyone(
    pool: Any, seven_times_eight_wav: Path
) -> None:
    (pid,) = _until(pool.pids)
    os.kill(pid, signal.SIGKILL)
    # Its threads take a moment to be torn down; the pool sees it gone once they are.
    _until(lambda: pid not in pool.pids())

    transcript = pool.run(_job(seven_times_eight_wav.read_bytes()))
    assert "times" in transcript.text.lower()
    assert pid not in pool.pids()


def test_a_job_past_its_deadline_is_killed_and_the_worker_replaced(
    runner: ThreadPoolExecutor, long_speech_wav: Path, tmp_path: Path
) -> None:
    # A worker hung in recognition (stopped once it says the audio is decoded) never
    # answers; the pool gives up at the deadline. How fast this machine recognises does
    # not matter: a fast one finished 17 s of speech inside a short deadline.
    pool = _pool(job_timeout_seconds=5)
    try:
        pool.start_all()
        started = time.monotonic()
        running, pid = _recognising(pool, runner, _job(long_speech_wav.read_bytes()))
        os.kill(pid, signal.SIGSTOP)
        with pytest.raises(SttUnavailable, match=r"longer than 5 s") as overran:
            running.result(timeout=60)
        assert overran.value.code == "stt_unavailable"
        assert time.monotonic() - started < 30  # killed, not waited for
        assert not _alive(pid)

        # The successor answers a job that fits in the deadline (silence: no model work).
        quiet = audio.silence_wav(tmp_path / "quiet.wav", seconds=1).read_bytes()
        pool.job_timeout_seconds = 120  # its model may still be loading on a busy machine
        assert pool.run(_job(quiet)).text == ""
        assert pid not in pool.pids()
    finally:
        pool.close()


def test_a_cancelled_job_stops_between_phrases(
    pool: Any, runner: ThreadPoolExecutor, long_speech_wav: Path
) -> None:
    job = _job(long_speech_wav.read_bytes())
    future, pid = _recognising(pool, runner, job)
    # Held still while the flag is raised, so a fast machine cannot finish all 17 s first.
    os.kill(pid, signal.SIGSTOP)
    try:
        job.cancel()
    finally:
        os.kill(pid, signal.SIGCONT)
    transcript = future.result(timeout=60)
    # The phrase being recognised finishes; the rest of the 17 s is skipped.
    assert audio.word_error_rate([audio.LONG_TEXT], [transcript.text]) > 0.3


def _address_space_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmPeak")


def test_a_job_that_outgrows_the_memory_cap_fails_alone(
    seven_times_eight_wav: Path, tmp_path: Path
) -> None:
    from ballsy.providers.stt.pool import WorkerPool
    from ballsy.providers.stt.worker import WorkerSpec

    # A warmed-up worker needs no more address space for a spoken command, but voice
    # detection over five minutes of audio (10 MB of WAV) needs some 130 MB more. The cap
    # is set 48 MB above a fresh warm worker's own peak, measured here on this machine.
    base = _spec(memory_mb=None)

    def warm_pool(cap: int | None) -> WorkerPool:
        spec = WorkerSpec(engine=base.engine, max_seconds=400, memory_bytes=cap, warm=True)
        return WorkerPool(spec, size=1, job_timeout_seconds=120)

    probe = warm_pool(None)
    try:
        probe.start_all()
        ready_peak = _address_space_peak(probe.pids()[0])
    finally:
        probe.close()
    minutes = audio.silence_wav(tmp_path / "five-minutes.wav", seconds=300).read_bytes()
    capped = warm_pool(ready_peak + 48 * 1024 * 1024)
    try:
        capped.start_all()
        (pid,) = capped.pids()
        with pytest.raises(SttUnavailable, match=r"memory|bad_alloc") as refused:
            capped.run(_job(minutes))
        assert refused.value.code == "stt_unavailable"
        assert capped.replaced == 1
        assert not _alive(pid)
        # Its successor, under the same cap, answers an ordinary command.
        assert "times" in capped.run(_job(seven_times_eight_wav.read_bytes())).text.lower()
    finally:
        capped.close()


def test_a_worker_that_cannot_fit_the_model_in_its_memory_cap_is_reported() -> None:
    pool = _pool(memory_mb=64)  # far below what importing the speech stack needs
    try:
        with pytest.raises(ProviderUnavailable, match="could not be loaded"):
            pool.start_all()
        assert not pool.ready
    finally:
        pool.close()


def test_closing_the_pool_ends_every_worker(seven_times_eight_wav: Path) -> None:
    pool = _pool()
    pool.start_all()
    (pid,) = pool.pids()
    pool.close()
    assert not _alive(pid)
    with pytest.raises(SttUnavailable, match="shutting down"):
        pool.run(_job(seven_times_eight_wav.read_bytes()))
