#!/usr/bin/env bash
# Builds the UI and every binary (daftar, daftar-sync, daftar-desktop with the UI embedded).
# One cargo selection and feature set everywhere, so tests reuse this build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/daftar/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "==> building the UI"
(cd ui && { [ -d node_modules ] && npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --loglevel=error; } && npm run build --silent)
echo "==> building the workspace (target dir $CARGO_TARGET_DIR)"
if [ "${1:-}" = "--tests" ]; then
  # The test build: binaries and test executables with the features `cargo test` resolves
  # (dev-dependencies included), so the test run compiles nothing more.
  cargo test --workspace --features daftar-desktop/custom-protocol --no-run
else
  cargo build --workspace --features daftar-desktop/custom-protocol
fi
