"""From the end of speech to the reply: the whole server path for a spoken command.

A real `ballsy serve` with the embedded speech model (warm), and a WebM/Opus recording
of "what is seven times eight" made with espeak-ng and ffmpeg, sent as the page sends it:
  - WebSocket: audio_start, the recording in 16 KiB binary frames, audio_end -> we time
    from audio_end (the user stopped speaking) to the transcript and to reply_end;
  - REST: POST /api/voice with the same file, timed to the response.

    .venv/bin/python -m bench.bench_voice_path [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from tests.audio import speak_wav, split_chunks, to_webm_opus
from tests.servers import BallsyProcess

from bench.common import machine, median, percentile

PHRASE = "what is seven times eight"


async def over_socket(port: int, audio: bytes, runs: int) -> tuple[list[float], list[float]]:
    to_transcript, to_reply = [], []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/voice/voice-bench", compression=None
    ) as ws:
        for run in range(runs + 2):
            await ws.send(json.dumps({"type": "audio_start", "mime": "audio/webm;codecs=opus"}))
            for chunk in split_chunks(audio, size=16 * 1024):
                await ws.send(chunk)
            ended = time.perf_counter()
            await ws.send(json.dumps({"type": "audio_end"}))
            transcript_at = None
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "transcript":
                    transcript_at = time.perf_counter() - ended
                if message["type"] == "reply_end":
                    assert "56" in message["response"], message
                    if run >= 2 and transcript_at is not None:
                        to_transcript.append(transcript_at)
                        to_reply.append(time.perf_counter() - ended)
                if message["type"] in ("reply_end", "error"):
                    break
    return to_transcript, to_reply


def over_rest(base_url: str, audio: bytes, runs: int) -> list[float]:
    times = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for run in range(runs + 2):
            started = time.perf_counter()
            response = client.post(
                "/api/voice", files={"file": ("command.webm", audio, "audio/webm")}
            )
            assert response.status_code == 200 and "56" in response.json()["response"]
            if run >= 2:
                times.append(time.perf_counter() - started)
    return times


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wav = speak_wav(PHRASE, root / "command.wav")
        audio = to_webm_opus(wav, root / "command.webm").read_bytes()
        server = BallsyProcess(
            {
                "DATA_DIR": str(root / "data"),
                "STT_PRELOAD": "true",
                "RATE_LIMIT_ENABLED": "false",
                "LOG_LEVEL": "WARNING",
                "AI_PROVIDER": "none",
            }
        ).start()
        try:
            server.wait_healthy()
            transcript, reply = asyncio.run(over_socket(server.port, audio, args.runs))
            rest = over_rest(server.base_url, audio, args.runs)
        finally:
            server.kill()
    ms = 1000
    report = (
        "\n".join(
            [
                "## Voice: from the end of speech to the reply",
                "",
                f"Machine: {machine()}.",
                f"Command: `.venv/bin/python -m bench.bench_voice_path --runs {args.runs}`",
                "",
                f'"{PHRASE}" spoken by espeak-ng ({len(audio) / 1024:.0f} KiB of WebM/Opus), the '
                "embedded Whisper tiny.en (int8, 1 thread, warm), the answer computed and stored. "
                f"Median and p90 of {args.runs} runs after 2 warm-ups.",
                "",
                "| path | p50 (ms) | p90 (ms) |",
                "| --- | ---: | ---: |",
                f"| WebSocket: audio_end → transcript | {median(transcript) * ms:.0f} | "
                f"{percentile(transcript, 90) * ms:.0f} |",
                f'| WebSocket: audio_end → reply_end ("That\'s 56.") | {median(reply) * ms:.0f} | '
                f"{percentile(reply, 90) * ms:.0f} |",
                f"| REST: POST /api/voice → response | {median(rest) * ms:.0f} | "
                f"{percentile(rest, 90) * ms:.0f} |",
            ]
        )
        + "\n"
    )
    print(report)
    return report


if __name__ == "__main__":
    main()
