"""Terraform's own checks, offline: fmt, validate against the pinned providers' schemas,
the design assertions in infra/tests/*.tftest.hcl, and a self-test that validation bites."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra.tools import INFRA, TOOLS, blocks, hcl_files, resources, tfcheck, unquote

SCHEMAS = {path.stem: json.loads(path.read_text()) for path in (TOOLS / "schema").glob("*.json")}


def _output(result: object) -> str:
    return f"{getattr(result, 'stdout', '')}\n{getattr(result, 'stderr', '')}"


def test_terraform_files_are_formatted() -> None:
    result = tfcheck("fmt")
    assert result.returncode == 0, f"run `infra/tools/tfcheck.py fmt-write`:\n{_output(result)}"


def test_terraform_validate_passes() -> None:
    result = tfcheck("validate")
    assert result.returncode == 0, _output(result)
    assert "The configuration is valid" in result.stdout


@pytest.mark.parametrize(
    ("needle", "replacement", "expected"),
    [
        # a misspelled argument
        ("max_instance_request_concurrency", "max_instance_concurency", "Unsupported argument"),
        # a wrong value type
        (
            "session_affinity                 = true",
            'session_affinity = ["yes"]',
            "Incorrect attribute value type",
        ),
        # a reference to something that does not exist
        (
            "google_sql_database_instance.main.connection_name]",
            "google_sql_database_instance.primary.connection_name]",
            "Reference to undeclared resource",
        ),
        # an attribute the resource does not export
        (
            "google_service_account.runtime.email",
            "google_service_account.runtime.mail",
            "Unsupported attribute",
        ),
    ],
    ids=["argument", "type", "reference", "attribute"],
)
def test_validate_fails_on_a_broken_copy(
    tmp_path: Path, needle: str, replacement: str, expected: str
) -> None:
    """The stand-in providers really constrain the configuration: breaking it must fail."""
    broken = tmp_path / "infra"
    shutil.copytree(
        INFRA, broken, ignore=shutil.ignore_patterns("tools", "tests", ".terraform*", "*.tfvars")
    )
    target = broken / "cloud_run.tf"
    source = target.read_text()
    assert needle in source, f"self-test needle {needle!r} not found in cloud_run.tf"
    target.write_text(source.replace(needle, replacement, 1))
    result = tfcheck("validate", broken)
    assert result.returncode != 0, f"validation accepted a broken configuration:\n{_output(result)}"
    assert expected in _output(result)


def test_validate_rejects_a_required_argument_left_out(tmp_path: Path) -> None:
    broken = tmp_path / "infra"
    shutil.copytree(INFRA, broken, ignore=shutil.ignore_patterns("tools", "tests", "*.tfvars"))
    target = broken / "cloud_sql.tf"
    target.write_text(
        re.sub(r"\n\s+tier\s+= var.database_tier\n", "\n", target.read_text(), count=1)
    )
    result = tfcheck("validate", broken)
    assert result.returncode != 0
    assert "Missing required argument" in _output(result)


def test_terraform_test_design_assertions_pass() -> None:
    result = tfcheck("test", timeout=600)
    assert result.returncode == 0, _output(result)
    match = re.search(r"Success! (\d+) passed, 0 failed", result.stdout)
    assert match and int(match.group(1)) >= 10, result.stdout


def test_committed_schemas_match_the_pinned_provider_versions() -> None:
    terraform = blocks("terraform")
    pins = {}
    for required in terraform.get("required_providers", []):
        for name, spec in required.items():
            if not name.startswith("__"):
                pins[name] = spec[0] if isinstance(spec, list) else spec
    assert set(pins) == set(SCHEMAS), "every pinned provider has a committed schema, and no other"
    for name, spec in pins.items():
        schema = SCHEMAS[name]
        assert schema["provider_source"] == f"registry.terraform.io/{spec['source']}"
        assert spec["version"] == schema["provider_version"], (
            f"{name} is pinned to {spec['version']} but infra/tools/schema/{name}.json is "
            f"{schema['provider_version']}: re-run infra/tools/extract_schema.py --download"
        )


def test_committed_schemas_cover_exactly_the_types_used() -> None:
    used = set(resources())
    served = {t for s in SCHEMAS.values() for t in s["resource_schemas"]}
    assert used == served, f"add to / drop from extract_schema.py: {sorted(used ^ served)}"


def _one(value: Any) -> Any:
    """python-hcl2 wraps some single values in a list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_no_all_users_binding_anywhere() -> None:
    """Public access switches the service's invoker check off (invoker_iam_disabled): an
    allUsers binding is refused under organisation policies that restrict members."""
    grants = [
        (rtype, name)
        for rtype, named in resources().items()
        for name, body in named.items()
        if "allUsers" in json.dumps(body) or "allAuthenticatedUsers" in json.dumps(body)
    ]
    assert grants == []
    service = resources()["google_cloud_run_v2_service"]["app"]
    assert _one(service["invoker_iam_disabled"]) == "${var.public_access}"


def test_the_budget_uses_the_provider_with_a_quota_project() -> None:
    """The Billing Budgets API refuses user credentials without a quota project, and
    Terraform ignores the one stored with gcloud's credentials: the budget's provider names
    it itself."""
    providers = {}
    for entry in hcl_files()["providers.tf"]["provider"]:
        for name, body in entry.items():
            providers[(name, unquote(_one(body.get("alias"))))] = body
    billing = providers[("google", "billing")]
    assert _one(billing["user_project_override"]) is True
    assert _one(billing["billing_project"]) == "${var.project_id}"
    budget = resources()["google_billing_budget"]["monthly"]
    assert _one(budget["provider"]) == "${google.billing}"


def test_generated_secrets_are_written_write_only() -> None:
    """The password and generated tokens go through password_wo / secret_data_wo, so the
    user's and the secret versions' state hold no copy of them."""
    user = resources()["google_sql_user"]["app"]
    assert "password" not in user
    assert _one(user["password_wo"]) == "${random_password.database.result}"
    for name, body in resources()["google_secret_manager_secret_version"].items():
        assert "secret_data" not in body, f"secret version {name} stores its value in the state"
        assert "secret_data_wo" in body and "secret_data_wo_version" in body
    outputs = json.dumps(blocks("output"))
    assert "random_password" not in outputs, "no output repeats a generated secret"


def test_variables_and_outputs_read_as_documentation() -> None:
    """Fabric style: sorted, every variable described and typed, non-boolean ones validated."""
    for kind in ("variable", "output"):
        text = (INFRA / f"{kind}s.tf").read_text()
        names = re.findall(rf'^{kind} "(\w+)"', text, re.M)
        assert names == sorted(names), f"{kind}s.tf is not in alphabetical order"
    for name, body in blocks("variable").items():
        if name.startswith("__"):
            continue
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"
        if "bool" not in json.dumps(body["type"]):
            assert body.get("validation"), f"variable {name} has no validation"
    for name, body in blocks("output").items():
        if not name.startswith("__"):
            assert body.get("description"), f"output {name} has no description"
