"""DEPLOYMENT.md's commands name only Terraform variables, outputs and resources that exist,
shell variables defined before use, Ballsy commands the CLI has and routes the app serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.app_probe import serves
from tests.infra.tools import INFRA, REPO, blocks

DOC = REPO / "DEPLOYMENT.md"
SHELL_BUILTINS = {"HOME", "PWD", "PATH"}


def _commands() -> list[str]:
    """Shell lines of the ```bash blocks in order, heredoc bodies left out."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S):
        heredoc_end: str | None = None
        for line in block.splitlines():
            if heredoc_end is not None:
                if line.strip() == heredoc_end:
                    heredoc_end = None
                continue
            if m := re.search(r"<<-?'?(\w+)'?", line):
                heredoc_end = m.group(1)
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append(line.strip())
    return lines


COMMANDS = _commands()


def _matches(pattern: str) -> Iterator[re.Match[str]]:
    for line in COMMANDS:
        yield from re.finditer(pattern, line)


def test_the_guide_has_the_whole_sequence() -> None:
    text = "\n".join(COMMANDS)
    for step in [
        "export PROJECT_ID=",
        "terraform init",
        "terraform plan",
        "terraform apply",
        "gcloud secrets versions add",
        "gcloud builds submit --config ../cloudbuild.yaml",
        '--service-account "$(terraform output -raw build_service_account)"',
        "gcloud run jobs execute",
        "/health",
        "wss://",
        "gcloud run services update-traffic",
        "terraform destroy",
        "ballsy db import-sqlite",
        '--args="db,downgrade,',
        "gcloud sql instances clone",
        'backend "gcs"',
    ]:
        assert step in text or step in DOC.read_text(), f"DEPLOYMENT.md lacks {step!r}"
    # Migrations run before the image that needs them gets traffic.
    assert text.index("gcloud run jobs execute") < text.index('echo "image = ')
    # A migration is rolled back with the new image first, then the service, and only then
    # (last resort) by restoring a copy.
    runbook = DOC.read_text()[DOC.read_text().index("## Rolling back a migration") :]
    assert (
        runbook.index("db,downgrade,")
        < runbook.index("Roll the service back")
        < runbook.index("gcloud sql instances clone")
    )


def test_outputs_used_exist() -> None:
    outputs = set(blocks("output"))
    used = {m.group(1) for m in _matches(r"terraform output (?:-raw |-json )?(\w+)")}
    assert used, "the guide reads Terraform outputs"
    assert used <= outputs, f"unknown outputs: {sorted(used - outputs)}"


def test_variables_set_exist() -> None:
    variables = set(blocks("variable"))
    set_on_command_line = {m.group(1) for m in _matches(r"-var \"?(\w+)=")}
    written_to_tfvars = {m.group(1) for m in _matches(r"echo \"(\w+) = ")}
    edited_with_sed = {
        m.group(1)
        for line in COMMANDS
        if line.endswith("terraform.tfvars")
        for m in re.finditer(r"s/\^(\w+) +=", line)
    }
    used = set_on_command_line | written_to_tfvars | edited_with_sed
    assert {"image", "migration_image", "gemini_api_key_version", "deletion_protection"} <= used
    assert used <= variables, f"unknown variables: {sorted(used - variables)}"


def test_tfvars_example_names_only_existing_variables() -> None:
    variables = set(blocks("variable"))
    example = (INFRA / "terraform.tfvars.example").read_text()
    named = set(re.findall(r"^#? ?(\w+)\s+=", example, re.M))
    assert {"project_id", "region", "cors_origins"} <= named
    assert named <= variables, f"unknown variables: {sorted(named - variables)}"
    required = {name for name, body in blocks("variable").items() if "default" not in body}
    assert required <= {m for m in re.findall(r"^(\w+)\s+=", example, re.M)}


def test_shell_variables_are_defined_before_use() -> None:
    defined = set(SHELL_BUILTINS)
    for line in COMMANDS:
        for m in re.finditer(r"\$\{?([A-Z_][A-Z0-9_]*)", line):
            assert m.group(1) in defined, f"${m.group(1)} used before it is set: {line}"
        for m in re.finditer(r"(?:export |^|; )([A-Z_][A-Z0-9_]*)=", line):
            defined.add(m.group(1))
        if m := re.match(r"read\b.*?\s([A-Z_][A-Z0-9_]*)\s*(?:;|$)", line):
            defined.add(m.group(1))


def test_gcloud_commands_take_resource_names_from_terraform() -> None:
    from_terraform = {"SERVICE", "IMAGE", "PREVIOUS_REVISION", "PROJECT_ID", "REGION"}
    for line in COMMANDS:
        if re.match(r"gcloud (run|secrets|artifacts|builds)", line):
            names_from_outputs = "terraform output" in line
            names_from_vars = any(f"${v}" in line or f"${{{v}" in line for v in from_terraform)
            assert names_from_outputs or names_from_vars, f"hard-coded resource name: {line}"


def _cli_commands() -> set[tuple[str, ...]]:
    import typer

    from ballsy.cli import app

    root = typer.main.get_command(app)
    found: set[tuple[str, ...]] = set()

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.add(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(root, ())
    return found


def test_ballsy_commands_exist() -> None:
    available = _cli_commands()
    used = {
        tuple(m.group(1).split()) for m in _matches(r"ballsy ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")
    }
    assert used
    groups = {path[:-1] for path in available if path}
    for command in used:
        # `ballsy db upgrade` must be a command of the `db` group; `ballsy serve x` is `serve`.
        known = command in available or (command[:1] in available and command[:1] not in groups)
        assert known, f"`ballsy {' '.join(command)}` is not a command of the CLI"


def test_paths_the_guide_calls_are_routes(make_settings: Any) -> None:
    text = DOC.read_text()
    called = set(re.findall(r'\$SERVICE_URL(/[a-z/]+)"', text))
    called |= {"/ws/voice/{client_id}"} if '"/ws/voice/' in text else set()
    assert {"/health", "/ready", "/ws/voice/{client_id}"} <= called
    assert serves(make_settings, called) == called


@pytest.mark.parametrize("name", ["terraform.tfvars.example"])
def test_files_the_guide_copies_exist(name: str) -> None:
    assert name in DOC.read_text()
    assert (INFRA / name).exists()


def test_infra_readme_documents_every_variable_and_output() -> None:
    readme = (INFRA / "README.md").read_text()
    for kind in ("variable", "output"):
        for name in blocks(kind):
            if not name.startswith("__"):
                assert f"| `{name}` |" in readme, f"infra/README.md lacks the {kind} {name}"


def test_compose_runs_the_image_on_postgres_15() -> None:
    import yaml

    from ballsy.db.url import to_async_url

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:15")
    assert services["migrate"]["command"] == ["ballsy", "db", "upgrade"]
    url = to_async_url(services["app"]["environment"]["DATABASE_URL"])
    assert (url.host, url.database) == ("db", services["db"]["environment"]["POSTGRES_DB"])
    assert services["app"]["ports"] == ["127.0.0.1:8080:8080"]
