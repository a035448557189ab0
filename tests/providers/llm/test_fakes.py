"""The fake servers themselves: they check their listener and serve sync callers too."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from tests.fakes import Fail, FakeGemini, FakeOpenAI, Reply
from tests.fakes._server import FakeHttpServer


def test_start_refuses_a_listener_that_is_not_ours() -> None:
    intruder = socket.socket()
    intruder.bind(("127.0.0.1", 0))
    intruder.listen()
    port = intruder.getsockname()[1]

    def answer() -> None:
        conn, _ = intruder.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    fake = FakeGemini()
    fake.port = port
    with pytest.raises(RuntimeError, match="another server"):
        FakeHttpServer._confirm_listener(fake)
    thread.join(2)
    intruder.close()


def test_sync_clients_can_use_the_fakes() -> None:
    with FakeOpenAI() as fake:
        fake.script(Fail(503), Reply(chunks=["x"]))
        url = f"{fake.base_url}/chat/completions"
        assert httpx.post(url, json={"model": "m"}).status_code == 503
        reply = httpx.post(url, json={"model": "m"}).json()
        assert reply["choices"][0]["message"]["content"] == "x"
        assert fake.wait_for_completed(2.0, count=2)


def test_generate_content_without_streaming() -> None:
    with FakeGemini(known_models={"m"}) as fake:
        fake.script(Reply(chunks=["a", "b"]))
        body = httpx.post(f"{fake.base_url}/v1beta/models/m:generateContent", json={}).json()
        assert body["candidates"][0]["content"]["parts"][0]["text"] == "ab"
        missing = httpx.post(f"{fake.base_url}/v1beta/models/zz:generateContent", json={})
        assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
