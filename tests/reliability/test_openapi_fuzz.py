"""Schemathesis against Ballsy's own OpenAPI, in process: no 5xx, every status
documented, every response matching its schema — with and without a session token.

Each API operation becomes one hypothesis run over cases schemathesis generates from
the schema (driven directly: its pytest plugin does not load under pytest 9).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ballsy.app import create_app
from ballsy.assistant.identity import hash_token, new_token
from ballsy.config import Settings
from ballsy.db import migrate
from ballsy.db import repositories as repo

FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite:///{root / 'fuzz.db'}"
    migrate.upgrade(database_url)
    settings_ = Settings(
        _env_file=None,
        environment="test",
        data_dir=root,  # type: ignore[call-arg]
        database_url=database_url,
        stt_enabled=True,
        stt_preload=False,
        tts_preload=False,
        rate_limit_enabled=False,
        log_level="WARNING",
        trusted_hosts="testserver,localhost,127.0.0.1",
    )
    app = create_app(settings_)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _session_token(schema: Any) -> str:
    services = schema.app.state.services

    async def create() -> str:
        token = new_token()
        async with services.sessions() as session:
            await repo.create_anonymous_user(session, token_hash=hash_token(token))
            await session.commit()
        return token

    return asyncio.run(create())


def _fuzz(operation: Any, headers: dict[str, str] | None) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        # Every check but "schema-valid data is accepted": some inputs are valid by shape
        # yet refused by meaning (an unknown time zone name), with a documented 422.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    run()


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    paths = {op.path for op in _operations(api_schema)}
    assert {
        "/api/command",
        "/api/history/{user_id}",
        "/api/settings/{user_id}",
        "/api/session",
        "/api/voice",
        "/health",
        "/ready",
    } <= paths


@pytest.mark.slow
@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "session"])
def test_api_conforms_to_its_schema(
    api_schema: Any, with_token: bool, subtests: Callable[..., Any]
) -> None:
    headers = {"Authorization": f"Bearer {_session_token(api_schema)}"} if with_token else None
    for operation in _operations(api_schema):
        with subtests.test(operation=operation.label):  # type: ignore[attr-defined]
            _fuzz(operation, headers)
