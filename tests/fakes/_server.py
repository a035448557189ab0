"""A tiny scriptable HTTP/1.1 server for fake AI providers.

It runs its own asyncio loop in a background thread, so sync tests, async tests and
browser tests can all use it, and its timing does not depend on the test's loop.
It binds 127.0.0.1 on a free port and checks, before returning from `start()`, that
the listener answering is really this server (GET /__whoami with a random token).

Each request to a model endpoint consumes the next scripted step (`Reply`, `Fail`,
`Drop`, `Raw`), unless the fake refuses it first (wrong key, unknown model); when the
script is empty the server answers `default`. One request per connection
(`Connection: close`), so a closed socket always means the client left. Every request
is recorded with whether the client closed the connection before the response ended,
so tests can assert that cancelling a reply really reached the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

FOREVER = 30.0  # a "stall" lasts this long at most, so no test can hang on it


@dataclass(frozen=True)
class Reply:
    """A successful streamed answer, with optional faults injected on the way."""

    chunks: Sequence[str] = ("Hello", " from", " the fake.")
    head_delay: float = 0.0  # before the status line: a stall before anything arrives
    first_delay: float = 0.0  # after the headers, before the first chunk
    chunk_delay: float = 0.0  # between chunks
    stall_after: int | None = None  # after this many chunks, hang until the client leaves
    close_after: int | None = None  # after this many chunks, drop the connection
    malformed_after: int | None = None  # after this many chunks, send a line that is not JSON
    finish_reason: str | None = None  # None: the provider's normal "stop" reason
    blocked: str | None = None  # the prompt is blocked for this reason (no text at all)
    input_tokens: int = 11
    output_tokens: int | None = None  # None: one per chunk
    # Function calls the model makes after its text: (name, arguments) pairs.
    tool_calls: Sequence[tuple[str, dict[str, Any]]] = ()


@dataclass(frozen=True)
class Fail:
    """An HTTP error answer, `times` requests in a row."""

    status: int
    message: str = "scripted failure"
    times: int = 1
    retry_after: float | None = None


@dataclass(frozen=True)
class Drop:
    """Close the connection right after reading the request (a network error)."""

    times: int = 1


@dataclass(frozen=True)
class Raw:
    """A 200 event stream whose `data:` payloads are sent verbatim."""

    payloads: Sequence[str]


Step = Reply | Fail | Drop | Raw


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.monotonic()
    completed: bool = False  # the whole response was written
    client_closed_at: float | None = None  # the client hung up before the response ended

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    gone: asyncio.Event = field(default_factory=asyncio.Event)


class ClientGone(Exception):
    """The client closed the connection while we were answering."""


class FakeHttpServer:
    """Base class: HTTP plumbing, the script, the records. Subclasses speak a provider."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self.default: Step = Reply()
        self._script: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------
    @classmethod
    def start_new(cls, **kwargs: Any) -> Self:
        return cls(**kwargs).start()

    def start(self) -> Self:
        """Listen on 127.0.0.1 (free port) in a background thread; confirm it is ours."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-ai", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), loop).result(timeout=5)
        self._confirm_listener()
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start() if self._loop is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _listen(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        assert self._server is not None and self._stopping is not None
        self._stopping.set()
        self._server.close()
        self._server.close_clients()
        await self._server.wait_closed()

    def _confirm_listener(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/__whoami")
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        if body != self.token:
            self.stop()
            raise RuntimeError(f"port {self.port} is answered by another server")

    # --- script and records ------------------------------------------------------
    def script(self, *steps: Step) -> Self:
        """Queue steps; each model request consumes one (`times` counts for Fail/Drop)."""
        with self._lock:
            for step in steps:
                repeat = step.times if isinstance(step, Fail | Drop) else 1
                self._script.extend([step] * repeat)
        return self

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Model requests received so far (the whoami probe excluded)."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> list[RecordedRequest]:
        """Requests whose client hung up before the response was complete."""
        return [r for r in self.requests if r.client_closed_at is not None]

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float) -> bool:
        """Block until `predicate(requests)` holds, or `timeout` passes.

        The server records a response as completed just after writing it, so a client
        may finish reading first: wait, rather than assert, on `completed`.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self._requests)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def wait_for_disconnect(self, timeout: float, count: int = 1) -> bool:
        """Block until `count` client disconnects were seen, or `timeout` passes."""
        return self.wait_for(
            lambda rs: sum(r.client_closed_at is not None for r in rs) >= count, timeout
        )

    def wait_for_completed(self, timeout: float, count: int = 1) -> bool:
        """Block until `count` responses were written in full, or `timeout` passes."""
        return self.wait_for(lambda rs: sum(r.completed for r in rs) >= count, timeout)

    async def await_disconnect(self, timeout: float, count: int = 1) -> bool:
        """`wait_for_disconnect` for async tests (polls; never blocks the loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.disconnects) >= count:
                return True
            await asyncio.sleep(0.005)
        return len(self.disconnects) >= count

    def next_step(self) -> Step:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _mark(self, record: RecordedRequest, *, completed: bool = False) -> None:
        with self._changed:
            if completed:
                record.completed = True
            elif record.client_closed_at is None:
                record.client_closed_at = time.monotonic()
            self._changed.notify_all()

    # --- HTTP ----------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(reader, writer)
        try:
            while True:
                record = await _read_request(reader)
                if record is None:
                    return
                if record.path == "/__whoami":
                    await _write_simple(writer, 200, "text/plain", self.token.encode())
                    continue
                with self._lock:
                    self._requests.append(record)
                # One model request per connection: the EOF watcher may then read freely.
                await self._answer_watching(conn, record)
                return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer_watching(self, conn: _Connection, record: RecordedRequest) -> None:
        """Answer while watching for the client hanging up."""
        conn.gone.clear()
        watcher = asyncio.create_task(_watch_eof(conn))
        try:
            if await self.answer(conn, record):
                self._mark(record, completed=True)
        except (ClientGone, ConnectionError):
            self._mark(record)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def answer(self, conn: _Connection, record: RecordedRequest) -> bool:
        """Answer one request (taking the next step unless refused); False if cut short."""
        raise NotImplementedError

    # --- helpers for subclasses ------------------------------------------------------
    async def pause(self, conn: _Connection, seconds: float) -> None:
        """Sleep, but notice at once if the client hangs up (raises ClientGone)."""
        if seconds <= 0:
            if conn.gone.is_set():
                raise ClientGone
            return
        assert self._stopping is not None
        gone = asyncio.ensure_future(conn.gone.wait())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait(
                {gone, stopping},
                timeout=min(seconds, FOREVER),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            gone.cancel()
            stopping.cancel()
        if conn.gone.is_set():
            raise ClientGone

    async def send_json(
        self, conn: _Connection, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        await _write_simple(
            conn.writer, status, "application/json", json.dumps(body).encode(), headers
        )

    async def start_events(self, conn: _Connection) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        conn.writer.write(head.encode())
        await conn.writer.drain()

    async def send_event(self, conn: _Connection, payload: str) -> None:
        if conn.gone.is_set():
            raise ClientGone
        data = f"data: {payload}\r\n\r\n".encode()
        conn.writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await conn.writer.drain()

    async def end_events(self, conn: _Connection) -> None:
        conn.writer.write(b"0\r\n\r\n")
        await conn.writer.drain()

    async def play_reply(
        self, conn: _Connection, reply: Reply, events: Sequence[Any], *, trailer: Sequence[Any]
    ) -> bool:
        """Stream JSON `events` (one per text chunk) then `trailer`, applying the faults."""
        await self.pause(conn, reply.head_delay)
        await self.start_events(conn)
        await self.pause(conn, reply.first_delay)
        for index, event in enumerate(events):
            if index == reply.stall_after:
                await self.pause(conn, FOREVER)
            if index == reply.close_after:
                return False
            if index == reply.malformed_after:
                await self.send_event(conn, '{"this is": not json')
            if index:
                await self.pause(conn, reply.chunk_delay)
            await self.send_event(conn, json.dumps(event))
        if reply.stall_after is not None and reply.stall_after >= len(events):
            await self.pause(conn, FOREVER)
        if reply.close_after is not None and reply.close_after >= len(events):
            return False
        for event in trailer:
            await self.send_event(conn, json.dumps(event))
        await self.end_events(conn)
        return True

    async def play_raw(self, conn: _Connection, raw: Raw) -> bool:
        await self.start_events(conn)
        for payload in raw.payloads:
            await self.send_event(conn, payload)
        await self.end_events(conn)
        return True


async def _watch_eof(conn: _Connection) -> None:
    # httpx never pipelines, so nothing arrives while we answer unless the client leaves.
    with contextlib.suppress(ConnectionError):
        while await conn.reader.read(1024):
            pass
    conn.gone.set()


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _version = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return RecordedRequest(method, parts.path, parts.query, headers, body, time.monotonic())


async def _write_simple(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    reason = http.client.responses.get(status, "Unknown")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
