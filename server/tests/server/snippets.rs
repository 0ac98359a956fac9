//! The developer portal's examples, run with their real toolchains against a live server.
//!
//! Each test fetches `/portal` from a real `relay-server` (SQLite) with a simulated phone
//! paired, extracts one language's code blocks from the served HTML (so the base URL
//! substitution is tested too), runs every scenario with that language's own toolchain and
//! checks the documented answer: a queued message, its status, an OTP sent and then verified
//! with the code the phone received, a bulk batch, a directory search, a webhook endpoint, and
//! health plus readiness. The webhook-verification examples must accept a delivery the server
//! signed and reject it tampered. A missing toolchain is skipped loudly by scripts/test.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::receiver::{Received, Receiver};
use crate::common::{TestAccount, TestDb, TestDevice, TestServer, create_account};
use crate::otp::{code_in, phone, sms_for};

const SCENARIOS: [&str; 8] =
    ["send_sms", "send_otp", "verify_otp", "message_status", "bulk", "recipients_search", "webhooks", "health"];

/// The npm package with axios (and newman), installed by `npm ci` in scripts/test.sh.
pub(crate) fn npm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/portal")
}

/// The text of the code block `key` (`send_sms/python`) in the served page, unescaped.
pub(crate) fn code_block(page: &str, key: &str) -> String {
    let marker = format!("data-snippet=\"{key}\">");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no code block {key} in the page")) + marker.len();
    let end = start + page[start..].find("</code>").unwrap();
    page[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// A live server with a running phone, an account, a directory entry and a webhook receiver.
struct Fixture {
    server: TestServer,
    account: TestAccount,
    phone: TestDevice,
    receiver: Receiver,
    page: String,
    _db: TestDb,
}

impl Fixture {
    fn start() -> Self {
        let db = TestDb::new(crate::common::Backend::Sqlite);
        let account = create_account(&db, "portal@example.com", "unlimited");
        let server = TestServer::start_with(&db, &["--heartbeat-secs", "2", "--allow-private-webhooks"]);
        let phone = phone(&server, &account.key, "Portal phone");
        let ali = json!({"name": "Ali Khan", "phone": "+923331234567"}).to_string();
        let reply = server.send("POST", "/v1/recipients", Some(&account.key), Some(&ali));
        assert_eq!(reply.status, 201, "{}", reply.text);
        let page = server.get("/portal", None);
        assert_eq!(page.status, 200, "{}", page.text);
        Fixture { receiver: Receiver::start(0), page: page.text, server, account, phone, _db: db }
    }

    fn source(&self, scenario: &str, lang: &str) -> String {
        let source = code_block(&self.page, &format!("{scenario}/{lang}"));
        assert!(source.contains(&self.server.url) || scenario == "webhook_verify", "{source}");
        assert!(!source.contains("{{BASE_URL}}"), "{source}");
        source
    }

    /// Waits until the phone is online, so readiness can answer 200.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.server.get("/v1/readiness", Some(&self.account.key)).status != 200 {
            assert!(Instant::now() < deadline, "the account never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A delivery of `webhook.test` the server signed and sent to the receiver.
    fn signed_delivery(&self, webhook_id: &str) -> Received {
        let reply = self.server.send("POST", &format!("/v1/webhooks/{webhook_id}/test"), Some(&self.account.key), None);
        assert_eq!(reply.status, 202, "{}", reply.text);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(r) = self.receiver.received().into_iter().find(|r| r.json()["type"] == "webhook.test") {
                return r;
            }
            assert!(Instant::now() < deadline, "the test event never arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How one language's examples are run: a file name per scenario and the command for it.
trait Toolchain {
    fn file_name(&self, scenario: &str) -> String;
    /// Called once with every example written, before any runs (compilers batch here).
    fn prepare(&mut self, _dir: &Path, _files: &[PathBuf]) {}
    fn command(&self, file: &Path) -> Command;
}

struct Interpreter {
    program: &'static str,
    args: &'static [&'static str],
    ext: &'static str,
}

impl Toolchain for Interpreter {
    fn file_name(&self, scenario: &str) -> String {
        format!("{scenario}.{}", self.ext)
    }
    fn command(&self, file: &Path) -> Command {
        let mut cmd = Command::new(self.program);
        cmd.args(self.args).arg(file);
        cmd
    }
}

fn camel(scenario: &str) -> String {
    scenario.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// kotlinc is slow to start: every example is compiled in one invocation, then run on the JVM.
struct Kotlin {
    out: PathBuf,
}

fn kotlinc() -> PathBuf {
    std::env::var_os("RELAY_KOTLINC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/kotlin/package/bin/kotlinc"))
}

impl Toolchain for Kotlin {
    fn file_name(&self, scenario: &str) -> String {
        format!("{}.kt", camel(scenario))
    }
    fn prepare(&mut self, dir: &Path, files: &[PathBuf]) {
        self.out = dir.join("classes");
        let out = Command::new(kotlinc()).args(files).arg("-d").arg(&self.out).output().unwrap();
        assert!(out.status.success(), "kotlinc failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    fn command(&self, file: &Path) -> Command {
        let stdlib = kotlinc().parent().unwrap().join("../lib/kotlin-stdlib.jar");
        let class = format!("{}Kt", file.file_stem().unwrap().to_string_lossy());
        let mut cmd = Command::new("java");
        cmd.arg("-cp").arg(format!("{}:{}", self.out.display(), stdlib.display())).arg(class);
        cmd
    }
}

/// C# through Mono: mcs compiles each example, mono runs it.
struct CSharp;

impl Toolchain for CSharp {
    fn file_name(&self, scenario: &str) -> String {
        format!("{scenario}.cs")
    }
    fn prepare(&mut self, _dir: &Path, files: &[PathBuf]) {
        for file in files {
            let out = Command::new("mcs")
                .arg("-r:System.Net.Http.dll")
                .arg(format!("-out:{}", file.with_extension("exe").display()))
                .arg(file)
                .output()
                .unwrap();
            assert!(out.status.success(), "mcs {} failed:\n{}", file.display(), String::from_utf8_lossy(&out.stdout));
        }
    }
    fn command(&self, file: &Path) -> Command {
        let mut cmd = Command::new("mono");
        cmd.arg(file.with_extension("exe"));
        cmd
    }
}

fn toolchain(lang: &str) -> Box<dyn Toolchain> {
    let interp = |program: &'static str, args: &'static [&'static str], ext: &'static str| {
        Box::new(Interpreter { program, args, ext }) as Box<dyn Toolchain>
    };
    match lang {
        "curl" => interp("bash", &[], "sh"),
        "php" => interp("php", &[], "php"),
        "node" | "axios" => interp("node", &[], "mjs"),
        "python" => interp("python3", &[], "py"),
        "ruby" => interp("ruby", &[], "rb"),
        "go" => interp("go", &["run"], "go"),
        "java" => interp("java", &[], "java"),
        "kotlin" => Box::new(Kotlin { out: PathBuf::new() }),
        "csharp" => Box::new(CSharp),
        other => panic!("no toolchain for {other}"),
    }
}

/// Runs one language's examples end to end and checks every documented answer.
fn run_language(lang: &str) {
    let started = Instant::now();
    let mut f = Fixture::start();
    // Axios resolves `import axios` from the example's folder: it lives beside node_modules.
    let dir = if lang == "axios" {
        assert!(npm_dir().join("node_modules/axios").exists(), "run `npm ci` in {}", npm_dir().display());
        tempfile::tempdir_in(npm_dir()).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let mut tool = toolchain(lang);
    let mut files = Vec::new();
    for scenario in SCENARIOS.iter().chain(&["webhook_verify"]) {
        let path = dir.path().join(tool.file_name(scenario));
        std::fs::write(&path, f.source(scenario, lang)).unwrap();
        files.push(path);
    }
    tool.prepare(dir.path(), &files);
    let file = |scenario: &str| dir.path().join(tool.file_name(scenario));
    let key = f.account.key.clone();
    let run = |scenario: &str, env: &[(&str, &str)]| -> Output {
        let mut cmd = tool.command(&file(scenario));
        cmd.current_dir(dir.path()).env("RELAY_API_KEY", &key);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.output().unwrap()
    };
    let answers = |scenario: &str, env: &[(&str, &str)]| -> Vec<Value> {
        let out = run(scenario, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{lang} {scenario} failed:\n{stdout}\n{stderr}");
        let lines: Vec<Value> = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{lang} {scenario} printed non-JSON ({e}): {l}"))
            })
            .collect();
        assert!(!lines.is_empty(), "{lang} {scenario} printed nothing; stderr: {stderr}");
        lines
    };
    let one = |scenario: &str, env: &[(&str, &str)]| -> Value {
        let mut lines = answers(scenario, env);
        assert_eq!(lines.len(), 1, "{lang} {scenario}: {lines:?}");
        lines.remove(0)
    };

    let sent = one("send_sms", &[]);
    assert_eq!(
        (&sent["ok"], &sent["status"], &sent["to"]),
        (&json!(true), &json!("queued"), &json!("+923001234567")),
        "{sent}"
    );
    let request_id = sent["request_id"].as_str().unwrap();
    assert!(request_id.starts_with("req_"), "{sent}");

    let status = one("message_status", &[("REQUEST_ID", request_id)]);
    assert_eq!((&status["ok"], &status["request_id"]), (&json!(true), &json!(request_id)), "{status}");
    let known = ["queued", "dispatched", "sent", "delivered"];
    assert!(known.contains(&status["status"].as_str().unwrap()), "{status}");

    let otp = one("send_otp", &[]);
    assert_eq!((&otp["ok"], &otp["status"]), (&json!(true), &json!("sent")), "{otp}");
    let otp_id = otp["otp_id"].as_str().unwrap();
    let code = code_in(&sms_for(&mut f.phone, otp["request_id"].as_str().unwrap()).body, 6);
    let verified = one("verify_otp", &[("OTP_ID", otp_id), ("OTP_CODE", &code)]);
    assert_eq!((&verified["ok"], &verified["status"]), (&json!(true), &json!("success")), "{verified}");

    let bulk = one("bulk", &[]);
    assert_eq!((&bulk["ok"], &bulk["queued"]), (&json!(true), &json!(2)), "{bulk}");
    assert!(bulk["batch_id"].as_str().unwrap().starts_with("bat_"), "{bulk}");

    let found = one("recipients_search", &[]);
    assert_eq!(found["ok"], true, "{found}");
    assert_eq!(found["recipients"][0]["name"], "Ali Khan", "{found}");

    let webhook = one("webhooks", &[("WEBHOOK_URL", &f.receiver.url())]);
    assert_eq!(webhook["ok"], true, "{webhook}");
    let secret = webhook["webhook"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{webhook}");
    let delivery = f.signed_delivery(webhook["webhook"]["id"].as_str().unwrap());
    let verify = |body: &str| {
        run(
            "webhook_verify",
            &[
                ("WEBHOOK_SECRET", secret),
                ("WEBHOOK_ID", delivery.header("webhook-id")),
                ("WEBHOOK_TIMESTAMP", delivery.header("webhook-timestamp")),
                ("WEBHOOK_SIGNATURE", delivery.header("webhook-signature")),
                ("WEBHOOK_BODY", body),
            ],
        )
    };
    let genuine = verify(&delivery.body);
    let said = String::from_utf8_lossy(&genuine.stdout);
    assert!(
        genuine.status.success() && said.trim() == "valid",
        "{lang} rejected a genuine delivery: {said} {}",
        String::from_utf8_lossy(&genuine.stderr)
    );
    let tampered = verify(&delivery.body.replace("webhook.test", "webhook.tesT"));
    let said = String::from_utf8_lossy(&tampered.stdout);
    assert!(!tampered.status.success() && said.trim() == "invalid", "{lang} accepted a tampered delivery: {said}");

    f.wait_ready();
    let health = answers("health", &[]);
    assert_eq!(health.len(), 2, "{health:?}");
    assert_eq!((&health[0]["ok"], &health[0]["status"]), (&json!(true), &json!("pass")), "{health:?}");
    assert_eq!(health[1]["ok"], true, "{health:?}");
    eprintln!("{lang}: every example gave its documented answer in {:?}", started.elapsed());
}

#[test]
fn curl_examples_get_the_documented_answers() {
    run_language("curl");
}

#[test]
fn python_examples_get_the_documented_answers() {
    run_language("python");
}

#[test]
fn node_examples_get_the_documented_answers() {
    run_language("node");
}

#[test]
fn axios_examples_get_the_documented_answers() {
    run_language("axios");
}

#[test]
fn php_examples_get_the_documented_answers() {
    run_language("php");
}

#[test]
fn ruby_examples_get_the_documented_answers() {
    run_language("ruby");
}

#[test]
fn go_examples_get_the_documented_answers() {
    run_language("go");
}

#[test]
fn java_examples_get_the_documented_answers() {
    run_language("java");
}

#[test]
fn kotlin_examples_get_the_documented_answers() {
    run_language("kotlin");
}

#[test]
fn csharp_examples_get_the_documented_answers() {
    run_language("csharp");
}

/// Laravel needs an application to run in: its examples are checked by `php -l`.
#[test]
fn laravel_examples_pass_php_lint() {
    let f = Fixture::page_only();
    let dir = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS.iter().chain(&["webhook_verify"]) {
        let source = code_block(&f, &format!("{scenario}/laravel"));
        assert!(source.contains("Illuminate\\"), "{scenario}: {source}");
        let path = dir.path().join(format!("{scenario}.php"));
        std::fs::write(&path, source).unwrap();
        let out = Command::new("php").arg("-l").arg(&path).output().unwrap();
        assert!(out.status.success(), "php -l {scenario}/laravel: {}", String::from_utf8_lossy(&out.stdout));
    }
}

/// No Dart SDK installs here (Debian has none): the Flutter examples are checked only for
/// what can be checked without one — balanced brackets and quotes, the package they import,
/// and the filled-in base URL.
#[test]
fn flutter_examples_are_well_formed() {
    let page = Fixture::page_only();
    for scenario in SCENARIOS.iter().chain(&["webhook_verify"]) {
        let source = code_block(&page, &format!("{scenario}/flutter"));
        let import =
            if *scenario == "webhook_verify" { "package:crypto/crypto.dart" } else { "package:http/http.dart" };
        assert!(source.contains(import), "{scenario}: {source}");
        assert!(source.contains(" main() "), "{scenario}: {source}");
        assert_balanced(&source, scenario);
    }
}

/// Brackets balance outside strings and comments, and every string closes on its line.
fn assert_balanced(source: &str, what: &str) {
    let mut stack = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(_), '\\') => {
                    chars.next();
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '/') if chars.peek() == Some(&'/') => break,
                (None, '(' | '[' | '{') => stack.push(c),
                (None, ')' | ']' | '}') => {
                    let open = stack.pop();
                    let want = match c {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    assert_eq!(open, Some(want), "{what}: unbalanced {c} on line {}", n + 1);
                }
                _ => {}
            }
        }
        assert!(quote.is_none(), "{what}: a string does not close on line {}", n + 1);
    }
    assert!(stack.is_empty(), "{what}: unclosed {stack:?}");
}

impl Fixture {
    /// The page of a server without phone or account, for the syntax-only checks.
    fn page_only() -> String {
        let db = TestDb::new(crate::common::Backend::Sqlite);
        let server = TestServer::start(&db);
        let page = server.get("/portal", None);
        assert_eq!(page.status, 200);
        page.text
    }
}
