"""The `ballsy` command: version, migrations, tokens for existing users, ask, transcribe,
config check, and how it fails: one line on stderr, exit 2 for configuration problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ballsy import __version__
from ballsy.cli import app
from tests import pg
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.openai_server import FakeOpenAI

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BALLSY_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STT_ENABLED", "false")
    monkeypatch.setenv("AI_PROVIDER", "none")
    for name in ("DATABASE_URL", "GEMINI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def one_error_line(result: object) -> str:
    """The single stderr line of a failed command; fails on a traceback or several lines."""
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.output, result.output  # type: ignore[attr-defined]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return str(lines[0])


def run_ballsy(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m ballsy ARGS` in a fresh process, this checkout's code first."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.run(
        [sys.executable, "-m", "ballsy", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ballsy {__version__}"


def test_db_upgrade_current_downgrade(env: Path) -> None:
    empty = runner.invoke(app, ["db", "current"]).output
    assert empty.startswith("current: none")
    assert "run `ballsy db upgrade`" in empty
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    current = runner.invoke(app, ["db", "current"]).output
    assert current.split()[1] == current.split()[3]  # current equals head
    assert "behind" not in current
    as_json = json.loads(runner.invoke(app, ["db", "current", "--json"]).stdout)
    assert as_json["current"] == as_json["head"] == current.split()[1]
    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(app, ["db", "current"]).output.startswith("current: none")


def test_downgrade_asks_at_a_terminal_and_changes_nothing_on_no(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ballsy.cli

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    head = runner.invoke(app, ["db", "current"]).output.split()[1]
    monkeypatch.setattr(ballsy.cli, "_at_terminal", lambda: True)
    declined = runner.invoke(app, ["db", "downgrade", "base"], input="n\n")
    assert declined.exit_code == 1
    assert "dropped with their data" in declined.output
    assert runner.invoke(app, ["db", "current"]).output.split()[1] == head
    accepted = runner.invoke(app, ["db", "downgrade", "base", "--yes"])
    assert accepted.exit_code == 0, accepted.output
    assert runner.invoke(app, ["db", "current"]).output.startswith("current: none")


def test_issue_token_lets_an_existing_user_sign_in(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from ballsy.app import create_app
    from ballsy.config import load_settings

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = load_settings(
        environment="test", rate_limit_enabled=False, trusted_hosts="testserver"
    )
    with TestClient(create_app(settings)) as client:
        username = client.post("/api/session").json()["username"]
    missing = runner.invoke(app, ["users", "issue-token", "nobody-here"])
    assert missing.exit_code == 1
    assert "no user named 'nobody-here'" in one_error_line(missing)
    issued = runner.invoke(app, ["users", "issue-token", username])
    assert issued.exit_code == 0, issued.output
    lines = dict(line.split(": ", 1) for line in issued.output.strip().splitlines())
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/session", headers={"Authorization": f"Bearer {lines['token']}"})
        assert me.status_code == 200
        assert me.json() == {"user_id": int(lines["user_id"]), "username": username}


# --- ask ------------------------------------------------------------------------------


def test_ask_answers_locally_and_through_the_pipeline(env: Path) -> None:
    result = runner.invoke(app, ["ask", "what is 6 times 7"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "That's 42.\n"
    no_ai = runner.invoke(app, ["ask", "why do cats purr"])
    assert no_ai.exit_code == 0
    assert not (env / "data" / "ballsy.db").exists()  # an anonymous question stores nothing
    assert "GEMINI_API_KEY" in no_ai.stdout
    # The action is a line of text, not a Python dict.
    assert no_ai.stdout.strip().splitlines()[-1] == "[search] query: why do cats purr"


def test_ask_json(env: Path) -> None:
    local = json.loads(runner.invoke(app, ["ask", "--json", "what is 6 times 7"]).stdout)
    assert local == {
        "response": "That's 42.",
        "action": None,
        "data": None,
        "source": "local",
        "family": "arithmetic",
    }
    searched = json.loads(runner.invoke(app, ["ask", "--json", "why do cats purr"]).stdout)
    assert searched["action"] == "search"
    assert searched["data"] == {"query": "why do cats purr"}


def test_ask_refuses_an_empty_or_oversized_question(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = runner.invoke(app, ["ask", "   "])
    assert empty.exit_code == 2
    assert "nothing to ask" in one_error_line(empty)
    monkeypatch.setenv("MAX_COMMAND_CHARS", "20")
    long = runner.invoke(app, ["ask", "what is one plus two plus three"])
    assert long.exit_code == 2
    assert "MAX_COMMAND_CHARS is 20" in one_error_line(long)


@pytest.fixture
def gemini(env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    with FakeGemini(api_key="good-key", known_models={"gemini-2.5-flash-lite"}) as fake:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
        monkeypatch.setenv("AI_PROVIDER", "gemini")
        monkeypatch.setenv("GEMINI_API_KEY", "good-key")
        monkeypatch.setenv("AI_MAX_RETRIES", "0")
        yield fake


def test_ask_streams_an_ai_reply(gemini: FakeGemini) -> None:
    result = runner.invoke(app, ["ask", "why do cats purr"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hello from the fake.\n"
    assert result.stderr == ""


def test_ask_says_why_the_ai_failed_and_exits_non_zero(
    gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "wrong-key")
    bad_key = runner.invoke(app, ["ask", "why do cats purr"])
    assert bad_key.exit_code == 2
    line = one_error_line(bad_key)
    assert "check GEMINI_API_KEY" in line
    assert "wrong-key" not in bad_key.output
    assert bad_key.stdout == ""  # no spoken apology in place of an answer

    monkeypatch.setenv("GEMINI_API_KEY", "good-key")
    monkeypatch.setenv("GEMINI_MODEL", "gemini-nonexistent")
    unknown = runner.invoke(app, ["ask", "--json", "why do cats purr"])
    assert unknown.exit_code == 2
    assert "GEMINI_MODEL" in one_error_line(unknown)
    assert json.loads(unknown.stdout)["error"]["kind"] == "config"


def test_ask_with_a_dead_ai_server_exits_1(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(known_models={"llama3.2"}) as fake:
        base_url = fake.base_url
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)  # nobody listens there any more
    monkeypatch.setenv("OPENAI_MODEL", "llama3.2")
    monkeypatch.setenv("AI_PROVIDER", "openai")
    monkeypatch.setenv("AI_MAX_RETRIES", "0")
    result = runner.invoke(app, ["ask", "why do cats purr"])
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "unavailable" in line
    assert base_url in line


HEAVY = ("sqlalchemy", "alembic", "google.genai", "faster_whisper", "fastapi", "uvicorn")
PROBE = """
import sys
from ballsy.cli import main
sys.argv = ["ballsy", "ask", sys.argv[1]]
try:
    main()
