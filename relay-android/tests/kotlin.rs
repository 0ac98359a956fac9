//! The Kotlin bindings on the host JVM: from the cdylib and `uniffi-bindgen` that the
//! workspace build made, writes the Kotlin bindings in library mode, compiles them with `tests/kotlin/RelayKotlinTest.kt`
//! (kotlinc) and runs that on the JVM with JNA against the real `librelay_android.so`.
//!
//! Tools: `RELAY_KOTLINC` (default `.tools/kotlin/package/bin/kotlinc`, from
//! `scripts/kotlin-tools.sh`; its `lib/` supplies kotlin-stdlib and kotlinx-coroutines),
//! `RELAY_JNA_JAR` (default `/usr/share/java/jna.jar`, Debian's `libjna-java`) and `java`
//! (`JAVA_HOME/bin` or PATH). Without them the test is skipped LOUDLY, unless
//! `RELAY_REQUIRE_ALL=1`, which makes a missing tool a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A missing tool: a loud skip, or a failure under `RELAY_REQUIRE_ALL=1`.
fn missing(reason: &str) {
    if std::env::var("RELAY_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("the Kotlin host-JVM test cannot run: {reason} (RELAY_REQUIRE_ALL=1 forbids skipping)");
    }
    eprintln!("!!! SKIPPING the Kotlin host-JVM test: {reason}");
    eprintln!("!!! run scripts/kotlin-tools.sh and install libjna-java, or set RELAY_KOTLINC / RELAY_JNA_JAR");
}

struct Tools {
    kotlinc: PathBuf,
    jna: PathBuf,
    stdlib: PathBuf,
    coroutines: PathBuf,
    java: PathBuf,
}

fn find_tools() -> Result<Tools, String> {
    let kotlinc = std::env::var_os("RELAY_KOTLINC")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/kotlin/package/bin/kotlinc"));
    if !kotlinc.is_file() {
        return Err(format!("no kotlinc at {}", kotlinc.display()));
    }
    let lib = kotlinc.parent().and_then(Path::parent).map(|home| home.join("lib")).unwrap_or_default();
    let stdlib = lib.join("kotlin-stdlib.jar");
    let coroutines = lib.join("kotlinx-coroutines-core-jvm.jar");
    for jar in [&stdlib, &coroutines] {
        if !jar.is_file() {
            return Err(format!("kotlinc's lib/ lacks {}", jar.display()));
        }
    }
    let jna = std::env::var_os("RELAY_JNA_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java/jna.jar"));
    if !jna.is_file() {
        return Err(format!("no JNA jar at {}", jna.display()));
    }
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|java| java.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    if Command::new(&java).arg("-version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Err("no working java (JDK 17+) on PATH or in JAVA_HOME".to_owned());
    }
    Ok(Tools { kotlinc, jna, stdlib, coroutines, java })
}

/// The profile directory this test was built into (`target/debug`), from its own path.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout
}

/// Writes the Kotlin bindings into `out` from the cdylib this test run built, with the
/// `uniffi-bindgen` it built (both come from the same workspace build, so their uniffi
/// versions agree). Returns the directory holding `librelay_android.so`.
fn generate(out: &Path) -> PathBuf {
    let Some(bindgen) = option_env!("CARGO_BIN_EXE_uniffi-bindgen") else {
        panic!("uniffi-bindgen was not built: run the test with relay-android's default `cli` feature");
    };
    // A library target's cdylib is written into `deps/` by the build that made this test.
    let file = format!("{}relay_android{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let profile = profile_dir();
    let dir = [profile.join("deps"), profile]
        .into_iter()
        .find(|dir| dir.join(&file).is_file())
        .unwrap_or_else(|| panic!("no {file} next to the test binary"));
    run(
        Command::new(bindgen)
            .current_dir(workspace_root())
            .args(["generate", "--no-format", "-l", "kotlin", "-o"])
            .arg(out)
            .arg(dir.join(&file)),
        "uniffi-bindgen generate",
    );
    dir
}

/// A stand-in for the server's pairing endpoint: code `WRONG` gets the API's 401 error
/// envelope; any other code gets a pairing answer whose connect_url nobody listens on.
fn start_pairing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A port that was free a moment ago: the link's connection attempts there are refused.
    let dead_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let (status, answer) = if request["code"] == "WRONG" {
                (
                    "401 Unauthorized",
                    serde_json::json!({"ok": false, "error": {"code": "unauthorized", "message": "That pairing code is not valid."}}),
                )
            } else {
                (
                    "200 OK",
                    serde_json::json!({
                        "ok": true,
                        "device_id": "dev_kotlin",
                        "device_name": request["name"],
                        "device_token": "rd_kotlin_token",
                        "connect_url": format!("ws://127.0.0.1:{dead_port}/v1/device/connect"),
                    }),
                )
            };
            let answer = answer.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn the_kotlin_bindings_work_on_the_host_jvm() {
    let tools = match find_tools() {
        Ok(tools) => tools,
        Err(reason) => return missing(&reason),
    };
    let work = tempfile::tempdir().unwrap();
    let bindings = work.path().join("bindings");
    let library_dir = generate(&bindings);
    let generated = bindings.join("uniffi/relay_core/relay_core.kt");
    assert!(generated.is_file(), "no bindings at {}", generated.display());

    let jar = work.path().join("relay-kotlin-test.jar");
    let compile_cp = format!("{}:{}", tools.jna.display(), tools.coroutines.display());
    run(
        Command::new(&tools.kotlinc)
            .arg(&generated)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kotlin/RelayKotlinTest.kt"))
            .args(["-nowarn", "-cp", &compile_cp, "-d"])
            .arg(&jar),
        "kotlinc",
    );

    let data_dir = work.path().join("data");
    let run_cp =
        format!("{}:{}:{}:{}", jar.display(), tools.jna.display(), tools.coroutines.display(), tools.stdlib.display());
    let stdout = run(
        Command::new(&tools.java)
            .arg(format!("-Djna.library.path={}", library_dir.display()))
            .args(["-cp", &run_cp, "RelayKotlinTestKt"])
            .arg(&data_dir)
            .arg(start_pairing_server())
            .env("RUST_LOG", "warn"),
        "the Kotlin test on the JVM",
    );
    print!("{stdout}");
    assert!(stdout.contains("KOTLIN TEST PASSED"), "the Kotlin test did not report success:\n{stdout}");
}
