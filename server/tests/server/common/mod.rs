//! The test harness: a real `relay-server` process on loopback, over a real SQLite file or a
//! real PostgreSQL schema of its own, driven through HTTP and through its CLI.
//!
//! Every storage test runs twice, `…::sqlite` and `…::postgres` (see [`both_backends!`]).
//! A PostgreSQL test fails when PostgreSQL is unreachable; `scripts/test.sh` decides, loudly,
//! whether to leave them out on a machine without it (never in CI).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod receiver;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_relay-server");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `both_backends!(name)` makes `name::sqlite` and
/// `name::postgres` from `fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::common::Backend::Postgres)
            }
        }
    )+};
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `within`.
pub fn poll<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The base PostgreSQL URL (database `test` on 127.0.0.1 unless `RELAY_TEST_POSTGRES_URL` says otherwise).
pub fn postgres_base_url() -> String {
    std::env::var("RELAY_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of the test's own: a SQLite file in a temporary folder, or a fresh PostgreSQL schema.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = dir.path().join("relay.db").to_string_lossy().into_owned();
                TestDb { backend, url, dir, schema: None }
            }
            Backend::Postgres => {
                let base = postgres_base_url();
                let schema = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
                let mut conn = PgConnection::establish(&base).unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for this test and is unreachable at {base}: {e}")
                });
                conn.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                TestDb { backend, url, dir, schema: Some(schema) }
            }
        }
    }
}

impl TestDb {
    /// The PostgreSQL schema holding this database's tables (`None` on SQLite).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The same PostgreSQL schema, reached through a relay on `port` (a [`FlakyLink`] to
    /// PostgreSQL's port): its own data folder, and dropping it drops nothing.
    pub fn through(&self, port: u16) -> TestDb {
        let at = self.url.find('@').expect("a PostgreSQL URL with user@host");
        let end = at + self.url[at..].find('/').expect("a database name");
        let url = format!("{}@127.0.0.1:{port}{}", &self.url[..at], &self.url[end..]);
        TestDb { backend: self.backend, url, dir: tempfile::tempdir().unwrap(), schema: None }
    }

