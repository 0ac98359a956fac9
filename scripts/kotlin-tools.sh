#!/usr/bin/env bash
# Fetches the Kotlin compiler (with kotlin-stdlib and kotlinx-coroutines) from the npm registry
# into .tools/kotlin, for the host-JVM test of the Kotlin bindings (relay-android/tests/kotlin.rs).
# Debian's kotlin (1.3) is too old for uniffi's bindings; Maven Central is not needed.
# Prints the path of kotlinc. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${KOTLIN_VERSION:-2.4.20}"
DEST=.tools/kotlin
KOTLINC="$DEST/package/bin/kotlinc"

if [ -x "$KOTLINC" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION" ]; then
    echo "$PWD/$KOTLINC"
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to fetch the Kotlin compiler" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST"
(cd "$DEST" && npm pack --silent "kotlin-compiler@$VERSION" >/dev/null)
tar xzf "$DEST"/kotlin-compiler-*.tgz -C "$DEST"
rm -f "$DEST"/kotlin-compiler-*.tgz
chmod +x "$DEST"/package/bin/*
echo "$VERSION" >"$DEST/VERSION"
echo "$PWD/$KOTLINC"
