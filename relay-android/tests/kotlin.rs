//! The Kotlin bindings on the host JVM: from the cdylib, `uniffi-bindgen` and `relay-server`
//! that the workspace build made, writes the Kotlin bindings in library mode, compiles them with
//! `tests/kotlin/RelayKotlinTest.kt` (kotlinc) and runs that on the JVM with JNA against the
//! real `librelay_android.so` and a real server: the Kotlin code pairs with the server's own
//! pairing payload, receives a message queued through the API in a Kotlin `SmsTransport`,
//! reports it sent and delivered, and the server's API is asked whether it is delivered.
//!
//! Tools: `RELAY_KOTLINC` (default `.tools/kotlin/package/bin/kotlinc`, from
//! `scripts/kotlin-tools.sh`; its `lib/` supplies kotlin-stdlib and kotlinx-coroutines),
//! `RELAY_JNA_JAR` (default `/usr/share/java/jna.jar`, Debian's `libjna-java`) and `java`
//! (`JAVA_HOME/bin` or PATH). Without them the test is skipped LOUDLY, unless
//! `RELAY_REQUIRE_ALL=1`, which makes a missing tool a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// The `relay-server` binary. The workspace test run (scripts/test.sh) has built it next to
/// this test; run alone (`cargo test -p relay-android`), the test builds it first.
fn server_binary() -> PathBuf {
    let profile = profile_dir();
    let bin = profile.join(format!("relay-server{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        return bin;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(workspace_root()).args(["build", "--quiet", "-p", "relay-server"]);
    build.arg("--target-dir").arg(profile.parent().unwrap());
    // The variables cargo set for this test are not meant for a nested build (they would make
    // build scripts rerun and dependencies rebuild).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let keep = ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_BUILD_", "CARGO_TERM_", "CARGO_NET_", "CARGO_REGISTRIES_"];
        if (key.starts_with("CARGO_") && !keep.iter().any(|k| key.starts_with(k))) || key == "OUT_DIR" {
            build.env_remove(key.as_ref());
        }
    }
    if profile.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    run(&mut build, "cargo build -p relay-server");
    bin
}

/// The real server, `relay-server serve` on a loopback port over a fresh SQLite file, with an
/// account, its API key and a pairing payload made by its CLI. Killed on drop.
struct Server {
    child: Child,
    url: String,
    key: String,
    payload: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &Path, dir: &Path) -> Server {
    let db = dir.join("relay.db");
    let cli = |args: &[&str]| -> serde_json::Value {
        let out = run(
            Command::new(bin).args(args).arg("--json").arg("--database").arg(&db).env("RELAY_LOG", "warn"),
            &format!("relay-server {}", args[0]),
        );
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("relay-server printed no JSON ({e}): {out}"))
    };
    let account = cli(&["account", "create", "--name", "Kotlin Co", "--email", "kotlin@example.com"]);
    let key = account["key"]["key"].as_str().unwrap().to_owned();
    let account_id = account["account"]["id"].as_str().unwrap().to_owned();
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--json", "--database"])
        .arg(&db)
        .env("RELAY_LOG", "warn")
        .env("RELAY_DATA_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let announced: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    let Some(url) = announced["url"].as_str().map(str::to_owned) else {
        let _ = child.kill();
        panic!(
            "the server did not start: {line:?}\n{}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
    };
    let mut server = Server { child, url, key, payload: String::new() };
    let offer = cli(&["pair", "--account", &account_id, "--public-url", &server.url]);
    server.payload = offer["qr_payload"].as_str().unwrap().to_owned();
    server
}

/// `GET path` with the API key, over a plain socket (the test needs no HTTP client crate).
fn api_get(server: &Server, path: &str) -> serde_json::Value {
    let addr = server.url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
        server.key
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // One chunk suffices for these small answers: "<len>\r\n<data>\r\n0\r\n\r\n".
        body.split_once("\r\n").map(|(_, rest)| rest).unwrap_or(body).rsplitn(2, "\r\n0\r\n").last().unwrap()
    } else {
        body
    };
    serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
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

    let server_dir = work.path().join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = start_server(&server_binary(), &server_dir);
    let data_dir = work.path().join("data");
    let run_cp =
        format!("{}:{}:{}:{}", jar.display(), tools.jna.display(), tools.coroutines.display(), tools.stdlib.display());
    let stdout = run(
        Command::new(&tools.java)
            .arg(format!("-Djna.library.path={}", library_dir.display()))
            .args(["-cp", &run_cp, "RelayKotlinTestKt"])
            .arg(&data_dir)
            .arg(&server.url)
            .arg(&server.payload)
            .arg(&server.key)
            .env("RUST_LOG", "warn"),
        "the Kotlin test on the JVM",
    );
    print!("{stdout}");
    assert!(stdout.contains("KOTLIN TEST PASSED"), "the Kotlin test did not report success:\n{stdout}");
    // The server itself says the message the Kotlin transport reported is delivered.
    let id = stdout.lines().find_map(|l| l.strip_prefix("DELIVERED ")).expect("the Kotlin test names its message");
    let message = api_get(&server, &format!("/v1/messages/{}", id.trim()));
    assert_eq!(message["status"], "delivered", "{message}");
}
