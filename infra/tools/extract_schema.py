"""Rebuild the trimmed provider schemas in infra/tools/schema/ from the CDK provider packages.

The offline checks serve Terraform the real provider schemas, trimmed to the resource and data
source types this module uses. Those schemas come from the prebuilt CDK provider bindings on
PyPI (`cdktn-provider-google`, `cdktn-provider-google-beta`, `cdktn-provider-random`), whose
compiled JavaScript is generated from each provider's schema and keeps, for every field, its
Terraform name, its flags (`// name - computed: …, optional: …, required: …`), its type and
whether it is a block (list or set, one or many). This script reads that back into Terraform's
own JSON schema format (`terraform providers schema -json`).

Maintenance only (CI never runs it; it reads the committed JSON). To refresh after bumping a
provider pin in infra/versions.tf:

    infra/tools/extract_schema.py --download        # fetches the three wheels with pip

Sensitivity is not recorded in the bindings, so the few sensitive attributes we rely on are
listed in SENSITIVE below.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "schema"

# package on PyPI -> (provider source, resource types, data source types)
PROVIDERS: dict[str, tuple[str, list[str], list[str]]] = {
    "cdktn-provider-google==21.1.0": (
        "hashicorp/google",
        [
            "google_artifact_registry_repository",
            "google_artifact_registry_repository_iam_member",
            "google_billing_budget",
            "google_cloud_scheduler_job",
            "google_logging_metric",
            "google_cloud_run_v2_job",
            "google_cloud_run_v2_service",
            "google_monitoring_alert_policy",
            "google_monitoring_notification_channel",
            "google_monitoring_uptime_check_config",
            "google_project_iam_member",
            "google_project_service",
            "google_secret_manager_secret",
            "google_secret_manager_secret_iam_member",
            "google_secret_manager_secret_version",
            "google_service_account",
            "google_sql_database",
            "google_sql_database_instance",
            "google_sql_user",
        ],
        ["google_project"],
    ),
    "cdktn-provider-google-beta==21.1.0": ("hashicorp/google-beta", [], []),
    "cdktn-provider-random==15.0.1": ("hashicorp/random", ["random_password"], []),
}

SENSITIVE = {
    ("random_password", "result"),
    ("random_password", "bcrypt_hash"),
    ("google_sql_user", "password"),
    ("google_sql_user", "password_wo"),
    ("google_secret_manager_secret_version", "secret_data"),
    ("google_secret_manager_secret_version", "secret_data_wo"),
}

_FLAGS = re.compile(
    r"^ {4}// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\n"
    r"((?: {4}(?!// \w+ - computed).*\n)*)",
    re.M,
)
_HCL_ENTRY = re.compile(
    r"^ {8,12}(\w+): \{\n\s+value: (.*),\n\s+isBlock: (true|false),\n\s+type: \"(\w+)\",\n"
    r"\s+storageClassType: \"(\w+)\",",
    re.M,
)
_GETTERS = {
    "getStringAttribute": "string",
    "getNumberAttribute": "number",
    "getBooleanAttribute": "bool",
    "getListAttribute": ["list", "string"],
    "getNumberListAttribute": ["list", "number"],
    "getStringMapAttribute": ["map", "string"],
    "getNumberMapAttribute": ["map", "number"],
    "getBooleanMapAttribute": ["map", "bool"],
    "getAnyMapAttribute": ["map", "dynamic"],
}
_SCALARS = {"string": "string", "number": "number", "boolean": "bool"}


class Module:
    """One generated JavaScript module (one resource, data source or provider)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.classes = {
            m.group(1): self._body(m.end())
            for m in re.finditer(r"^class (\w+) extends [\w.]+ \{", source, re.M)
        }

    def _body(self, start: int) -> str:
        end = self.source.find("\n}\n", start)
        return self.source[start:end]

    def hcl_entries(self, struct: str | None) -> dict[str, tuple[str, bool, str, str]]:
        """name -> (value expression, is block, kind, storage class) for a struct's inputs."""
        if struct is None:
            body = self.source[self.source.index("synthesizeHclAttributes() {") :]
        else:
            name = struct[0].lower() + struct[1:] + "ToHclTerraform(struct) {"
            if name not in self.source:
                return {}
            body = self.source[self.source.index(name) :]
        body = body[: body.index("// remove undefined attributes")]
        return {
            m.group(1): (m.group(2), m.group(3) == "true", m.group(4), m.group(5))
            for m in _HCL_ENTRY.finditer(body)
        }

    def flags(self, cls: str) -> dict[str, tuple[bool, bool, bool, str]]:
        """name -> (computed, optional, required, getter code) from a class's field comments."""
        body = self.classes.get(cls, "")
        return {
            m.group(1): (
                m.group(2) == "true",
                m.group(3) == "true",
                m.group(4) == "true",
                m.group(5),
            )
            for m in _FLAGS.finditer(body + "\n")
        }


def _attr_type(kind: str, storage: str) -> Any:
    if kind == "simple" and storage in _SCALARS:
        return _SCALARS[storage]
    for scalar, tf_type in _SCALARS.items():
        if storage == scalar + "List" and kind in ("list", "set"):
            return [kind, tf_type]
        if storage == scalar + "Map":
            return ["map", tf_type]
    raise ValueError(f"unhandled attribute storage {kind}/{storage}")