    /// PostgreSQL's port in this database's URL.
    pub fn postgres_port(&self) -> u16 {
        let at = self.url.find('@').expect("a PostgreSQL URL with user@host");
        let host = &self.url[at + 1..at + self.url[at..].find('/').expect("a database name")];
        host.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(5432)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema
            && let Ok(mut conn) = PgConnection::establish(&postgres_base_url())
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Output of one CLI run.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("CLI printed no JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

pub fn cli(db: &TestDb, args: &[&str]) -> CliOutput {
    let out = Command::new(BIN).args(args).arg("--database").arg(&db.url).env("RELAY_LOG", "warn").output().unwrap();
    CliOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An account made through the CLI, with its first key.
#[derive(Debug, Clone)]
pub struct TestAccount {
    pub id: String,
    pub key: String,
    pub key_id: String,
}

pub fn create_account(db: &TestDb, email: &str, plan: &str) -> TestAccount {
    let out = cli(db, &["account", "create", "--name", "Test Co", "--email", email, "--plan", plan, "--json"]);
    assert!(out.success, "account create failed: {out:?}");
    let v = out.json();
    TestAccount {
        id: v["account"]["id"].as_str().unwrap().to_owned(),
        key: v["key"]["key"].as_str().unwrap().to_owned(),
        key_id: v["key"]["id"].as_str().unwrap().to_owned(),
    }
}

/// The tests' HTTP client. reqwest is built with rustls but no default crypto provider (the
/// server's webhook client brings its own): ring is installed for the test process first.
pub fn http_client() -> reqwest::blocking::Client {
    http_client_builder().build().unwrap()
}

/// The same, to be adjusted (the console's tests turn off redirects).
pub fn http_client_builder() -> reqwest::blocking::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(20))
}

/// A running `relay-server serve` process on a loopback port of its own.
pub struct TestServer {
    pub url: String,
    child: Option<Child>,
    log: PathBuf,
    pub http: reqwest::blocking::Client,
    /// What a restart needs: the same database, folder and extra arguments.
    database_url: String,
    dir: PathBuf,
    extra: Vec<String>,
    /// Logs of earlier runs of this server (before a restart), oldest first.
    earlier_logs: Vec<PathBuf>,
}

impl TestServer {
    pub fn start(db: &TestDb) -> Self {
        Self::start_with(db, &[])
    }

    /// Starts the server with extra `serve` arguments, e.g. `&["--heartbeat-secs", "2"]`.
    pub fn start_with(db: &TestDb, extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|&a| a.to_owned()).collect();
        let dir = db.dir.path().to_owned();
        let (child, url, log) = spawn_server(&db.url, &dir, &extra, "127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let http = http_client();
        TestServer {
            url,
            child: Some(child),
            log,
            http,
            database_url: db.url.clone(),
            dir,
            extra,
            earlier_logs: vec![],
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap()
    }

    /// The device link's URL on this server.
    pub fn connect_url(&self) -> String {
        format!("{}/v1/device/connect", self.url.replacen("http://", "ws://", 1))
    }

    /// Kills the server with SIGKILL, as a crash or a power cut would, and waits for it to be gone.
    pub fn kill_hard(&mut self) {
        let mut child = self.child.take().expect("the server is not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts the server again on the same database (after `kill_hard` or `terminate`), on the
    /// same port if it can be had again, else on a new one: compare `url` before and after.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server before restarting it");
        self.earlier_logs.push(self.log.clone());
        let same_port = format!("127.0.0.1:{}", self.port());
        let deadline = Instant::now() + Duration::from_secs(5);
        let (child, url, log) = loop {
            match spawn_server(&self.database_url, &self.dir, &self.extra, &same_port) {
                Ok(started) => break started,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("restart on {same_port} failed, trying again: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(_) => {
                    break spawn_server(&self.database_url, &self.dir, &self.extra, "127.0.0.1:0")
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
        };
        (self.child, self.url, self.log) = (Some(child), url, log);
    }

    pub fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        Reply::from(req.send().unwrap())
    }

    pub fn send(&self, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body.to_owned());
        }
        Reply::from(req.send().unwrap())
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "the server did not stop within 40 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the server logged, over all its runs.
    pub fn log(&self) -> String {
        let mut text = String::new();
        for (i, path) in self.earlier_logs.iter().enumerate() {
            text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
            text.push_str(&format!("--- server restarted (run {}) ---\n", i + 2));
        }
        text.push_str(&std::fs::read_to_string(&self.log).unwrap_or_default());
        text
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
    }
}

/// Spawns `relay-server serve` and waits for its "listening" line: (process, URL, log file).
fn spawn_server(
    database_url: &str,
    dir: &Path,
    extra: &[String],
    bind: &str,
) -> Result<(Child, String, PathBuf), String> {
    let log = dir.join(format!("server-{}.log", ulid::Ulid::new()));
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", bind, "--json", "--database", database_url])
        .args(extra)
        .env("RELAY_LOG", "info")
        // Server files (the OTP secret) go to the test's folder; an explicit --data-dir wins.
        .env("RELAY_DATA_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    match serde_json::from_str::<Value>(&line) {
        Ok(announced) if announced["event"] == "listening" => {
            Ok((child, announced["url"].as_str().unwrap().to_owned(), log))
        }
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Err(format!("the server did not start on {bind}; it printed {line:?}; log:\n{text}"))
        }
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    fn from(res: reqwest::blocking::Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().unwrap();
        Reply { status, headers, text }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the documented error envelope with this status and code; returns the message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text);
        let v = self.json();
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        let message = v["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.len() > 10, "the message should be a sentence: {v}");
        message
    }
}

/// Moves an account's expiry into the past, as time would.
pub fn expire_account(db: &TestDb, account_id: &str) {
    use diesel::prelude::*;
    use relay_server::db::schema::accounts;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::days(2);
    diesel::update(accounts::table.find(account_id)).set(accounts::expires_at.eq(past)).execute(&mut *conn).unwrap();
}

/// Records a paired device that is online, as the device link will once a phone connects.
pub fn add_online_device(db: &TestDb, account_id: &str) {
    use diesel::prelude::*;
    use relay_server::db::schema::devices;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(format!("dev_{}", ulid::Ulid::new())),
            devices::account_id.eq(account_id),
            devices::name.eq("Relay Device 1"),
            devices::enabled.eq(true),
            devices::online.eq(true),
            devices::created_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(&mut *conn)
        .unwrap();
}

/// The `relay-device` binary (a simulated phone), next to `relay-server`. The server's tests
/// live in another package, so Cargo does not build it for them: it is built here, once per
/// test process, when it is missing or older than its sources.
pub fn relay_device_bin() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let profile_dir = Path::new(BIN).parent().unwrap();
        let path = profile_dir.join(format!("relay-device{}", std::env::consts::EXE_SUFFIX));
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let sources = [workspace.join("relay-core"), workspace.join("protocol")];
        let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if built.is_none_or(|built| sources.iter().any(|dir| newer_than(dir, built))) {
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev".to_owned(),
                Some(other) => other.to_owned(),
            };
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-p", "relay-core", "--bin", "relay-device", "--profile", &profile, "--target-dir"])
                .arg(profile_dir.parent().unwrap())
                .current_dir(workspace)
                .status()
                .unwrap();
            assert!(status.success(), "cargo build -p relay-core --bin relay-device failed");
        }
        assert!(path.exists(), "relay-device is not at {}", path.display());
        path
    })
    .clone()
}

