#!/usr/bin/env bash
# Sets up everything and runs every test: unit, property, crash, CLI and sync integration
# tests against real SQLite files and a real daftar-sync on 127.0.0.1, and the desktop app
# end to end under Xvfb through WebKitWebDriver, inside a private D-Bus session with a real
# GNOME keyring.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
bash scripts/build.sh --tests
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/daftar/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "==> checking formatting of every crate (the fuzz targets too)"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "==> clippy over every target, warnings as errors"
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo clippy --workspace --all-targets --features daftar-desktop/custom-protocol -- -D warnings

# A private PostgreSQL cluster on a free loopback port, for the server suite's second run and
# the scale-out tests; stopped and removed at the end.
pgroot=$(mktemp -d)
chmod 755 "$pgroot"
# Set before the start, so a failed start leaves nothing behind either.
trap 'bash scripts/pg.sh stop "$pgroot/cluster" 2>/dev/null; rm -rf "$pgroot"' EXIT
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DAFTAR_TEST_POSTGRES
DAFTAR_TEST_POSTGRES=$(bash scripts/pg.sh start "$pgroot/cluster" "$pgport")

runtime=$(mktemp -d)
chmod 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime" XDG_DATA_HOME="$runtime/data" HOME="${HOME:-/root}"
mkdir -p "$XDG_DATA_HOME"
echo "==> running the tests"
status=0
dbus-run-session -- sh -c '
  printf daftar | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
  exec xvfb-run -a -s "-screen 0 1280x800x24" \
    cargo test --workspace --features daftar-desktop/custom-protocol ${DAFTAR_TEST_ARGS:-} -- --test-threads=2
' || status=$?
rm -rf "$runtime"
if [ "$status" = 0 ] && [ -z "${DAFTAR_TEST_ARGS:-}" ]; then
  echo "==> the server suite again, on PostgreSQL ($DAFTAR_TEST_POSTGRES)"
  DAFTAR_TEST_BACKEND=postgres cargo test --workspace --features daftar-desktop/custom-protocol \
    --test server -- --test-threads=2 || status=$?
fi
if [ "$status" = 0 ] && [ -z "${DAFTAR_TEST_ARGS:-}" ] && [ "$(id -u)" = 0 ]; then
  echo "==> the packages: built, installed, started, removed"
  cargo test --workspace --features daftar-desktop/custom-protocol --test packages -- --ignored || status=$?
fi
if [ "$status" = 0 ] && [ -z "${DAFTAR_TEST_ARGS:-}" ]; then
  echo "==> fuzz smoke: every target 10 s from its seeds (fuzz/README.md)"
  bash fuzz/run.sh "${DAFTAR_FUZZ_SECONDS:-10}" || status=$?
fi
exit $status
