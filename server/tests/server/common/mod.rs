//! The test harness: a real `relay-server` process on loopback, over a real SQLite file or a
//! real PostgreSQL schema of its own, driven through HTTP and through its CLI.
//!
//! Every storage test runs twice, `…::sqlite` and `…::postgres` (see [`both_backends!`]).
//! A PostgreSQL test fails when PostgreSQL is unreachable; `scripts/test.sh` decides, loudly,
//! whether to leave them out on a machine without it (never in CI).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A running `relay-server serve` process on a loopback port of its own.
pub struct TestServer {
    pub url: String,
    child: Option<Child>,
    log: PathBuf,
    pub http: reqwest::blocking::Client,
}

impl TestServer {
    pub fn start(db: &TestDb) -> Self {
        let log = db.dir.path().join(format!("server-{}.log", ulid::Ulid::new()));
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0", "--json", "--database", &db.url])
            .env("RELAY_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let announced: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            let mut text = String::new();
            let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
            panic!("the server did not start; it printed {line:?}; log:\n{text}")
        });
        assert_eq!(announced["event"], "listening");
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        TestServer { url: announced["url"].as_str().unwrap().to_owned(), child: Some(child), log, http }
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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
