"""Infrastructure and application agree: environment variables, port, DATABASE_URL, pool
budget, probe paths, and the locked dependency versions in the image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ballsy.config import Settings
from ballsy.db.url import to_async_url, unix_socket_dir
from tests.infra.app_probe import serves
from tests.infra.dockerfile import build_context_sources, final_stage
from tests.infra.tools import INFRA, REPO, blocks

SETTINGS_ENV = {name.upper() for name in Settings.model_fields}
# Set by Cloud Run itself on every instance (container contract), never by Terraform.
CLOUD_RUN_INJECTED = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}
# Read by the Python interpreter or the shell, not by Ballsy.
RUNTIME_ENV = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}


def _block_text(path: Path, opener: str) -> str:
    """The text of a `NAME = merge(` / `NAME = {` HCL expression, by bracket matching."""
    return _block_text_of(path.read_text(), opener)


def _block_text_of(text: str, opener: str) -> str:
    start = text.index(opener)
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    raise AssertionError(f"unbalanced {opener!r}")


def _env_assignments(text: str) -> dict[str, str]:
    """NAME -> the HCL expression assigned, for upper-case keys."""
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.+?)\s*(?:#.*)?$", text, re.M)
    }


_PLAIN = _block_text(INFRA / "cloud_run.tf", "plain_env = merge(")
# The unconditional map comes first; the Vertex AI switch adds its own map.
PLAIN_ENV = _env_assignments(_block_text_of(_PLAIN, "{"))
VERTEX_ENV = _env_assignments(_block_text_of(_PLAIN, "var.gemini_use_vertex_ai ? {"))
SECRET_ENV = _env_assignments(_block_text(INFRA / "secrets.tf", "secret_env = merge("))


def _variable_default(name: str) -> Any:
    default = blocks("variable")[name].get("default")
    return default[0] if isinstance(default, list) and len(default) == 1 else default


def _resolve(expression: str) -> Any:
    """The value a plain_env expression takes with the variables' defaults."""
    if m := re.fullmatch(r'"(.*)"', expression):
        return m.group(1)
    if m := re.fullmatch(r"(?:tostring\()?var\.(\w+)\)?", expression):
        value = _variable_default(m.group(1))
        return str(value).lower() if isinstance(value, bool) else str(value)
    if expression == 'join(",", var.cors_origins)':
        return "https://ballsy.example.com"
    if m := re.fullmatch(r'var\.max_instances > 1 \? "(\w+)" : "(\w+)"', expression):
        return m.group(1) if _variable_default("max_instances") > 1 else m.group(2)
    raise AssertionError(f"teach _resolve about {expression!r}")


def test_terraform_found_the_environment_it_sets() -> None:
    assert {"ENVIRONMENT", "CORS_ORIGINS", "TRUSTED_PROXY_HOPS"} <= set(PLAIN_ENV)
    assert set(VERTEX_ENV) == {"GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_LOCATION"}
    assert not set(VERTEX_ENV) & set(PLAIN_ENV)
    assert {"DATABASE_URL", "GEMINI_API_KEY", "METRICS_TOKEN", "WAKE_TOKEN"} == set(SECRET_ENV)


def test_every_variable_terraform_sets_is_a_setting() -> None:
    unknown = (set(PLAIN_ENV) | set(VERTEX_ENV) | set(SECRET_ENV)) - SETTINGS_ENV
    assert not unknown, f"Terraform sets variables Ballsy never reads: {sorted(unknown)}"


def test_terraform_does_not_set_what_cloud_run_reserves() -> None:
    assert not (set(PLAIN_ENV) | set(VERTEX_ENV) | set(SECRET_ENV)) & CLOUD_RUN_INJECTED


def test_every_image_variable_is_a_setting_or_the_interpreters() -> None:
    unknown = set(final_stage().env) - SETTINGS_ENV - RUNTIME_ENV
    assert not unknown, f"the Dockerfile sets variables Ballsy never reads: {sorted(unknown)}"


