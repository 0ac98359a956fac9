#!/usr/bin/env bash
# Writes the uniffi Kotlin bindings (packages uniffi.relay_core and uniffi.relay_android) into
# the directory given, from a host build of librelay_android.so with relay-android's own
# uniffi-bindgen (library mode; the metadata is the same for every target).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: scripts/android-bindings.sh OUT_DIR}"

cargo build --quiet -p relay-android
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
mkdir -p "$OUT"
"$TARGET_DIR/debug/uniffi-bindgen" generate --no-format -l kotlin -o "$OUT" "$TARGET_DIR/debug/librelay_android.so" >/dev/null
find "$OUT" -name '*.kt' | sort
