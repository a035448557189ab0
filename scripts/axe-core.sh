#!/usr/bin/env bash
# Installs axe-core (the accessibility checker the browser tests run in the page) into
# .axe/, which git ignores. Only the tests inject it; the product never serves it.
# Idempotent: quick when the pinned version is already there.
set -euo pipefail

VERSION=4.10.3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="$ROOT/.axe"
if [ -f "$TARGET/node_modules/axe-core/axe.min.js" ] &&
  grep -q "\"version\": \"$VERSION\"" "$TARGET/node_modules/axe-core/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: apt-get install -y npm (needed for the accessibility tests)" >&2
  exit 1
fi
mkdir -p "$TARGET"
npm install --no-save --no-audit --no-fund --no-package-lock --prefix "$TARGET" "axe-core@$VERSION" >&2