def _production_environment(*, vertex: bool = False) -> dict[str, str]:
    env = {name: _resolve(expr) for name, expr in PLAIN_ENV.items()}
    if vertex:
        env.update({name: _resolve(expr) for name, expr in VERTEX_ENV.items()})
    env.update(
        {
            "K_SERVICE": "ballsy",  # Cloud Run's marker
            "DATABASE_URL": _sample_database_url(),
            **({} if vertex else {"GEMINI_API_KEY": "sample-gemini-key"}),
            "METRICS_TOKEN": "Q7xk2PzR9mWb4TnV8cYh3LdJ6sGf5HaEq7xk2Pz",
        }
    )
    env.update(final_stage().env)
    env.pop("PATH", None)
    env["PORT"] = "8080"
    return env


def test_the_app_accepts_the_production_environment_terraform_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings load and pass the production checks with exactly what Cloud Run passes."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in _production_environment().items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.is_production
    settings.check_production()
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert settings.trusted_proxy_hops == 1
    assert settings.effective_ai_provider() == "gemini"
    assert settings.rate_limit_store == "postgres"


def test_vertex_ai_mode_needs_no_gemini_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in _production_environment(vertex=True).items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings.check_production()
    assert settings.google_genai_use_vertexai
    assert settings.gemini_api_key is None


