#!/usr/bin/env bash
# Relay benchmark: builds the release server and phone simulator and the load generator,
# runs every measurement once, and rewrites bench/RESULTS.md. Not a test, not run by CI.
#
#   bench/run.sh                         # SQLite and (if reachable) PostgreSQL, ~3-4 minutes
#   bench/run.sh --backends sqlite       # SQLite only
#   bench/run.sh --duration-secs 5 ...   # any relay-loadgen option (bench/README.md)
#
# Everything listens on 127.0.0.1 only; every child process is stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

command="bench/run.sh${*:+ $*}"
pg_url=${RELAY_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

args=("$@")
if [[ " $* " != *" --backends "* ]]; then
    args+=(--backends sqlite,postgres)
fi
if [[ " $* " != *" --postgres-url "* ]]; then
    args+=(--postgres-url "$pg_url")
fi

echo "== building the release server and phone simulator (root workspace)" >&2
cargo build --release -p relay-server -p relay-core
echo "== building the load generator (bench/loadgen, its own workspace)" >&2
CARGO_TARGET_DIR="$here/loadgen/target" cargo build --release --manifest-path "$here/loadgen/Cargo.toml"

target_dir=${CARGO_TARGET_DIR:-$root/target}
server_bin="$target_dir/release/relay-server"
device_bin="$target_dir/release/relay-device"
loadgen_bin="$here/loadgen/target/release/relay-loadgen"

work=$(mktemp -d "${TMPDIR:-/tmp}/relay-bench.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

started_utc=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -v -e ' bench/' -e ' .gitignore$' | head -c1 || true)
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
mem_total=$(free -h | awk '/^Mem:/ {print $2}')
rustc_version=$(rustc --version)

echo "== running relay-loadgen (load average now: $load_before)" >&2
"$loadgen_bin" --server-bin "$server_bin" --device-bin "$device_bin" \
    --work-dir "$work" --out "$work/figures.md" "${args[@]}"

# Many phones on one instance: RSS per open device link and heartbeat CPU (relay-fleet, SQLite).
# RELAY_BENCH_DEVICES=0 leaves it out.
fleet_devices=${RELAY_BENCH_DEVICES:-1000}
if [[ "$fleet_devices" != 0 ]]; then
    echo "== running relay-fleet: $fleet_devices phones on one server" >&2
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    "$here/loadgen/target/release/relay-fleet" --server-bin "$server_bin" --work-dir "$work/fleet" \
        --devices "$fleet_devices" --out "$work/fleet.md" >/dev/null
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "# Relay benchmark results"
    echo
    echo "Written by \`bench/run.sh\`; rerun it to replace this file. Figures of one run on one machine:"
    echo "compare runs on the same machine only. What each figure means: [README.md](README.md)."
    echo
    echo "| | |"
    echo "| --- | --- |"
    echo "| Date | $started_utc |"
    echo "| Command | \`$command\` (from the repository root) |"
    echo "| Commit | \`$commit\`${dirty:+ (with uncommitted changes outside bench/)} |"
    echo "| Machine | $(nproc) CPUs ($cpu_model), $mem_total memory total, $(uname -sr) |"
    echo "| Toolchain | $rustc_version, release builds |"
    echo "| Load average (1/5/15 min) | before: $load_before; after: $load_after |"
    echo
    echo "## Figures against the targets"
    echo
    cat "$work/figures.md"
    if [[ -f "$work/fleet.md" ]]; then
        echo
        echo "## Many phones on one instance"
        echo
        cat "$work/fleet.md"
    fi
    if [[ -f "$here/ANALYSIS.md" ]]; then
        echo
        cat "$here/ANALYSIS.md"
    fi
} > "$here/RESULTS.md.tmp"
mv "$here/RESULTS.md.tmp" "$here/RESULTS.md"
echo "== wrote bench/RESULTS.md" >&2
