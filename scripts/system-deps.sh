#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Chromium (browser
# tests), espeak-ng, sox and ffmpeg (real speech audio), PostgreSQL (database tests;
# on our machines it is already running). Idempotent and quick when all are present.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
if [ "${1:-}" = "--bench" ]; then command -v pgloader >/dev/null 2>&1 || need+=(pgloader); fi

if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "system packages needed: ${need[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; then
    exit 0
  fi
  echo "apt-get failed (attempt $attempt); retrying" >&2
  sleep 5
done
exit 1
