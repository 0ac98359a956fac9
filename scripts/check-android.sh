#!/usr/bin/env bash
# What can be checked of the Android build without the Android SDK and NDK:
#   1. `cargo check` and clippy of relay-android for aarch64-linux-android (the rustup target;
#      clang stands in for the NDK's compiler so that ring and the bundled SQLite type-check
#      against glibc's arm64 headers: enough to check, not to ship),
#   2. no OpenSSL / aws-lc in relay-android's dependency tree (neither builds without the NDK),
#   3. the app's Kotlin sources (android-app/) compile, with kotlinc -Werror, together with the
#      uniffi bindings generated from the built library, against Java stand-ins of the Android
#      classes they use (android-app/stubs/java: the real names, signatures and constants), and
#      the app's RelayNative declares exactly the JNI methods relay-android implements (the
#      descriptors the JNI host-JVM test registers).
# A missing prerequisite is skipped LOUDLY, or fails under RELAY_REQUIRE_ALL=1 (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

STRICT="${RELAY_REQUIRE_ALL:-0}"
TARGET=aarch64-linux-android
SKIPPED=0

skip() { # skip <check> <reason>
    if [ "$STRICT" = "1" ]; then
        echo "error: the Android $1 check cannot run: $2 (RELAY_REQUIRE_ALL=1 forbids skipping)" >&2
        exit 1
    fi
    SKIPPED=1
    echo "!!! SKIPPING the Android $1 check: $2" >&2
}

echo "== relay-android for $TARGET"
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    skip "$TARGET" "the rustup target is not installed (rustup target add $TARGET)"
elif ! command -v clang >/dev/null 2>&1 || ! command -v llvm-ar >/dev/null 2>&1; then
    skip "$TARGET" "clang/llvm-ar are not installed (apt-get install clang lld)"
elif [ ! -d /usr/aarch64-linux-gnu/include ]; then
    skip "$TARGET" "no arm64 C headers (apt-get install libc6-dev-arm64-cross)"
else
    # ring: clang for the target without the NDK's sysroot; the bundled SQLite: glibc's arm64
    # headers. Type-checking only: the real library is linked by the NDK (scripts/build-apk.sh).
    export CC_aarch64_linux_android=clang
    export AR_aarch64_linux_android=llvm-ar
    export CFLAGS_aarch64_linux_android="--target=aarch64-linux-android21 -nostdlibinc -DRING_CORE_NOSTDLIBINC=1 -isystem /usr/aarch64-linux-gnu/include"
    cargo check --quiet -p relay-android --lib --no-default-features --target "$TARGET"
    cargo clippy --quiet -p relay-android --lib --no-default-features --target "$TARGET" -- -D warnings
    echo "ok: cargo check + clippy -p relay-android --target $TARGET"
fi

echo "== relay-android's dependencies"
TREE="$(cargo tree -p relay-android --edges normal --prefix none --target all)"
if grep -Eq '^(openssl-sys|openssl|aws-lc-sys|aws-lc-rs|native-tls) ' <<<"$TREE"; then
    grep -E '^(openssl-sys|openssl|aws-lc-sys|aws-lc-rs|native-tls) ' <<<"$TREE" | sort -u >&2
    echo "error: relay-android must not depend on OpenSSL or aws-lc (they do not build for Android without the NDK)" >&2
    exit 1
fi
echo "ok: no OpenSSL / aws-lc"

echo "== android-app's Kotlin sources against the Android stand-ins"
KOTLINC="${RELAY_KOTLINC:-$PWD/.tools/kotlin/package/bin/kotlinc}"
JNA_JAR="${RELAY_JNA_JAR:-/usr/share/java/jna.jar}"
if [ ! -x "$KOTLINC" ]; then
    skip "app sources" "no kotlinc at $KOTLINC (run scripts/kotlin-tools.sh)"
elif [ ! -f "$JNA_JAR" ]; then
    skip "app sources" "no JNA jar at $JNA_JAR (apt-get install libjna-java)"
elif ! command -v javac >/dev/null 2>&1 || ! command -v javap >/dev/null 2>&1; then
    skip "app sources" "no JDK (javac, javap)"
else
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    scripts/android-bindings.sh "$WORK/bindings" >/dev/null
    javac -d "$WORK/stubs" $(find android-app/stubs/java -name '*.java')
    COROUTINES="$(dirname "$(dirname "$KOTLINC")")/lib/kotlinx-coroutines-core-jvm.jar"
    "$KOTLINC" -Werror -d "$WORK/app" -cp "$WORK/stubs:$JNA_JAR:$COROUTINES" \
        $(find android-app/app/src/main/kotlin "$WORK/bindings" -name '*.kt')
    # The app's JNI declarations against those the Rust side implements and tests.
    javac -d "$WORK/native" -cp "$WORK/stubs" relay-android/tests/java/org/relay/android/RelayNative.java
    natives() { # "name descriptor" of each native method
        javap -s -cp "$1" org.relay.android.RelayNative | grep -A1 ' native ' | grep -v '^--' | paste - - |
            sed -E 's/.* ([A-Za-z_]+)\(.*descriptor: (.*)$/\1 \2/' | sort
    }
    if [ "$(natives "$WORK/app")" != "$(natives "$WORK/native")" ]; then
        echo "error: android-app's RelayNative does not declare the JNI methods relay-android implements:" >&2
        diff <(natives "$WORK/app") <(natives "$WORK/native") >&2 || true
        exit 1
    fi
    echo "ok: android-app compiles; its RelayNative matches relay-android's entry points"
fi

if [ "$SKIPPED" = "1" ]; then
    echo "!!! NOT EVERY ANDROID CHECK RAN (see above)" >&2
fi
