#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for the given number of seconds each (default 20, as
# in CI; the bench runs minutes). A crash, a failed invariant, a hang (no input may take more
# than --timeout seconds) or a leak fails the run; libFuzzer writes the input that did it under
# fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [seconds] [target…]
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them. The
# seeds in fuzz/corpus/<target>/ are read; what a run discovers goes to fuzz/generated/<target>/
# (not committed) and is reused by the next run. RELAY_FUZZ_SEED fixes libFuzzer's seed (0, the
# default, picks one at random): the test suite fixes it, so a short run explores the same inputs
# every time and never fails at random; the bench's long runs explore anew.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${1:-20}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "error: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
# The fuzz crate is not a workspace member; its build lives apart from the workspace's.
export CARGO_TARGET_DIR="${RELAY_FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"

TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
    mapfile -t TARGETS < <(cd fuzz && cargo fuzz list)
fi

# Safe Rust only in the code under test: no sanitizer, so runs go several times faster. A dev
# build (debug assertions on) builds in half the time; RELAY_FUZZ_PROFILE=--release for long runs.
FUZZ_FLAGS=(--sanitizer none ${RELAY_FUZZ_PROFILE:---dev})
(cd fuzz && cargo fuzz build "${FUZZ_FLAGS[@]}")
for target in "${TARGETS[@]}"; do
    mkdir -p "fuzz/generated/$target"
    log="fuzz/generated/$target.log"
    if ! (cd fuzz && cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "generated/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -seed="${RELAY_FUZZ_SEED:-0}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1) \
        >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "error: fuzz target $target failed (full log: $log; the input is under fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")"
    echo "fuzz $target: ${SECONDS_EACH}s, ${runs:-?} inputs, peak RSS ${rss:-?} MB, corpus $(find "fuzz/generated/$target" -type f | wc -l) generated + $(find "fuzz/corpus/$target" -type f | wc -l) seeds"
done
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_EACH}s each: no crash, no hang"
