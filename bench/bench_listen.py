"""Live listening: from the end of speech to the final transcript and to the reply text,
and the CPU one listening user costs.

A real `ballsy serve` with the embedded speech model (warm) and no AI (the command is
answered by Ballsy itself), and a client that streams exactly what the page streams:
audio_start {"mime": "audio/pcm;rate=16000", "stream": true}, then 16 kHz PCM16 in 100 ms
binary frames *at the pace of a microphone*, with no audio_end: the server's endpointing
ends the turn after LISTEN_SILENCE_SECONDS of silence. The speech is "what is seven
times eight" by espeak-ng with 0.5 s of silence before and 2 s after.

End of speech is the moment the frame holding the last voiced sample is sent (found
in the audio: the last 20 ms whose loudness passes the endpointer's minimum threshold).
The goal is the reply text within the silence window + 0.25 s.

CPU per listening user: the CPU seconds the server and its speech workers use (from
/proc) per second of audio streamed, measured over the timed runs (speech: partials,
final, reply) and over a stream of silence alone (nobody speaking: endpointing only).

    .venv/bin/python -m bench.bench_listen [--runs 20] [--silence 0.6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import tempfile
import time
from array import array
from pathlib import Path

import websockets
from tests.audio import spoken_pcm
from tests.servers import BallsyProcess

from bench.common import machine, median, percentile

PHRASE = "what is seven times eight"
RATE = 16_000
FRAME_SECONDS = 0.1
FRAME_BYTES = int(RATE * 2 * FRAME_SECONDS)
VOICED_RMS = 0.01  # the endpointer's lowest threshold (providers/stt/endpoint.py)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The page before live listening stopped recording after this much silence
# (SILENCE_AFTER_SPEECH_MS in web/listener.js), then uploaded the recording.
OLD_PAGE_SILENCE = 1.1


def pcm_of(text: str, root: Path) -> bytes:
    return spoken_pcm(text, root, lead=0.5, tail=2.0)


def speech_end_frame(pcm: bytes) -> int:
    """Index of the 100 ms frame holding the last voiced 20 ms of `pcm`."""
    samples = array("h")
    samples.frombytes(pcm)
    step = RATE // 50
    last = 0
    for start in range(0, len(samples) - step + 1, step):
        window = samples[start : start + step]
        level = math.sqrt(sum(v * v for v in window) / step) / 32768
        if level >= VOICED_RMS:
            last = start + step
    return (last * 2) // FRAME_BYTES


def decode_seconds(log: Path) -> list[float]:
    """How long each decode (partial or final) took, from the server's log."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == "transcribed audio":
            times.append(float(record["processing_seconds"]))
    return times


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and all its descendants (the speech workers), from /proc."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def stream(ws: websockets.ClientConnection, pcm: bytes, end_frame: int) -> dict[str, float]:
    """One utterance paced like a microphone; times (s) from the end of speech."""
    await ws.send(
        json.dumps({"type": "audio_start", "mime": "audio/pcm;rate=16000", "stream": True})
    )
    times: dict[str, float] = {"partials": 0.0}
    ended_at: float | None = None
    done = asyncio.Event()

    async def receive() -> None:
        while True:
            message = json.loads(await ws.recv())
            kind = message["type"]
            now = time.perf_counter()
            since = now - ended_at if ended_at is not None else float("nan")
            if kind == "partial":
                times["partials"] += 1
            elif kind == "speech_end":
                times["speech_end"] = since
                if message["reason"] == "no_speech":
                    done.set()
                    return
            elif kind == "transcript":
                times["transcript"] = since
                times["heard_ok"] = float(
                    "7 times 8" in message["text"] or "seven" in message["text"].lower()
                )
            elif kind in {"reply_delta", "reply_end"} and "reply" not in times:
                times["reply"] = since
            if kind in {"reply_end", "error"}:
                done.set()
                return

    receiver = asyncio.create_task(receive())
    start = time.perf_counter()
    for index in range(0, len(pcm) // FRAME_BYTES + 1):
        if done.is_set():
            break
        frame = pcm[index * FRAME_BYTES : (index + 1) * FRAME_BYTES]
        if not frame:
            break
        # The microphone's pace: frame i is available at (i + 1) x 100 ms.
        await asyncio.sleep(max(0.0, start + (index + 1) * FRAME_SECONDS - time.perf_counter()))
        await ws.send(frame)
        if index == end_frame:
            ended_at = time.perf_counter()
    await asyncio.wait_for(done.wait(), timeout=60)
    await receiver
    return times


async def recorded(ws: websockets.ClientConnection, pcm: bytes, end_frame: int) -> float:
    """The page before live listening: the whole recording up to OLD_PAGE_SILENCE after the
    speech, sent at once and ended with audio_end; seconds from audio_end to the reply text."""
    cut = (end_frame + 1) * FRAME_BYTES + int(OLD_PAGE_SILENCE * RATE * 2)
    await ws.send(json.dumps({"type": "audio_start", "mime": "audio/pcm;rate=16000"}))
    for offset in range(0, cut, FRAME_BYTES * 5):
        await ws.send(pcm[offset : min(cut, offset + FRAME_BYTES * 5)])
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "audio_end"}))
    reply = float("nan")
    while True:
        message = json.loads(await ws.recv())
        if message["type"] in {"reply_delta", "reply_end"} and reply != reply:
            reply = time.perf_counter() - started
        if message["type"] in {"reply_end", "error"}:
            return reply