except SystemExit as exit:
    code = exit.code
print("LOADED", [m for m in {heavy!r} if m in sys.modules], code)
"""


@pytest.mark.parametrize(
    ("question", "heavy_expected"), [("what time is it", False), ("why do cats purr", True)]
)
def test_a_local_answer_loads_no_heavy_module(
    env: Path, question: str, heavy_expected: bool
) -> None:
    """Start-up is what a built-in answer costs: it must not load the database layer, the
    AI SDK, the speech model or the web server. (An AI question does load the database
    layer: the probe can see them.)"""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), question],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded_line = done.stdout.strip().splitlines()[-1]
    assert loaded_line.endswith(" 0"), done.stdout
    if heavy_expected:
        assert "sqlalchemy" in loaded_line
    else:
        assert loaded_line == "LOADED [] 0"


# --- how database and configuration problems are reported -----------------------------


def _sqlite_under_a_file(tmp: Path) -> str:
    (tmp / "a-file").write_text("not a folder")
    return f"sqlite:///{tmp / 'a-file' / 'ballsy.db'}"


def _sqlite_that_is_a_folder(tmp: Path) -> str:
    (tmp / "a-folder").mkdir()
    return f"sqlite:///{tmp / 'a-folder'}"


URL_CASES = {
    "not a URL": (lambda tmp: "localhost:5432/ballsy", "DATABASE_URL: not a database URL"),
    "mysql": (lambda tmp: "mysql://u:secret@localhost/db", "unsupported database 'mysql'"),
    "bad port": (
        lambda tmp: "postgresql://u:secret@localhost:port/db",
        "DATABASE_URL is not a valid database URL",
    ),
    "sqlite under a file": (_sqlite_under_a_file, "is a file, not a folder"),
    "sqlite folder": (_sqlite_that_is_a_folder, "a-folder is a folder"),
    "refused port": (
        lambda tmp: f"postgresql://postgres:secret@127.0.0.1:{pg.free_port()}/ballsy",
        "(connection refused): start PostgreSQL there",
    ),
}


@pytest.mark.parametrize("case", list(URL_CASES))
@pytest.mark.parametrize(
    "command", [["db", "current"], ["db", "upgrade"], ["users", "issue-token", "ada"]]
)
def test_database_problems_are_one_line_and_exit_2(
    env: Path, monkeypatch: pytest.MonkeyPatch, case: str, command: list[str]
) -> None:
    url_for, expected = URL_CASES[case]
    monkeypatch.setenv("DATABASE_URL", url_for(env))
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert expected in line
    assert "secret" not in result.output


@pytest.mark.parametrize("case", ["not a URL", "mysql", "sqlite under a file", "sqlite folder"])
def test_serve_refuses_a_database_it_cannot_use_in_one_line(env: Path, case: str) -> None:
    url_for, expected = URL_CASES[case]
    done = run_ballsy(
        "serve", "--port", str(pg.free_port()), env={"DATABASE_URL": url_for(env)}, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert expected in done.stderr


def test_debug_shows_the_traceback(env: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{pg.free_port()}/ballsy"
    plain = run_ballsy("db", "current", env={"DATABASE_URL": url})
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    debug = run_ballsy("--debug", "db", "current", env={"DATABASE_URL": url})
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "ConnectionRefusedError" in debug.stderr or "Connect call failed" in debug.stderr


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_named(
    env: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/ballsy_no_such_db"
    monkeypatch.setenv("DATABASE_URL", missing)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "database 'ballsy_no_such_db' does not exist" in one_error_line(result)


@pytest.mark.postgres
@pytest.mark.parametrize("throwaway_postgres", ["scram-sha-256"], indirect=True)
def test_a_wrong_password_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, throwaway_postgres: pg.ThrowawayPostgres
) -> None:
    throwaway_postgres.psql("CREATE ROLE ballsy LOGIN PASSWORD 'right-password'")
    port = throwaway_postgres.port
    monkeypatch.setenv("DATABASE_URL", f"postgresql://ballsy:wrong-pw@127.0.0.1:{port}/postgres")
    for command in (["db", "current"], ["db", "upgrade"], ["config", "check", "--connect"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        line = one_error_line(result)
        assert "refused the password for user 'ballsy'" in line
        assert "wrong-pw" not in result.output


# --- config check ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["not a URL", "mysql", "bad port", "sqlite folder"])
def test_config_check_fails_on_a_database_url_that_cannot_start(
    env: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    url_for, expected = URL_CASES[case]
    monkeypatch.setenv("DATABASE_URL", url_for(env))
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert expected in one_error_line(result)


def test_config_check_fails_on_ai_settings_that_cannot_make_a_client(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:11434")
    monkeypatch.setenv("OPENAI_MODEL", "llama3.2")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 2
    assert "OPENAI_BASE_URL must be an http(s) URL" in one_error_line(result)


@pytest.mark.postgres
def test_config_check_connect_tells_to_upgrade_a_database_behind(
    env: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    behind = runner.invoke(app, ["config", "check", "--connect"])
    assert behind.exit_code == 2
    assert "run `ballsy db upgrade`" in one_error_line(behind)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    current = runner.invoke(app, ["config", "check", "--connect", "--json"])
    assert current.exit_code == 0, current.output
    checks = json.loads(current.stdout)["(checks)"]
    assert checks["database"]["ok"] is True
    assert "latest revision" in checks["database"]["detail"]
    assert checks["AI"] == {"ok": True, "detail": checks["AI"]["detail"]}
    assert checks["AI"]["detail"].startswith("none")


def test_config_check_connect_asks_the_ai_provider(
    gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = runner.invoke(app, ["config", "check", "--connect"])
    assert good.exit_code == 0, good.output
    assert "AI: gemini gemini-2.5-flash-lite: answered" in good.stdout
    assert len(gemini.requests) == 1
    monkeypatch.setenv("GEMINI_API_KEY", "wrong-key")
    bad = runner.invoke(app, ["config", "check", "--connect"])
    assert bad.exit_code == 2
    assert "check GEMINI_API_KEY" in one_error_line(bad)
    assert "wrong-key" not in bad.output


def test_config_check_connect_names_an_unknown_openai_model(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(known_models={"llama3.2"}) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_MODEL", "llama9")
        monkeypatch.setenv("AI_PROVIDER", "openai")
        result = runner.invoke(app, ["config", "check", "--connect"])
    assert result.exit_code == 2
    assert "check OPENAI_MODEL" in one_error_line(result)


# --- serve, help, transcribe ----------------------------------------------------------


def test_serve_says_what_it_runs_with(env: Path) -> None:
    from ballsy.cli_runs import startup_line
    from ballsy.config import load_settings

    settings = load_settings(
        database_url="postgresql://ballsy:s3cret@db.internal:5432/ballsy",
        gemini_api_key="AIza-secret-key",
        ai_provider="auto",
        stt_enabled=True,
    )
    line = startup_line(settings)
    assert "database postgresql://ballsy:***@db.internal:5432/ballsy" in line
    assert "AI gemini gemini-2.5-flash-lite" in line
    assert "speech embedded (auto, int8)" in line
    assert "s3cret" not in line and "AIza-secret-key" not in line


def test_serve_prints_its_start_up_line(env: Path) -> None:
    from tests.servers import BallsyProcess

    log = env / "serve.log"
    server = BallsyProcess(
        {
            "DATA_DIR": str(env / "data"),
            "STT_ENABLED": "false",
            "AI_PROVIDER": "none",
            "PYTHONPATH": str(ROOT / "src"),
        },
        log_path=log,
    ).start()
    try:
        server.wait_healthy(timeout=60)
    finally:
        server.terminate()
    first = log.read_text().splitlines()[0]
    assert first.startswith(f"ballsy {__version__} on http://127.0.0.1:{server.port}")
    assert f"database sqlite:///{env / 'data' / 'ballsy.db'}" in first
    assert "AI none" in first and "speech off" in first


def test_help_has_examples_and_no_placeholders() -> None:
    for command in ([], ["ask"], ["serve"], ["config", "check"], ["db", "upgrade"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0
        assert "<bool>" not in result.output
        assert "{" not in result.output
        assert "Example" in result.output, command
    ask_help = runner.invoke(app, ["ask", "--help"]).output
    assert "ask [OPTIONS] QUESTION" in ask_help
    assert "--json" in ask_help


@pytest.fixture
def speech_env(env: Path) -> Path:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    return env


def test_transcribe_silence_says_no_speech_and_exits_1(speech_env: Path) -> None:
    from tests import audio

    silent = audio.silence_wav(speech_env / "silence.wav", seconds=2)
    result = runner.invoke(app, ["transcribe", str(silent)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no speech heard" in one_error_line(result)


def test_transcribe_prints_text_or_json(speech_env: Path) -> None:
    from tests import audio

    audio.require_tools("espeak-ng")
    spoken = audio.speak_wav("what is seven times eight", speech_env / "q.wav")
    text = runner.invoke(app, ["transcribe", str(spoken)])
    assert text.exit_code == 0, text.output
    assert audio.normalise_words(text.stdout)[-3:] == ["7", "times", "8"]
    as_json = json.loads(runner.invoke(app, ["transcribe", "--json", str(spoken)]).stdout)
    assert as_json["text"] == text.stdout.strip()
    assert as_json["audio_seconds"] > 0.5
