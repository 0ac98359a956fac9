#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of every crate.
#
# Suites that need something this machine may lack (PostgreSQL, the OpenAPI validator from
# PyPI, kotlinc/JNA/java for the Kotlin bindings, a JDK for the JNI glue, the Android rustup
# target and clang for scripts/check-android.sh, Chromium and Node for the console's browser
# test, Schemathesis from PyPI, cargo-fuzz for the fuzz targets) are skipped LOUDLY when it is
# missing. With RELAY_REQUIRE_ALL=1 (CI sets it) a missing prerequisite is a failure instead:
# CI always runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."

STRICT="${RELAY_REQUIRE_ALL:-0}"
SKIPPED=()
FILTERS=()

skip() { # skip <suite> <nextest filter> <reason>
    if [ "$STRICT" = "1" ]; then
        echo "error: the $1 tests cannot run: $3 (RELAY_REQUIRE_ALL=1 forbids skipping)" >&2
        exit 1
    fi
    SKIPPED+=("$1: $3")
    FILTERS+=("$2")
    echo "!!! SKIPPING the $1 tests: $3" >&2
}

echo "== format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== prerequisites"
PG_URL="${RELAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_reachable() {
    if command -v psql >/dev/null 2>&1; then
        psql "$PG_URL" -qAtc 'select 1' >/dev/null 2>&1
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}
if ! pg_reachable; then
    skip "PostgreSQL" 'test(/::postgres$/)' "no PostgreSQL answers at $PG_URL (set RELAY_TEST_POSTGRES_URL)"
fi