async def measure(port: int, pid: int, pcm: bytes, runs: int) -> dict[str, object]:
    end_frame = speech_end_frame(pcm)
    results: list[dict[str, float]] = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/voice/listen-bench") as ws:
        await ws.send(json.dumps({"type": "hello"}))
        json.loads(await ws.recv())
        for _ in range(2):  # warm-up
            await stream(ws, pcm, end_frame)
        cpu_before, audio = cpu_seconds(pid), 0.0
        for _ in range(runs):
            results.append(await stream(ws, pcm, end_frame))
            audio += (end_frame + 1) * FRAME_SECONDS + 0.6
        speech_cpu = (cpu_seconds(pid) - cpu_before) / audio
        silence = bytes(FRAME_BYTES * 80)  # 8 s: nobody speaks (LISTEN_NO_SPEECH_SECONDS)
        cpu_before = cpu_seconds(pid)
        await stream(ws, silence, len(silence))
        silence_cpu = (cpu_seconds(pid) - cpu_before) / 8.0
        old = [await recorded(ws, pcm, end_frame) for _ in range(runs)]
    return {"results": results, "speech_cpu": speech_cpu, "silence_cpu": silence_cpu, "old": old}


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--silence", type=float, default=0.6, help="LISTEN_SILENCE_SECONDS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pcm = pcm_of(PHRASE, root)
        server = BallsyProcess(
            {
                "DATA_DIR": str(root / "data"),
                "STT_PRELOAD": "true",
                "RATE_LIMIT_ENABLED": "false",
                # INFO: each decode's time is logged ("transcribed audio"), read below.
                "LOG_LEVEL": "INFO",
                "LOG_FORMAT": "json",
                "AI_PROVIDER": "none",
                "LISTEN_SILENCE_SECONDS": str(args.silence),
            },
            log_path=root / "server.log",
        ).start()
        try:
            server.wait_healthy()
            assert server.proc is not None
            measured = asyncio.run(measure(server.port, server.proc.pid, pcm, args.runs))
        finally:
            server.kill()
        decodes = decode_seconds(root / "server.log")
    results = measured["results"]
    old = measured["old"]
    assert isinstance(results, list) and isinstance(old, list)
    to_end = [r["speech_end"] for r in results]
    to_transcript = [r["transcript"] for r in results]
    to_reply = [r["reply"] for r in results]
    partials = [r["partials"] for r in results]
    heard = sum(r.get("heard_ok", 0.0) for r in results)
    goal = args.silence + 0.25
    ms = 1000
    rows = [
        ("end of speech → speech_end (the server's endpoint)", to_end),
        ("end of speech → final transcript", to_transcript),
        ("end of speech → reply text", to_reply),
    ]
    report = (
        "\n".join(
            [
                "## Live listening: end of speech to the transcript and the reply",
                "",
                f"Machine: {machine()}.",
                f"Command: `.venv/bin/python -m bench.bench_listen --runs {args.runs} "
                f"--silence {args.silence}`",
                "",
                f'"{PHRASE}" by espeak-ng streamed as 16 kHz PCM16 in 100 ms frames at the pace of '
                f"a microphone; LISTEN_SILENCE_SECONDS={args.silence}; embedded Whisper tiny.en "
                f"(int8, 1 thread, one warm worker); answered by Ballsy itself. {args.runs} runs "
                f"after 2 warm-ups; {heard:.0f}/{args.runs} heard right; "
                f"{median(partials):.0f} partial transcripts per utterance (median). Each decode "
                f"(partial or final) took p50 {median(decodes) * ms:.0f} ms, p95 "
                f"{percentile(decodes, 95) * ms:.0f} ms of wall time on this machine "
                f"({len(decodes)} decodes).",
                "",
                "| from the end of speech to | p50 (ms) | p95 (ms) |",
                "| --- | ---: | ---: |",
                *[
                    f"| {label.split('→ ')[1]} | {median(values) * ms:.0f} | "
                    f"{percentile(values, 95) * ms:.0f} |"
                    for label, values in rows
                ],
                "",
                f"Goal: reply text within the silence window + 0.25 s = {goal * ms:.0f} ms "
                f"(p50 {'met' if median(to_reply) <= goal else 'missed'}, "
                f"p95 {'met' if percentile(to_reply, 95) <= goal else 'missed'}).",
                "",
                "Side by side, the same runs: the page before live listening stopped recording "
                f"{OLD_PAGE_SILENCE:g} s after the speech and then sent it, so from the end of "
                "speech "
                f"to the reply text took {OLD_PAGE_SILENCE:g} s + audio_end → reply text "
                f"(p50 {median(old) * ms:.0f} ms, p95 {percentile(old, 95) * ms:.0f} ms) = "
                f"p50 {(OLD_PAGE_SILENCE + median(old)) * ms:.0f} ms against "
                f"{median(to_reply) * ms:.0f} ms live "
                f"({(OLD_PAGE_SILENCE + median(old)) / median(to_reply):.2f}x).",
                "",
                "CPU per listening user (server + speech workers, CPU s per second of audio): "
                f"{measured['speech_cpu']:.2f} while speaking (partials, final, reply), "
                f"{measured['silence_cpu']:.3f} while nobody speaks (endpointing only).",
            ]
        )
        + "\n"
    )
    print(report)
    return report


if __name__ == "__main__":
    main()