def _computed_type(module: Module, code: str) -> Any:
    if "new cdktn.StringMapList(" in code:
        return ["list", ["map", "string"]]
    if "new cdktn.StringMap(" in code:
        return ["map", "string"]
    if "cdktn.Fn.tolist(this.getListAttribute" in code:
        return ["set", "string"]
    m = re.search(r"new (\w+?)(List|OutputReference)\(this, \"\w+\"(?:, (true|false))?\)", code)
    if m:
        obj = ["object", _object_attrs(module, m.group(1) + "OutputReference")]
        return ["set" if m.group(3) == "true" else "list", obj]
    for getter, tf_type in _GETTERS.items():
        if f"this.{getter}(" in code:
            return tf_type
    if "interpolationForAttribute" in code:
        return "dynamic"
    raise ValueError(f"unhandled computed getter: {code.strip()[:120]}")


def _object_attrs(module: Module, cls: str) -> dict[str, Any]:
    return {name: _computed_type(module, f[3]) for name, f in module.flags(cls).items()}


def _block(module: Module, type_name: str, struct: str | None, cls: str | None) -> dict[str, Any]:
    entries = module.hcl_entries(struct)
    flags = module.flags(cls) if cls else {}
    attributes: dict[str, Any] = {}
    block_types: dict[str, Any] = {}
    for name, (value, is_block, kind, storage) in entries.items():
        computed, optional, required, _ = flags.get(name, (False, True, False, ""))
        if is_block:
            child = storage[: -len("List")] if storage.endswith("List") else storage
            nested = _block(module, type_name, child, child + "OutputReference")
            spec: dict[str, Any] = {
                "nesting_mode": "set" if kind == "set" else "list",
                "block": nested,
            }
            if not value.startswith("cdktn.listMapperHcl"):
                spec["max_items"] = 1
            if required:
                spec["min_items"] = 1
            block_types[name] = spec
            continue
        attr: dict[str, Any] = {"type": _attr_type(kind, storage)}
        if required:
            attr["required"] = True
        else:
            attr["optional"] = True
        if computed:
            attr["computed"] = True
        if (type_name, name) in SENSITIVE and struct is None:
            attr["sensitive"] = True
        attributes[name] = attr
    for name, (computed, optional, required, code) in flags.items():
        if name in entries or not computed or optional or required:
            continue
        attr = {"type": _computed_type(module, code), "computed": True}
        if (type_name, name) in SENSITIVE and struct is None:
            attr["sensitive"] = True
        attributes[name] = attr
    out: dict[str, Any] = {"attributes": dict(sorted(attributes.items()))}
    if block_types:
        out["block_types"] = dict(sorted(block_types.items()))
    return out


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split("[-_]", name))


def _module_dir(type_name: str, provider_prefix: str, data: bool) -> str:
    bare = type_name[len(provider_prefix) + 1 :]
    return ("data-" + type_name if data else bare).replace("_", "-")


def extract(
    package_dir: Path, source: str, resources: list[str], data_sources: list[str]
) -> dict[str, Any]:
    """Terraform's JSON schema for one provider, trimmed to the given types."""
    lib = package_dir / "lib"
    prefix = source.split("/")[1].replace("-", "_")
    name = source.split("/")[1]
    provider_module = Module((lib / "provider" / "index.js").read_text())
    provider_cls = _camel(name) + "Provider"
    version_match = re.search(
        rf"hashicorp/{re.escape(name)}/([0-9.]+)/docs", provider_module.source
    )
    if version_match is None:
        raise ValueError(f"no provider version found in {lib / 'provider'}")
    provider_block = _block(provider_module, name, None, provider_cls)
    # `alias` is a Terraform meta-argument, not part of the provider's own schema.
    provider_block["attributes"].pop("alias", None)
    schema: dict[str, Any] = {
        "format_version": "1.0",
        "provider_source": "registry.terraform.io/" + source,
        "provider_version": version_match.group(1),
        "provider": {"version": 0, "block": provider_block},
        "resource_schemas": {},
        "data_source_schemas": {},
    }
    for data, types in ((False, resources), (True, data_sources)):
        for type_name in types:
            module = Module((lib / _module_dir(type_name, prefix, data) / "index.js").read_text())
            cls = _camel("data_" + type_name) if data else _camel(type_name[len(prefix) + 1 :])
            block = _block(module, type_name, None, cls)
            key = "data_source_schemas" if data else "resource_schemas"
            schema[key][type_name] = {"version": 0, "block": block}
    return schema


def _unpack(wheel: Path, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
        zf.extract(member, into)
    with tarfile.open(into / member) as tf:
        tf.extractall(into, filter="data")
    return into / "package"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the downloaded wheels")
    parser.add_argument("--download", action="store_true", help="pip download the wheels first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels or Path(tmp) / "wheels"
        if args.download:
            subprocess.run(  # noqa: S603 (fixed argv: this interpreter's pip)
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-d",
                    str(wheels),
                    *PROVIDERS,
                ],
                check=True,
            )
        SCHEMA_DIR.mkdir(exist_ok=True)
        for package, (source, resources, data_sources) in PROVIDERS.items():
            dist = package.split("==")[0].replace("-", "_")
            wheel = next(wheels.glob(f"{dist}-{package.split('==')[1]}-*.whl"))
            package_dir = _unpack(wheel, Path(tmp) / dist)
            schema = extract(package_dir, source, resources, data_sources)
            schema["extracted_from"] = package
            out = SCHEMA_DIR / (source.split("/")[1] + ".json")
            out.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            print(f"{out.relative_to(HERE.parent.parent)}: {source} {schema['provider_version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