@pytest.mark.parametrize("missing", ["DATABASE_URL", "METRICS_TOKEN", "GEMINI_API_KEY"])
def test_each_secret_terraform_passes_is_one_production_needs(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """Vice versa: the required variables are the ones Terraform provides."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in _production_environment().items():
        if name != missing:
            monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=missing):
        settings.check_production()


def test_the_port_matches_everywhere() -> None:
    cloud_run = (INFRA / "cloud_run.tf").read_text()
    container_port = re.search(r"container_port\s*=\s*(\d+)", cloud_run)
    assert container_port, "cloud_run.tf sets local.container_port"
    port = int(container_port.group(1))
    assert final_stage().env["PORT"] == str(port)
    assert Settings.model_fields["port"].default == port
    assert re.search(rf"^EXPOSE {port}$", (REPO / "Dockerfile").read_text(), re.M)
    assert final_stage().env["HOST"] == "0.0.0.0"


def _sample_database_url() -> str:
    """The DATABASE_URL that infra/tests asserts Terraform builds from sample values."""
    tests = (INFRA / "tests" / "ballsy.tftest.hcl").read_text()
    match = re.search(r'database_url\) == "(postgresql[^"]+)"', tests)
    assert match, "ballsy.tftest.hcl asserts the DATABASE_URL Terraform builds"
    return match.group(1)


def test_database_url_terraform_builds_reaches_the_cloud_sql_socket() -> None:
    raw = _sample_database_url()
    url = to_async_url(raw)
    assert url.drivername == "postgresql+asyncpg"
    assert url.database == "ballsydb"
    assert url.username == "ballsy"
    assert unix_socket_dir(url) == "/cloudsql/ballsy-test-123:us-central1:ballsy-db"
    assert url.password == "Q7xk2PzR9mWb4TnV8cYh3LdJ6sGf5HaE"


def test_the_database_url_template_matches_the_sample() -> None:
    """The sample above and the secrets.tf template are the same shape."""
    pieces = re.findall(r'"([^"]*)"', _block_text(INFRA / "secrets.tf", "join("))
    assert pieces[1:] == ["postgresql+psycopg2://", ":", "@/", "?host=/cloudsql/"]


def test_the_pool_fits_the_database_tier() -> None:
    pool = int(_variable_default("db_pool_size"))
    overflow = int(_variable_default("db_max_overflow"))
    max_instances = int(_variable_default("max_instances"))
    assert _variable_default("database_tier") == "db-f1-micro"
    # The newest revision (+1: a brief overshoot) and the previous one, still holding open
    # WebSockets, each up to max_instances; 3 for the migration job and operators; 22 of
    # db-f1-micro's 25 connections are open to the app's user (3 are reserved).
    assert (2 * max_instances + 1) * (pool + overflow) + 3 <= 22
    # Cloud Run's pool comes from Terraform, whatever the app's own defaults (sized for one
    # self-hosted process) are.
    assert PLAIN_ENV["DB_POOL_SIZE"] == "tostring(var.db_pool_size)"
    assert PLAIN_ENV["DB_MAX_OVERFLOW"] == "tostring(var.db_max_overflow)"


def test_probe_paths_are_routes_of_the_app(make_settings: Any) -> None:
    cloud_run = (INFRA / "cloud_run.tf").read_text()
    probes = set(re.findall(r'\bpath\s*=\s*"(/[^"]*)"', cloud_run))
    assert probes == {"/ready", "/health"}
    assert serves(make_settings, probes) == probes


def _pins(text: str) -> dict[str, str]:
    return {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", text, re.M)
    }


def test_the_image_lock_pins_what_pyproject_pins() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # The image carries the extras requirements/lock.sh locks.
    image_extras = re.findall(r"--extra (\S+)", (REPO / "requirements" / "lock.sh").read_text())
    assert set(image_extras) == {"speech", "voice", "memory", "wake"}, image_extras
    wanted = [*project["dependencies"], *(r for extra in image_extras for r in extras[extra])]
    locked = _pins((REPO / "requirements" / "docker.txt").read_text())
    for requirement in wanted:
        name, version = re.sub(r"\[.*\]", "", requirement).split("==")
        assert locked.get(name.lower()) == version, (
            f"requirements/docker.txt has {name} {locked.get(name.lower())}, pyproject {version}:"
            " run requirements/lock.sh"
        )


def test_the_image_lock_agrees_with_the_development_constraints() -> None:
    constraints = _pins((REPO / "requirements" / "constraints.txt").read_text())
    locked = _pins((REPO / "requirements" / "docker.txt").read_text())
    differ = {
        name: (version, constraints[name])
        for name, version in locked.items()
        if name in constraints and constraints[name] != version
    }
    assert not differ, f"image lock vs constraints.txt (image, dev): {differ}"


def test_every_file_the_image_copies_is_in_the_build_context() -> None:
    ignore = (REPO / ".dockerignore").read_text()
    for source in build_context_sources():
        assert (REPO / source).exists(), f"the Dockerfile copies {source}, which is missing"
        assert f"!{source.rstrip('/')}" in ignore or f"!{source}" in ignore, (
            f".dockerignore excludes {source}"
        )


def test_the_startup_probe_outlasts_the_speech_model_load() -> None:
    """/ready waits for the speech workers; a worker that cannot load gives up after
    START_TIMEOUT_SECONDS, and /ready must still get to answer before Cloud Run stops the
    instance (its startup probe may wait 240 s at most)."""
    from ballsy.providers.stt.pool import START_TIMEOUT_SECONDS

    cloud_run = (INFRA / "cloud_run.tf").read_text()
    period = re.search(r"startup_probe_period_seconds\s*=\s*(\d+)", cloud_run)
    threshold = re.search(r"startup_probe_failure_threshold\s*=\s*(\d+)", cloud_run)
    assert period and threshold, "cloud_run.tf sets the startup probe's period and threshold"
    window = int(period.group(1)) * int(threshold.group(1))
    assert START_TIMEOUT_SECONDS + 30 <= window <= 240


def test_every_base_image_is_pinned_by_the_same_digest() -> None:
    """A rebuild of the same commit gets the same operating system and interpreter."""
    froms = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), re.M)
    external = [ref for ref in froms if "/" in ref or ":" in ref or "@" in ref]
    assert external, "the Dockerfile names a base image"
    assert all(re.search(r"@sha256:[0-9a-f]{64}$", ref) for ref in external), external
    assert len(set(external)) == 1, f"the stages disagree on the base: {sorted(set(external))}"


def test_dependencies_and_ballsy_arrive_in_separate_layers() -> None:
    """The ~250 MB dependency layer stays the same between releases; Ballsy is its own layer."""
    text = (REPO / "Dockerfile").read_text()
    runtime = text[text.rindex("\nFROM ") :]
    copies = re.findall(r"^COPY --from=(\w+) (\S+) (\S+)$", runtime, re.M)
    assert copies == [("deps", "/opt/ballsy", "/opt/ballsy"), ("app", "/stage/", "/")]
    deps = text[text.index(" AS deps") : text.index(" AS app")]
    assert "COPY src" not in deps and "pyproject.toml" not in deps, "deps must not see the app"


def test_cloud_build_runs_as_its_own_account_with_logs_in_cloud_logging() -> None:
    import yaml

    config = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    # A user-chosen build account cannot write to the default logs bucket.
    assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    assert config["images"] == ["${_IMAGE}"]
    assert "--cache-from" in config["steps"][0]["args"][-1]
