#!/usr/bin/env bash
# The long reliability campaigns (docs/reliability.md), far bigger than CI runs them:
#   - client SIGKILLs while a replica marks (crates/cli/tests/crash.rs),
#   - simulated-network stories through the server's sync step (tests/tests/simnet.rs),
#   - the fault proxy over real sockets with server and sync SIGKILLs (tests/tests/bad_network.rs),
#   - every fuzz target for a while (fuzz/, see fuzz/README.md), when FUZZ_SECONDS > 0.
# Sizes come from the environment; the defaults are the figures docs/reliability.md records:
#   CRASH_KILLS=1000 SIMNET_STORIES=10000 PROXY_ROUNDS=1000 FUZZ_SECONDS=0 scripts/soak.sh
# Prints one figure line per campaign at the end (and keeps the whole log in $SOAK_LOG).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/daftar/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
log="${SOAK_LOG:-$(mktemp /tmp/daftar-soak.XXXXXX)}"
sel=(--workspace --features daftar-desktop/custom-protocol)
echo "==> building (the same selection as the tests)"
cargo test "${sel[@]}" --no-run 2>&1 | tail -1
started=$(date +%s)
run() {
  local name=$1; shift
  echo "==> $name"
  env "$@" 2>&1 | tee -a "$log" | grep -oE "(crash|simnet|proxy): .*|panicked.*|FAILED.*" || true
}
run "client SIGKILLs" DAFTAR_CRASH_KILLS="${CRASH_KILLS:-1000}" \
  cargo test "${sel[@]}" --test crash -- --nocapture
run "simulated network" DAFTAR_SIMNET_STORIES="${SIMNET_STORIES:-10000}" \
  cargo test "${sel[@]}" --test simnet -- --nocapture
run "fault proxy and server SIGKILLs" DAFTAR_PROXY_ROUNDS="${PROXY_ROUNDS:-1000}" \
  cargo test "${sel[@]}" --test bad_network -- --nocapture marking_through
if [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
  echo "==> fuzzing every target for ${FUZZ_SECONDS} s"
  bash fuzz/run.sh "${FUZZ_SECONDS}" 2>&1 | tee -a "$log" | grep -E "^fuzz:|crash|panicked" || true
fi
echo "==> figures (whole log: $log; $(( $(date +%s) - started )) s)"
grep -ohE "(crash|simnet|proxy|fuzz): .*" "$log" || true
if grep -qE "panicked|test result: FAILED|^fuzz:.* [1-9][0-9]* crashes" "$log"; then
  echo "soak FAILED: see $log"
  exit 1
fi
