"""What running speech recognition in a worker process costs, against running it in-process.

Both paths transcribe the same 3 s spoken command (espeak-ng, 16 kHz WAV) with the same
model settings, one request at a time, interleaved (in-process then isolated, then the
other way round) so the machine's load falls on both alike. "Added" is the median of the
paired differences. The isolated path's own overhead is also shown directly: its wall
time minus the time the worker itself reports (sending the audio, the replies, threads).

Then a real `ballsy serve` (STT_MAX_CONCURRENCY=1) after one voice request: resident
memory of the server, of its speech worker and of multiprocessing's resource tracker.

    .venv/bin/python -m bench.bench_stt_isolation [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.audio import fit_duration, speak_wav
from tests.servers import BallsyProcess

from bench.common import compile_bytecode, machine, median, percentile, rss_mb

PHRASE = "what is seven times eight"


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def interleaved(wav: bytes, rounds: int) -> dict[str, list[float]]:
    from ballsy.providers.stt.engine import WhisperEngine
    from ballsy.providers.stt.whisper import WhisperConfig, WhisperSpeechToText, resolve_model_path

    config = WhisperConfig(model_path=resolve_model_path("embedded"), device="cpu")
    engine = await asyncio.to_thread(WhisperEngine, config.engine_options())
    in_process = WhisperSpeechToText(config, engine=engine)
    isolated = WhisperSpeechToText(config)
    started = time.perf_counter()
    await isolated.warm_up()
    start_seconds = time.perf_counter() - started
    await in_process.warm_up()
    times: dict[str, list[float]] = {"in": [], "iso": [], "diff": [], "ipc": []}
    try:
        for round_ in range(rounds + 2):
            order = (in_process, isolated) if round_ % 2 == 0 else (isolated, in_process)
            walls: dict[int, float] = {}
            for stt in order:
                t0 = time.perf_counter()
                transcript = await stt.transcribe(wav, content_type="audio/wav")
                walls[id(stt)] = time.perf_counter() - t0
                assert "times" in transcript.text.lower(), transcript.text
                if stt is isolated:
                    reported = transcript.processing_seconds
            if round_ < 2:
                continue  # warm-ups
            times["in"].append(walls[id(in_process)])
            times["iso"].append(walls[id(isolated)])
            times["diff"].append(walls[id(isolated)] - walls[id(in_process)])
            times["ipc"].append(walls[id(isolated)] - reported)
    finally:
        await isolated.aclose()
    times["start"] = [start_seconds]
    return times


def server_memory(wav: bytes, folder: Path) -> dict[str, float]:
    server = BallsyProcess(
        {
            "DATA_DIR": str(folder / "data"),
            "STT_ENABLED": "true",
            "STT_PRELOAD": "true",
            "STT_DEVICE": "cpu",
            "RATE_LIMIT_ENABLED": "false",
        }
    ).start()
    try:
        server.wait_healthy(timeout=60)
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            for _ in range(3):
                response = client.post("/api/voice", files={"file": ("c.wav", wav, "audio/wav")})
                assert response.status_code == 200, response.text
        assert server.proc is not None
        out = {"server": rss_mb(server.proc.pid), "worker": 0.0, "tracker": 0.0}
        for child in _children(server.proc.pid):
            kind = "tracker" if "resource_tracker" in _cmdline(child) else "worker"
            out[kind] += rss_mb(child)
        return out
    finally:
        server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    compile_bytecode()
    header = machine()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spoken = speak_wav(PHRASE, folder / "spoken.wav")
        wav = fit_duration(spoken, folder / "command.wav", seconds=3).read_bytes()
        times = asyncio.run(interleaved(wav, args.rounds))
        memory = server_memory(wav, folder)

    def ms(values: list[float], q: float | None = None) -> str:
        value = median(values) if q is None else percentile(values, q)
        return f"{value * 1000:.1f} ms"

    print("## Speech isolation: worker process against in-process\n")
    print(f"Machine: {header}.")
    print(f"Command: `.venv/bin/python -m bench.bench_stt_isolation --rounds {args.rounds}`\n")
    print(
        f'"{PHRASE}" spoken by espeak-ng, padded to 3 s, 16 kHz WAV; embedded tiny.en, int8, '
        "1 CPU thread, beam 2; one request at a time, the two paths interleaved "
        f"({args.rounds} rounds after 2 warm-ups). Times are from `transcribe()` to its result.\n"
    )
    print("| Path | Median | p90 |")
    print("|---|---|---|")
    print(f"| in-process (the caller's threads) | {ms(times['in'])} | {ms(times['in'], 90)} |")
    print(f"| isolated (spawned worker process) | {ms(times['iso'])} | {ms(times['iso'], 90)} |")
    print(
        f"| **added by isolation** (median of paired differences) | **{ms(times['diff'])}** "
        f"| {ms(times['diff'], 90)} |"
    )
    print(
        f"| isolated wall minus the worker's own time (pipe, threads) | {ms(times['ipc'])} "
        f"| {ms(times['ipc'], 90)} |"
    )
    spread = statistics.pstdev(times["in"]) * 1000
    print(
        f"\nThe in-process times vary by {spread:.0f} ms (standard deviation) on this shared "
        "machine, so the paired difference moves by that much between runs; the pipe's own "
        "cost (last row) is what the isolation adds by construction."
    )
    print(
        f"\nStarting a worker (spawn, import the speech stack, load and warm the model): "
        f"{times['start'][0]:.2f} s, in the background after the server is healthy."
    )
    total = memory["server"] + memory["worker"] + memory["tracker"]
    print(
        f"\nResident memory of a real `ballsy serve` after three voice requests "
        f"(STT_MAX_CONCURRENCY=1): server {memory['server']:.0f} MB, speech worker "
        f"{memory['worker']:.0f} MB, resource tracker {memory['tracker']:.0f} MB; "
        f"{total:.0f} MB in all. Each further worker adds about the worker's figure."
    )


if __name__ == "__main__":
    main()
