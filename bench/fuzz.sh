#!/usr/bin/env bash
# Every cargo-fuzz target for a few minutes each (default 180 s; CI runs 20 s each through
# scripts/test.sh). Needs cargo-fuzz: cargo install cargo-fuzz --locked.
#
#   bench/fuzz.sh [seconds] [target…]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-180}"
shift || true
# Long runs: an optimised build, with debug assertions still on.
export RELAY_FUZZ_PROFILE="${RELAY_FUZZ_PROFILE:---release --debug-assertions}"
exec scripts/fuzz.sh "$seconds" "$@"
