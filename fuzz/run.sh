#!/usr/bin/env bash
# Builds the fuzz targets with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1 lets it
# pass the sanitizer-coverage flags) and runs each for SECONDS (default 10) from its committed
# seed corpus (fuzz/corpus/<target>), keeping what it finds in a temporary corpus. Prints one
# line per target: `fuzz: <target>: <runs> runs in <s> s, <n> crashes`; exits non-zero on a
# crash, leaving the input under $FUZZ_ARTIFACTS (default a temporary folder).
#   bash fuzz/run.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-10}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sync_request change bundle hemis_pages)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version '^0.13' --locked
target_dir="${CARGO_TARGET_DIR:-/var/cache/daftar/target}/fuzz"
export RUSTC_BOOTSTRAP=1
# No sanitizer: the code under test is safe Rust (panics, overflows with debug assertions,
# hangs and memory blow-ups are what we look for), and builds and runs are several times faster.
flags=(--sanitizer none --debug-assertions --target-dir "$target_dir")
echo "==> building the fuzz targets"
cargo fuzz build "${flags[@]}" 2>&1 | grep -E "^(error|warning: unused)" -A5 || true
cargo fuzz build "${flags[@]}" >/dev/null 2>&1
artifacts="${FUZZ_ARTIFACTS:-$(mktemp -d /tmp/daftar-fuzz-artifacts.XXXXXX)}"
status=0
for t in "${targets[@]}"; do
  work=$(mktemp -d /tmp/daftar-fuzz-corpus.XXXXXX)
  mkdir -p "$artifacts/$t"
  log=$(mktemp /tmp/daftar-fuzz-log.XXXXXX)
  set +e
  cargo fuzz run "${flags[@]}" "$t" "$work" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -seed=1 \
    -artifact_prefix="$artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE "Done [0-9]+ runs" "$log" | grep -oE "[0-9]+" | tail -1 || true)
  crashes=$(find "$artifacts/$t" -type f | wc -l)
  echo "fuzz: $t: ${runs:-0} runs in ${seconds} s, $crashes crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    echo "fuzz: $t failed (exit $rc); inputs in $artifacts/$t; the log's end:"
    tail -30 "$log"
  fi
  rm -rf "$work" "$log"
done
exit $status
