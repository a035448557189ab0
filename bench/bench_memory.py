"""Long-term memory: model load, embedding, recall at 100 / 1,000 / 10,000 facts per user,
and what memory adds to an AI turn's time to first token.

    PYTHONPATH=src .venv/bin/python -m bench.bench_memory [--queries 60] [--turns 60] [--no-pg]

- Model: each load in a fresh Python process (weights read with safetensors, the
  tokenizer built), its time and the resident memory it adds; then one query's
  embedding (a short question, one OpenBLAS thread).
- Recall: a user holding N facts (vectors of real sentences' shape: unit float32, here
  random, since ranking cost does not depend on the words) on SQLite and PostgreSQL.
  "cold" is the first recall on an instance (the vectors read and stacked); "warm" is
  every later one: the (count, newest id) check, the query's embedding, the ranking.
- Turn: `Assistant.run_turn` with an AI provider that answers at once (tests'
  ScriptedLLM), from the call to the first streamed text, for a user with N facts with
  memory on, against the same turn with memory off; blocks alternate so both see the
  same load. The difference is what memory adds to the time to first token.

Prints a markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.pg import ADMIN_DSN, create_database, drop_database
from tests.scripted_llm import Script, ScriptedLLM

from ballsy.assistant.events import TextDelta
from ballsy.assistant.identity import Identity, TokenlessScopes
from ballsy.assistant.pipeline import Assistant, PipelineConfig, TurnRequest
from ballsy.assistant.prompting import PromptBuilder
from ballsy.assistant.recall import LongTermMemory, MemoryOptions
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo
from ballsy.db.engine import build_engine, build_sessionmaker
from ballsy.db.models import RememberedFact, utcnow
from ballsy.providers.embedding.encoder import Embedder
from bench.common import machine, median, percentile, run_python

SIZES = (100, 1_000, 10_000)
QUESTION = "What's my sibling's name?"

_LOAD = """
import json, time, resource
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
import numpy, safetensors, tokenizers, threadpoolctl
threadpoolctl.threadpool_limits(1, 'blas')
before = rss()
t = time.perf_counter()
from ballsy.providers.embedding.minilm import MiniLM
model = MiniLM()
loaded = time.perf_counter() - t
after_load = rss()
t = time.perf_counter()
model.encode('warm up')
first = time.perf_counter() - t
print(json.dumps({"load_s": loaded, "rss_before": before, "rss_added": after_load - before,
                  "rss_after_first": rss() - before, "first_s": first}))
"""


class Unlimited:
    async def check_ai(self, *, user_id: int | None, address: str | None) -> None:
        return None


def model_figures(runs: int = 3) -> list[dict[str, float]]:
    return [json.loads(run_python(_LOAD)) for _ in range(runs)]


def _cpu_of(embedder: Embedder, text: str) -> float:
    """CPU milliseconds of one embedding, measured in the thread that computes it."""
    started = time.thread_time()
    embedder._embed(text)
    return (time.thread_time() - started) * 1000


async def embedding_ms(embedder: Embedder, queries: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of embedding one short question."""
    wall, cpu = [], []
    for i in range(queries):
        started = time.perf_counter()
        await embedder.embed(f"{QUESTION} ({i})")
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append(await embedder.run(_cpu_of, embedder, f"{QUESTION} [{i}]"))
    return wall, cpu


