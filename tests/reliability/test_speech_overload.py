"""Speech-to-text overload through the API: beyond the concurrency and queue limits,
requests get a clear busy error (503), never a crash, and the server keeps serving."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.audio import require_tools, speak_wav


@pytest.mark.speech
@pytest.mark.slow
def test_concurrent_uploads_beyond_the_limit_get_busy(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    require_tools("espeak-ng")
    audio = speak_wav("what is seven times eight", tmp_path / "command.wav").read_bytes()
    client = make_client(
        stt_enabled=True, stt_max_concurrency=1, stt_max_queue=1, stt_queue_timeout_seconds=0.3
    )
    warm = client.post("/api/voice", files={"file": ("c.wav", audio, "audio/wav")})
    assert warm.status_code == 200, warm.text

    def upload(_: int) -> tuple[int, str]:
        response = client.post("/api/voice", files={"file": ("c.wav", audio, "audio/wav")})
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(upload, range(8)))
    statuses = Counter(status for status, _ in results)
    assert statuses[200] >= 1, results
    assert statuses[503] >= 1, results
    assert set(statuses) <= {200, 503}, results
    assert {code for status, code in results if status == 503} == {"busy"}
    assert client.get("/health").status_code == 200
    after = client.post("/api/voice", files={"file": ("c.wav", audio, "audio/wav")})
    assert after.status_code == 200 and "56" in after.json()["response"]
