#!/usr/bin/env bash
# Soak: 1,000 simulated phones (plain WebSocket device links on loopback) on one release
# server, a database first filled with 60,000 delivered messages (bulk sends), then steady
# traffic through `POST /v1/messages` for 30 minutes, the server's RSS sampled as it goes;
# prints the figures (Markdown) and whether memory stayed flat. Bench only: CI never runs it. Any relay-fleet option may be given (bench/README.md):
#
#   bench/soak.sh                                   # 30 minutes, 1,000 phones, 20 msg/s
#   bench/soak.sh --soak-secs 180 --sample-secs 10  # a 3-minute check
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

args=("$@")
[[ " $* " == *" --soak-secs "* ]] || args+=(--soak-secs 1800)
[[ " $* " == *" --sample-secs "* ]] || args+=(--sample-secs 30)
[[ " $* " == *" --prefill "* ]] || args+=(--prefill 60000)

echo "== building the release server (root workspace) and relay-fleet (bench/loadgen)" >&2
cargo build --release -p relay-server
CARGO_TARGET_DIR="$here/loadgen/target" cargo build --release --manifest-path "$here/loadgen/Cargo.toml" --bin relay-fleet
server_bin="${CARGO_TARGET_DIR:-$root/target}/release/relay-server"

# Two descriptors per phone in this machine (client and server side), plus the server's own.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/relay-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "== soak (load average now: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
"$here/loadgen/target/release/relay-fleet" --server-bin "$server_bin" --work-dir "$work" "${args[@]}"