async def add_facts(engine: AsyncEngine, user_id: int, count: int) -> None:
    rng = np.random.default_rng(7)
    done = 0
    while done < count:
        batch = min(1000, count - done)
        vectors = rng.standard_normal((batch, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        rows = [
            {
                "user_id": user_id,
                "text": f"Fact number {done + i} about something the user said",
                "embedding": vectors[i].tobytes(),
                "model": "all-MiniLM-L6-v2",
                "tokens": 9,
                "created_at": utcnow(),
            }
            for i in range(batch)
        ]
        async with engine.begin() as conn:
            await conn.execute(insert(RememberedFact), rows)
        done += batch


async def timed(call: Callable[[], Awaitable[Any]], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def first_text_ms(assistant: Assistant, identity: Identity, cpu: list[float]) -> float:
    """Milliseconds to the turn's first streamed text; appends the CPU milliseconds this
    process spent on the whole turn (every thread: the loop, the embedding's, SQLite's)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    first = float("nan")
    async for event in assistant.run_turn(TurnRequest(identity, QUESTION)):
        if isinstance(event, TextDelta) and first != first:
            first = (time.perf_counter() - started) * 1000
    cpu.append((time.process_time() - cpu_started) * 1000)
    return first


async def database_rows(
    name: str, url: str, embedder: Embedder, queries: int, turns: int
) -> list[list[str]]:
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(_env_file=None, environment="test")  # type: ignore[call-arg]
    engine = build_engine(settings, url=url)
    sessions = build_sessionmaker(engine)
    rows: list[list[str]] = []
    try:
        for size in SIZES:
            async with sessions() as session:
                user = await repo.create_anonymous_user(session, token_hash=secrets.token_hex(32))
                await session.commit()
            await add_facts(engine, user.id, size)
            options = MemoryOptions(max_per_user=size + 10, cache_max_vectors=10 * size + 1000)
            memory = LongTermMemory(engine, embedder, options)
            cold = await timed(lambda: memory.for_prompt(user.id, QUESTION), 1)  # noqa: B023
            warm = await timed(lambda: memory.for_prompt(user.id, QUESTION), queries)  # noqa: B023
            # The turn, with memory and without, in alternating blocks.
            llm = ScriptedLLM(Script(chunks=["Alice."]))

            def build(recall: LongTermMemory | None) -> Assistant:
                return Assistant(
                    engine=engine,
                    sessions=sessions,
                    llm=llm,  # noqa: B023
                    prompts=PromptBuilder(system_prompt="You are Ballsy.", context_max_chars=4000),
                    config=PipelineConfig(),
                    scopes=TokenlessScopes(ttl_seconds=600, max_entries=10, max_turns=6),
                    limits=Unlimited(),
                    recall=recall,
                )

            with_memory, without = build(memory), build(None)
            identity = Identity(user_id=user.id)
            on: list[float] = []
            off: list[float] = []
            cpu_on: list[float] = []
            cpu_off: list[float] = []
            for _ in range(3):  # warm-up: the context fills
                await first_text_ms(with_memory, identity, [])
                await first_text_ms(without, identity, [])
            for block in range(max(1, turns // 10)):
                first, second = (with_memory, on, cpu_on), (without, off, cpu_off)
                for assistant, out, cpu in (first, second) if block % 2 == 0 else (second, first):
                    for _ in range(10):
                        out.append(await first_text_ms(assistant, identity, cpu))
            await with_memory.turns.aclose()
            await without.turns.aclose()
            paired = statistics.median(on) - statistics.median(off)
            rows.append(
                [
                    name,
                    f"{size:,}",
                    f"{cold[0]:.1f}",
                    f"{median(warm):.1f}",
                    f"{percentile(warm, 99):.1f}",
                    f"{median(off):.1f}",
                    f"{median(on):.1f}",
                    f"{percentile(on, 99):.1f}",
                    f"**{paired:+.1f}**",
                    f"{median(cpu_off):.1f} / {median(cpu_on):.1f}",
                    f"{min(on) - min(off):+.1f}",
                ]
            )
    finally:
        await engine.dispose()
    return rows


async def main_async(args: argparse.Namespace) -> str:
    embedder = Embedder(threads=1)
    await embedder.load()
    embeds, embed_cpu = await embedding_ms(embedder, args.queries)
    tmp = Path("/tmp") / f"ballsy-bench-memory-{uuid.uuid4().hex[:8]}.db"
    rows = await database_rows("SQLite", f"sqlite:///{tmp}", embedder, args.queries, args.turns)
    tmp.unlink(missing_ok=True)
    if not args.no_pg:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3):
            pass
        db_name, url = create_database()
        try:
            rows += await database_rows("PostgreSQL", url, embedder, args.queries, args.turns)
        finally:
            drop_database(db_name)
    embedder.close()
    loads = model_figures()
    load_runs = ", ".join(f"{x['load_s'] * 1000:.0f}" for x in loads)

    out = [
        "## Long-term memory: model, recall, time to first token",
        "",
        f"Machine: {machine()}.",
        f"Command: `PYTHONPATH=src .venv/bin/python -m bench.bench_memory --queries "
        f"{args.queries} --turns {args.turns}`",
        "",
        "Model (all-MiniLM-L6-v2 in numpy; each load in a fresh process, 3 runs): "
        f"load {median([x['load_s'] for x in loads]) * 1000:.0f} ms median "
        f"({load_runs}), resident memory "
        f"+{median([x['rss_added'] for x in loads]):.0f} MB after loading, "
        f"+{median([x['rss_after_first'] for x in loads]):.0f} MB after the first "
        f"embedding; first embedding {median([x['first_s'] for x in loads]) * 1000:.0f} ms. "
        f"One query's embedding ({len(embeds)} short questions, one OpenBLAS thread): "
        f"median {median(embeds):.1f} ms, p99 {percentile(embeds, 99):.1f} ms, fastest "
        f"{min(embeds):.1f} ms of wall time; "
        f"median {median(embed_cpu):.1f} ms of CPU (the wall time, less the waits for a core, "
        "which on a loaded machine dominate).",
        "",
        "Recall: one user holding N facts. Cold: the first recall on an instance (the "
        "facts' vectors read and stacked into its cache). Warm: every later recall, the "
        "(count, newest id) check against the database, the question's embedding and the "
        "ranking. Turn: `Assistant.run_turn` to the first streamed text with an AI "
        "provider that answers at once, for the same user with memory on and off, "
        f"{args.turns} turns each in alternating blocks of 10; the last column is what "
        "memory adds to the time to first token (goal: under 40 ms). The CPU column is the "
        "CPU time the process spent on each whole turn (every thread), with memory off and "
        "on. The last column compares the fastest turn of each kind: the least disturbed "
        "by the machine's other work, the nearest to what an idle machine gives.",
        "",
        "| database | facts | cold recall (ms) | warm recall p50 (ms) | warm recall p99 (ms) "
        "| turn, memory off, p50 (ms) | turn, memory on, p50 (ms) | memory on, p99 (ms) "
        "| memory adds, p50 (ms) | CPU per turn, off / on, p50 (ms) "
        "| memory adds, fastest turns (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    print(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