/// Whether a source file (or Cargo.toml) under `dir` changed after `than`.
fn newer_than(dir: &Path, than: std::time::SystemTime) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            newer_than(&path, than)
        } else {
            let relevant = path.extension().is_some_and(|x| x == "rs") || path.ends_with("Cargo.toml");
            relevant && e.metadata().and_then(|m| m.modified()).is_ok_and(|m| m > than)
        }
    })
}

/// One line of a simulated phone's "sent box": a message handed to its SMS transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub request_id: String,
    pub to: String,
    pub body: String,
}

/// One `relay-device run` process: its stdout is the sent box, its stderr the log.
struct DeviceRun {
    stdout: PathBuf,
    stderr: PathBuf,
}

/// A simulated phone (`relay-device`) paired with a test server, with its data folder. Every
/// run's output is kept, so a test can count sends across crashes and restarts.
pub struct TestDevice {
    pub device_id: String,
    pub name: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
    runs: Vec<DeviceRun>,
}

impl TestDevice {
    /// Pairs a new phone through the account's pairing QR payload, as a person would.
    pub fn pair(server: &TestServer, key: &str, name: &str) -> Self {
        let offer = server.send("POST", "/v1/devices/pairing", Some(key), None);
        assert_eq!(offer.status, 201, "{}", offer.text);
        Self::pair_with_payload(offer.json()["qr_payload"].as_str().unwrap(), name)
    }

