#!/usr/bin/env bash
# Builds the signed debug APK (android-app/app/build/outputs/apk/debug/app-debug.apk) on a machine
# with the Android SDK and NDK: librelay_android.so for arm64-v8a and x86_64 through cargo-ndk,
# the uniffi Kotlin bindings, then Gradle (Android Gradle Plugin), which signs the debug build
# with the SDK's debug keystore.
#
# Needs: ANDROID_HOME (SDK with platform 35 and build-tools), ANDROID_NDK_HOME (NDK r26+),
# cargo-ndk (cargo install cargo-ndk), Gradle 8.9+ on PATH (or GRADLE=…), JDK 17.
# These machines have none of them (no Google Maven, no NDK); .github/workflows/android.yml runs
# this script on a hosted runner that does.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ANDROID_HOME:?set ANDROID_HOME to the Android SDK}"
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"
command -v cargo-ndk >/dev/null 2>&1 || { echo "error: cargo-ndk is needed (cargo install cargo-ndk)" >&2; exit 1; }
GRADLE="${GRADLE:-gradle}"
command -v "$GRADLE" >/dev/null 2>&1 || { echo "error: Gradle is needed ($GRADLE not found)" >&2; exit 1; }

GEN=android-app/app/build/generated
rustup target add aarch64-linux-android x86_64-linux-android
# The library the app loads; the NDK's clang compiles ring and SQLite for each ABI.
cargo ndk --platform 26 -t arm64-v8a -t x86_64 -o "$GEN/jniLibs" build -p relay-android --release --no-default-features
rm -rf "$GEN/uniffi"
scripts/android-bindings.sh "$GEN/uniffi" >/dev/null

"$GRADLE" -p android-app --no-daemon assembleDebug
APK=android-app/app/build/outputs/apk/debug/app-debug.apk
"$ANDROID_HOME"/build-tools/*/apksigner verify "$APK" 2>/dev/null || true
echo "$PWD/$APK"
