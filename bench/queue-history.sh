#!/usr/bin/env bash
# How long `GET /v1/queue` takes for an account with a long history: one account is given
# ROWS finished messages (2 % failed, the rest delivered) written straight into the database,
# then the release server answers the queue figures five times; prints each call's time.
# Bench only: CI never runs it.
#
#   bench/queue-history.sh                 # SQLite, 1,000,000 messages
#   bench/queue-history.sh --rows 200000
#   bench/queue-history.sh --postgres      # PostgreSQL (RELAY_BENCH_POSTGRES_URL or the local `test` database)
#
# Needs sqlite3 (or psql), curl and python3. Listens on 127.0.0.1 only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

rows=1000000
backend=sqlite
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows) rows=$2; shift 2 ;;
        --postgres) backend=postgres; shift ;;
        *) echo "usage: bench/queue-history.sh [--rows N] [--postgres]" >&2; exit 2 ;;
    esac
done
for tool in curl python3 "$([[ $backend == sqlite ]] && echo sqlite3 || echo psql)"; do
    command -v "$tool" >/dev/null || { echo "bench/queue-history.sh needs $tool" >&2; exit 1; }
done

cargo build --release -p relay-server >&2
server_bin="${CARGO_TARGET_DIR:-$root/target}/release/relay-server"
work=$(mktemp -d "${TMPDIR:-/tmp}/relay-queue.XXXXXX")
pg_base=${RELAY_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
schema="queue_history_$$"
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [[ $backend == postgres ]] && psql "$pg_base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

if [[ $backend == sqlite ]]; then
    database="$work/relay.db"
    sql() { sqlite3 "$database" "$1"; }
    series="WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $rows) SELECT i FROM c"
    id="printf('req_%026d', i)"
else
    psql "$pg_base" -qc "CREATE SCHEMA $schema"
    database="$pg_base?options=-csearch_path%3D$schema"
    sql() { psql "$pg_base" -qAtc "SET search_path TO $schema; $1"; }
    series="SELECT i FROM generate_series(1, $rows) AS i"
    id="'req_' || lpad(i::text, 26, '0')"
fi

account=$("$server_bin" account create --database "$database" --data-dir "$work" --json \
    --name History --email history@example.com --plan unlimited)
key=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"]["key"])' <<<"$account")
account_id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["account"]["id"])' <<<"$account")

echo "== writing $rows finished messages ($backend)" >&2
sql "INSERT INTO messages (id, account_id, to_number, body, priority, status, encoding, segments,
        attempts, expires_at, queued_at, updated_at, finished_at, delivered_at)
     SELECT $id, '$account_id', '+923001234567', 'hello', 2,
        CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'delivered' END, 'gsm7', 1, 1,
        '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00',
        '2026-01-01 00:00:00', '2026-01-01 00:00:00'
     FROM ($series) AS s"
# Rows written behind the server's back are not in its totals: count them the way the
# migration does for an existing database.
sql "DELETE FROM message_totals WHERE account_id = '$account_id';
     INSERT INTO message_totals (account_id, status, shard, n)
     SELECT account_id, status, 0, COUNT(*) FROM messages
     WHERE status IN ('delivered', 'failed', 'expired', 'canceled') GROUP BY account_id, status"
[[ $backend == postgres ]] && sql "ANALYZE messages"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RELAY_LOG=warn "$server_bin" serve --database "$database" --data-dir "$work" --bind "127.0.0.1:$port" \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/v1/health" && break
    sleep 0.2
done

echo "GET /v1/queue, $backend, $rows finished messages in the account:"
for _ in 1 2 3 4 5; do
    curl -sf -o /dev/null -w '  %{time_total} s\n' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/queue"
done
curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/queue" |
    python3 -c 'import json, sys; print("  counts:", json.load(sys.stdin)["counts"])'