    /// Pairs a new phone with a QR payload shown somewhere (the console's pairing page).
    pub fn pair_with_payload(payload: &str, name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(relay_device_bin())
            .arg("pair")
            .arg(payload)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--name", name, "--json"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "relay-device pair failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let v: Value =
            serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("pair printed no JSON ({e}): {stdout}"));
        assert_eq!(v["device_name"], name, "{v}");
        TestDevice {
            device_id: v["device_id"].as_str().unwrap().to_owned(),
            name: name.to_owned(),
            dir,
            child: None,
            runs: Vec::new(),
        }
    }

    /// Starts `relay-device run --json` on this phone's data folder with extra arguments.
    pub fn run(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "the phone is already running");
        let n = self.runs.len();
        let run = DeviceRun {
            stdout: self.dir.path().join(format!("run-{n}.stdout")),
            stderr: self.dir.path().join(format!("run-{n}.stderr")),
        };
        let child = Command::new(relay_device_bin())
            .arg("run")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--json")
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&run.stdout).unwrap())
            .stderr(std::fs::File::create(&run.stderr).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.runs.push(run);
    }

    /// Kills the phone's process with SIGKILL (a crash, a battery pulled) and waits for it.
    pub fn kill_hard(&mut self) {
        let mut child = self.child.take().expect("the phone is not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Sends SIGTERM and waits; returns whether it exited with status 0.
    pub fn terminate(&mut self) -> bool {
        let mut child = self.child.take().expect("the phone is not running");
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "relay-device did not stop within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics if the running process has exited on its own.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait().unwrap()
        {
            panic!("relay-device exited by itself ({status}); log:\n{}", self.log());
        }
    }

    /// Every message any run of this phone handed to its transport, in order. A line still
    /// being written (no newline yet) is left out.
    pub fn sent(&self) -> Vec<SentSms> {
        let mut out = Vec::new();
        for run in &self.runs {
            let text = std::fs::read_to_string(&run.stdout).unwrap_or_default();
            let complete = text.rfind('\n').map_or("", |end| &text[..end]);
            for line in complete.lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("relay-device printed a line that is not JSON ({e}): {line:?}"));
                out.push(SentSms {
                    request_id: v["request_id"].as_str().unwrap().to_owned(),
                    to: v["to"].as_str().unwrap().to_owned(),
                    body: v["body"].as_str().unwrap().to_owned(),
                });
            }
        }
        out
    }

    /// Ids a restarted run found already handed to the transport by a killed run (its store
    /// says so), and so reports on without sending again. The simulated radio counts a hand-over
    /// as a transmission, so such a message may be missing from the sent box if the kill
    /// landed between the hand-over and the print: it was not sent twice, and not lost.
    pub fn recovered_after_restart(&self) -> std::collections::HashSet<String> {
        let mut ids = std::collections::HashSet::new();
        for run in &self.runs {
            let text = std::fs::read_to_string(&run.stderr).unwrap_or_default();
            // Only those it had not even reported `sent` for: a reported one was printed.
            let recovering = |l: &&str| l.contains("recovering a handed-over message") && l.contains("last=None");
            for line in text.lines().filter(recovering) {
                if let Some(at) = line.find("req_") {
                    let id: String =
                        line[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    ids.insert(id);
                }
            }
        }
        ids
    }

    /// How many times this phone was started.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The logs of every run, oldest first.
    pub fn log(&self) -> String {
        let mut text = String::new();
        for (i, run) in self.runs.iter().enumerate() {
            text.push_str(&format!("--- relay-device run {i} ---\n"));
            text.push_str(&std::fs::read_to_string(&run.stderr).unwrap_or_default());
        }
        text
    }
}

impl Drop for TestDevice {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            // The tail is what matters; a long run's log would drown the failure.
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(200)..].join("\n");
            eprintln!("--- relay-device {} log (last 200 lines) ---\n{tail}", self.name);
        }
    }
}

/// A TCP relay between a phone and the server whose live connections can be cut at will: a
/// phone whose network keeps dropping, while its process lives on.
pub struct FlakyLink {
    pub port: u16,
    live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// While set, new connections are closed at once: the far end is down.
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: usize,
}

impl FlakyLink {
    /// Listens on a loopback port of its own and forwards every connection to `upstream_port`.
    pub fn start(upstream_port: u16) -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let live = std::sync::Arc::new(std::sync::Mutex::new(Vec::<std::net::TcpStream>::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (live2, stop2, down2) = (live.clone(), stop.clone(), down.clone());
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(inbound) = inbound else { continue };
                if down2.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(outbound) = std::net::TcpStream::connect(("127.0.0.1", upstream_port)) else { continue };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                {
                    let mut live = live2.lock().unwrap();
                    live.push(inbound.try_clone().unwrap());
                    live.push(outbound.try_clone().unwrap());
                }
                for (mut from, mut to) in
                    [(inbound.try_clone().unwrap(), outbound.try_clone().unwrap()), (outbound, inbound)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        FlakyLink { port, live, stop, down, cuts: 0 }
    }

    /// The device link's URL through this relay.
    pub fn connect_url(&self) -> String {
        format!("ws://127.0.0.1:{}/v1/device/connect", self.port)
    }

    /// Cuts every live connection at once, both ways, mid-frame if need be.
    pub fn cut(&mut self) {
        let streams = std::mem::take(&mut *self.live.lock().unwrap());
        for s in streams {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        self.cuts += 1;
    }

    pub fn cuts(&self) -> usize {
        self.cuts
    }

    /// The far end goes down: live connections are cut and new ones closed at once.
    pub fn go_down(&mut self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
    }

    /// The far end is back.
    pub fn come_back(&mut self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FlakyLink {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        self.cut();
    }
}

/// Moves every pairing code's expiry into the past, as ten minutes would.
pub fn expire_pairing_codes(db: &TestDb) {
    use diesel::prelude::*;
    use relay_server::db::schema::pairing_codes;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    diesel::update(pairing_codes::table).set(pairing_codes::expires_at.eq(past)).execute(&mut *conn).unwrap();
}