# The OpenAPI 3.1 validator and the official Standard Webhooks library (which checks our
# webhook signatures) live in a project-local virtualenv.
VENV=.venv
# Schemathesis (pinned: its CLI changes between releases) checks the running server against
# its own OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import openapi_spec_validator, standardwebhooks' 2>/dev/null \
    || [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    python3 -m venv "$VENV" >/dev/null 2>&1 && "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        'openapi-spec-validator>=0.7,<0.9' 'standardwebhooks>=1.1,<2' "schemathesis==$SCHEMATHESIS_VERSION" \
        >/dev/null 2>&1 || true
fi
if [ -x "$VENV/bin/python" ]; then
    export RELAY_PYTHON="$PWD/$VENV/bin/python"
fi
if ! "$VENV/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
    skip "OpenAPI validation" 'test(the_document_is_valid_openapi_3_1)' \
        "openapi-spec-validator could not be installed from PyPI into $VENV"
fi
if ! "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
    # The webhook tests still run; only their check with the official library is left out
    # (each test says so loudly, and fails under RELAY_REQUIRE_ALL=1).
    if [ "$STRICT" = "1" ]; then
        echo "error: standardwebhooks could not be installed from PyPI into $VENV (RELAY_REQUIRE_ALL=1 forbids skipping)" >&2
        exit 1
    fi
    SKIPPED+=("Standard Webhooks signature check with the official library: standardwebhooks could not be installed into $VENV")
    echo "!!! SKIPPING the signature checks with the official standardwebhooks library: not installable into $VENV" >&2
fi

if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
    skip "Schemathesis" 'test(every_operation_conforms_to_the_openapi_document)' \
        "schemathesis could not be installed from PyPI into $VENV"
fi

if ! command -v curl >/dev/null 2>&1; then
    skip "TLS end-to-end" 'test(a_phone_pins_the_self_signed_certificate_from_the_qr_payload)' "curl is not installed"
fi

# The Kotlin bindings on the host JVM: kotlinc from scripts/kotlin-tools.sh, JNA from Debian.
KOTLINC="${RELAY_KOTLINC:-$PWD/.tools/kotlin/package/bin/kotlinc}"
JNA_JAR="${RELAY_JNA_JAR:-/usr/share/java/jna.jar}"
if [ ! -x "$KOTLINC" ]; then
    skip "Kotlin host-JVM" 'test(the_kotlin_bindings_work_on_the_host_jvm)' "no kotlinc at $KOTLINC (run scripts/kotlin-tools.sh)"
elif [ ! -f "$JNA_JAR" ]; then
    skip "Kotlin host-JVM" 'test(the_kotlin_bindings_work_on_the_host_jvm)' "no JNA jar at $JNA_JAR (apt-get install libjna-java)"
elif ! command -v java >/dev/null 2>&1; then
    skip "Kotlin host-JVM" 'test(the_kotlin_bindings_work_on_the_host_jvm)' "java is not installed"
else
    export RELAY_KOTLINC="$KOTLINC" RELAY_JNA_JAR="$JNA_JAR"
fi

# The JNI glue on the host JVM (relay-android/tests/jni.rs): a JDK with javac and libjvm.
if [ -z "${JAVA_HOME:-}" ] && ! command -v javac >/dev/null 2>&1; then
    skip "JNI host-JVM" 'binary_id(relay-android::jni)' "no JDK: javac is not installed and JAVA_HOME is not set"
fi

echo "== Android checks without the SDK"
scripts/check-android.sh

# The console in a real browser: Debian's Chromium, driven by playwright-core from npm.
CHROMIUM="${RELAY_CHROMIUM:-/usr/bin/chromium}"
BROWSER_TESTS=server/tests/browser
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    skip "browser" 'test(the_console_works_in_a_real_browser)' "Node.js and npm are not installed"
elif [ ! -x "$CHROMIUM" ]; then
    skip "browser" 'test(the_console_works_in_a_real_browser)' "no Chromium at $CHROMIUM (apt-get install chromium)"
elif ! (cd "$BROWSER_TESTS" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1); then
    skip "browser" 'test(the_console_works_in_a_real_browser)' "npm could not install playwright-core into $BROWSER_TESTS"
else
    export RELAY_CHROMIUM="$CHROMIUM"
fi

# The developer portal (server/tests/server/snippets.rs, portal.rs): every example is run with
# its own language's toolchain, and the Postman collection with newman; axios and newman come
# from npm into server/tests/portal. Each missing toolchain leaves out only its language.
PORTAL_NPM=server/tests/portal
portal_skip() { skip "portal $1 examples" "test(/snippets::$2_/)" "$3"; }
command -v curl >/dev/null 2>&1 || portal_skip cURL curl "curl is not installed"
command -v python3 >/dev/null 2>&1 || portal_skip Python python "python3 is not installed"
command -v php >/dev/null 2>&1 || portal_skip PHP php "php is not installed (apt-get install php-cli php-curl)"
command -v php >/dev/null 2>&1 || portal_skip Laravel laravel "php is not installed (apt-get install php-cli)"
command -v ruby >/dev/null 2>&1 || portal_skip Ruby ruby "ruby is not installed (apt-get install ruby)"
command -v go >/dev/null 2>&1 || portal_skip Go go "go is not installed (apt-get install golang-go)"
command -v java >/dev/null 2>&1 || portal_skip Java java "java is not installed"
if [ ! -x "$KOTLINC" ] || ! command -v java >/dev/null 2>&1; then
    portal_skip Kotlin kotlin "no kotlinc at $KOTLINC or no java (run scripts/kotlin-tools.sh)"
fi
if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1 ||
    [ ! -e /usr/lib/mono/4.5/System.Net.Http.dll ]; then
    portal_skip "C#" csharp "Mono is not installed (apt-get install mono-mcs mono-runtime libmono-system-net-http4.0-cil)"
fi
if ! command -v node >/dev/null 2>&1; then
    portal_skip Node node "Node.js is not installed"
fi
if ! command -v npm >/dev/null 2>&1 || ! (cd "$PORTAL_NPM" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1); then
    portal_skip Axios axios "npm could not install axios into $PORTAL_NPM"
    skip "Postman collection under newman" 'test(the_postman_collection_runs_green_with_newman)' \
        "npm could not install newman into $PORTAL_NPM"
fi

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    EXPR="all()"
    for f in "${FILTERS[@]+"${FILTERS[@]}"}"; do EXPR="$EXPR - $f"; done
    cargo nextest run --workspace --no-fail-fast -E "$EXPR"
else
    SKIP_ARGS=()
    for f in "${FILTERS[@]+"${FILTERS[@]}"}"; do
        case "$f" in
            # First: "snippets::kotlin_" must not match the Kotlin bindings' pattern below.
            "test(/snippets::"*) f="${f#test(/}"; SKIP_ARGS+=(--skip "${f%/)}") ;;
            *postgres*) SKIP_ARGS+=(--skip ::postgres) ;;
            *a_phone_pins*) SKIP_ARGS+=(--skip a_phone_pins_the_self_signed_certificate_from_the_qr_payload) ;;
            *kotlin*) SKIP_ARGS+=(--skip the_kotlin_bindings_work_on_the_host_jvm) ;;
            # The JNI tests skip themselves loudly without a JDK.
            *relay-android::jni*) ;;
            *real_browser*) SKIP_ARGS+=(--skip the_console_works_in_a_real_browser) ;;
            *newman*) SKIP_ARGS+=(--skip the_postman_collection_runs_green_with_newman) ;;
            *every_operation_conforms*) SKIP_ARGS+=(--skip every_operation_conforms_to_the_openapi_document) ;;
            *) SKIP_ARGS+=(--skip the_document_is_valid_openapi_3_1) ;;
        esac
    done
    cargo test --workspace --no-fail-fast -- "${SKIP_ARGS[@]+"${SKIP_ARGS[@]}"}"
fi

# Fuzzing: every cargo-fuzz target for a short while (the bench runs them for minutes).
echo "== fuzz"
if cargo fuzz --version >/dev/null 2>&1; then
    RELAY_FUZZ_SEED="${RELAY_FUZZ_SEED:-1}" scripts/fuzz.sh "${RELAY_FUZZ_SECONDS:-20}"
elif [ "$STRICT" = "1" ]; then
    echo "error: the fuzz targets cannot run: cargo-fuzz is not installed (RELAY_REQUIRE_ALL=1 forbids skipping)" >&2
    exit 1
else
    SKIPPED+=("fuzz targets: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)")
    echo "!!! SKIPPING the fuzz targets: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
fi

if [ "${#SKIPPED[@]}" -gt 0 ]; then
    echo
    echo "!!! NOT EVERYTHING RAN. Skipped suites:" >&2
    for s in "${SKIPPED[@]}"; do echo "!!!   $s" >&2; done
fi
