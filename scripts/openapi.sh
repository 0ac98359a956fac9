#!/usr/bin/env bash
# Regenerates docs/openapi.json from the code. A test fails when the committed file drifts.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p relay-server -- openapi > docs/openapi.json
echo "wrote docs/openapi.json"
