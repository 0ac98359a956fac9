//! The web console through a real server: sign-in with an Argon2 password, the onboarding
//! checklist computed from the account, CSRF on every form, sessions that are not API
//! credentials (and keys that are not passwords), fixation, escaping and the Urdu layout.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_backends;
use crate::common::{BIN, Backend, TestDb, TestDevice, TestServer, cli, create_account};

both_backends!(
    a_person_signs_in_follows_the_checklist_and_signs_out,
    forms_without_the_right_csrf_token_are_refused,
    sessions_and_api_keys_never_stand_in_for_each_other,
    a_session_id_brought_by_the_browser_is_never_adopted,
    names_are_escaped_and_urdu_reads_right_to_left,
);

const PASSWORD: &str = "correct horse battery";

/// `relay-server account set-password`, the password on standard input.
pub fn set_password(db: &TestDb, account_id: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["account", "set-password", "--account", account_id, "--json", "--database", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// A browser without JavaScript: keeps cookies, does not follow redirects.
pub struct Browser {
    http: reqwest::blocking::Client,
    base: String,
    cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub html: String,
}

impl Browser {
    fn new(server: &TestServer) -> Self {
        Self::at(&server.url)
    }

    pub fn at(base: &str) -> Self {
        let http = crate::common::http_client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: base.to_owned(), cookies: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn take(&mut self, res: reqwest::blocking::Response) -> Page {
        let status = res.status().as_u16();
        let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> =
            res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for c in &set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page { status, location, set_cookies, html: res.text().unwrap() }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let res = self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).send().unwrap();
        self.take(res)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .unwrap();
        self.take(res)
    }

    /// The value of the hidden `csrf` field of the page's first form.
    fn csrf(page: &Page) -> String {
        let at = page.html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token");
        let rest = &page.html[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/console/login");
        assert_eq!(form.status, 200);
        let token = Self::csrf(&form);
        self.post("/console/login", &[("csrf", &token), ("email", email), ("password", password)])
    }
}

fn account_with_password(db: &TestDb, email: &str) -> crate::common::TestAccount {
    let account = create_account(db, email, "standard");
    let out = set_password(db, &account.id, PASSWORD);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    account
}

pub fn steps_done(html: &str) -> usize {
    html.matches(r#"data-done="true""#).count()
}

fn a_person_signs_in_follows_the_checklist_and_signs_out(backend: Backend) {
    let db = TestDb::new(backend);
    let account = account_with_password(&db, "ops@example.com");
    // Too short a password is refused, and changes nothing.
    let short = set_password(&db, &account.id, "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stdout).contains("at least 10 characters"));
    let server = TestServer::start_with(&db, &["--allow-private-webhooks"]);
    let mut browser = Browser::new(&server);

    // Signed out, the console sends you to the sign-in page.
    let away = browser.get("/console");
    assert_eq!((away.status, away.location.as_deref()), (303, Some("/console/login")));

    let wrong = browser.sign_in("ops@example.com", "not the password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("The email or password is wrong."));
    assert!(!browser.cookies.contains_key("relay_session"));

    let signed_in = browser.sign_in("ops@example.com", PASSWORD);
    assert_eq!((signed_in.status, signed_in.location.as_deref()), (303, Some("/console")));
    let session = signed_in.set_cookies.iter().find(|c| c.starts_with("relay_session=")).unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    // The database holds only the session's hash.
    let raw = browser.cookies["relay_session"].clone();
    let dump = cli(&db, &["account", "list", "--json"]).stdout;
    assert!(!dump.contains(&raw));

    // A fresh account: created, nothing else.
    let dashboard = browser.get("/console");
    assert_eq!(dashboard.status, 200, "{}", dashboard.html);
    assert!(dashboard.html.contains("Getting started"));
    assert_eq!(steps_done(&dashboard.html), 1, "{}", dashboard.html);

    // A request through the API ticks "key taken" and "first request".
    let body = json!({"to": "+923001234567", "message": "first"}).to_string();
    assert_eq!(server.send("POST", "/v1/messages", Some(&account.key), Some(&body)).status, 202);
    assert_eq!(steps_done(&browser.get("/console").html), 3);
    // So does a webhook endpoint.
    let hook = json!({"url": "http://127.0.0.1:9/relay-events"}).to_string();
    assert_eq!(server.send("POST", "/v1/webhooks", Some(&account.key), Some(&hook)).status, 201);
    assert_eq!(steps_done(&browser.get("/console").html), 4);

    // Signing out ends the session: the old cookie no longer opens the console.
    let dashboard = browser.get("/console");
    let token = Browser::csrf(&dashboard);
    let out = browser.post("/console/logout", &[("csrf", &token)]);
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/console/login")));
    assert!(!browser.cookies.contains_key("relay_session"));
    browser.cookies.insert("relay_session".into(), raw);
    assert_eq!(browser.get("/console").status, 303);
}

fn forms_without_the_right_csrf_token_are_refused(backend: Backend) {
    let db = TestDb::new(backend);
    account_with_password(&db, "csrf@example.com");
    let server = TestServer::start(&db);
    let mut browser = Browser::new(&server);

    // Sign-in: the token must match the cookie set with the form.
    browser.get("/console/login");
    let forged =
        browser.post("/console/login", &[("csrf", "forged"), ("email", "csrf@example.com"), ("password", PASSWORD)]);
    assert_eq!(forged.status, 403);
    assert!(forged.html.contains("This form has expired"));
    let missing = browser.post("/console/login", &[("email", "csrf@example.com"), ("password", PASSWORD)]);
    assert_eq!(missing.status, 403);
    assert!(!browser.cookies.contains_key("relay_session"));

    // Signed in: sign-out needs the session's token, so another site cannot sign you out.
    assert_eq!(browser.sign_in("csrf@example.com", PASSWORD).status, 303);
    let dashboard = browser.get("/console");
    let token = Browser::csrf(&dashboard);
    assert_eq!(browser.post("/console/logout", &[("csrf", "00ff")]).status, 403);
    assert_eq!(browser.post("/console/logout", &[]).status, 403);
    assert_eq!(browser.get("/console").status, 200, "a refused form leaves the session alone");
    // Another session's token is not this session's.
    let mut other = Browser::new(&server);
    assert_eq!(other.sign_in("csrf@example.com", PASSWORD).status, 303);
    let other_token = Browser::csrf(&other.get("/console"));
    assert_ne!(token, other_token);
    assert_eq!(browser.post("/console/logout", &[("csrf", &other_token)]).status, 403);
    assert_eq!(browser.post("/console/logout", &[("csrf", &token)]).status, 303);
}

fn sessions_and_api_keys_never_stand_in_for_each_other(backend: Backend) {
    let db = TestDb::new(backend);
    let account = account_with_password(&db, "keys@example.com");
    let server = TestServer::start(&db);
    let mut browser = Browser::new(&server);

    // The API key is not the console password.
    assert_eq!(browser.sign_in("keys@example.com", &account.key).status, 401);
    // Nor is the password an API key.
    server.get("/v1/account", Some(PASSWORD)).assert_error(401, "unauthorized");

    // The console's cookie opens nothing on the API.
    assert_eq!(browser.sign_in("keys@example.com", PASSWORD).status, 303);
    let res = browser.http.get(format!("{}/v1/account", server.url)).header("cookie", browser.cookie_header()).send();
    assert_eq!(res.unwrap().status().as_u16(), 401);

    // A suspended account cannot sign in, and its open session stops working.
    assert!(cli(&db, &["account", "suspend", "--account", &account.id]).success);
    assert_eq!(browser.get("/console").status, 303);
    assert_eq!(Browser::new(&server).sign_in("keys@example.com", PASSWORD).status, 401);

    // Guessing is slowed: ten attempts a minute per address, then 429.
    let mut guesser = Browser::new(&server);
    let statuses: Vec<u16> =
        (0..12).map(|i| guesser.sign_in("keys@example.com", &format!("guess {i}")).status).collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
}

fn a_session_id_brought_by_the_browser_is_never_adopted(backend: Backend) {
    let db = TestDb::new(backend);
    let account = account_with_password(&db, "fixation@example.com");
    let server = TestServer::start(&db);

    // An attacker plants a session id of their choosing before the victim signs in.
    let mut victim = Browser::new(&server);
    victim.cookies.insert("relay_session".into(), "planted-by-attacker".into());
    assert_eq!(victim.sign_in("fixation@example.com", PASSWORD).status, 303);
    let issued = victim.cookies["relay_session"].clone();
    assert_ne!(issued, "planted-by-attacker");
    let mut attacker = Browser::new(&server);
    attacker.cookies.insert("relay_session".into(), "planted-by-attacker".into());
    assert_eq!(attacker.get("/console").status, 303);

    // Each sign-in gets its own id, and a new password ends them all.
    let mut second = Browser::new(&server);
    assert_eq!(second.sign_in("fixation@example.com", PASSWORD).status, 303);
    assert_ne!(second.cookies["relay_session"], issued);
    assert!(set_password(&db, &account.id, "another long password").status.success());
    assert_eq!(victim.get("/console").status, 303);
    assert_eq!(second.get("/console").status, 303);
}

fn names_are_escaped_and_urdu_reads_right_to_left(backend: Backend) {
    let db = TestDb::new(backend);
    let out = cli(
        &db,
        &["account", "create", "--name", "<script>alert(1)</script> Shop", "--email", "xss@example.com", "--json"],
    );
    assert!(out.success, "{out:?}");
    let id = out.json()["account"]["id"].as_str().unwrap().to_owned();
    assert!(set_password(&db, &id, PASSWORD).status.success());
    let server = TestServer::start(&db);
    let mut browser = Browser::new(&server);
    assert_eq!(browser.sign_in("xss@example.com", PASSWORD).status, 303);

    let page = browser.get("/console");
    assert!(!page.html.contains("<script>alert(1)</script>"), "{}", page.html);
    assert!(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Shop"));
    assert!(page.html.contains(r#"<html lang="en" dir="ltr">"#));

    // The switch, then the remembered choice.
    let urdu = browser.get("/console?lang=ur");
    assert!(urdu.html.contains(r#"<html lang="ur" dir="rtl">"#), "{}", urdu.html);
    assert!(urdu.html.contains("آغاز"));
    assert!(!urdu.html.contains("Getting started"));
    let again = browser.get("/console");
    assert!(again.html.contains(r#"dir="rtl""#));
    let back = browser.get("/console?lang=en");
    assert!(back.html.contains(r#"dir="ltr""#) && back.html.contains("Getting started"));
}

both_backends!(devices_are_listed_renamed_disabled_and_unpaired, pairing_from_the_console_is_seen_live);

impl Browser {
    /// The value of the hidden `csrf` field of the form posting to `action`.
    fn csrf_of(page: &Page, action: &str) -> String {
        let at = page.html.find(&format!(r#"action="{action}""#)).expect("the form");
        Self::csrf(&Page { status: 200, location: None, set_cookies: vec![], html: page.html[at..].to_owned() })
    }
}

fn signed_in(server: &TestServer, db: &TestDb, email: &str) -> (crate::common::TestAccount, Browser) {
    let account = account_with_password(db, email);
    let mut browser = Browser::new(server);
    assert_eq!(browser.sign_in(email, PASSWORD).status, 303);
    (account, browser)
}

fn devices_are_listed_renamed_disabled_and_unpaired(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(&db, &["--heartbeat-secs", "2"]);
    let (account, mut browser) = signed_in(&server, &db, "devices@example.com");
    let empty = browser.get("/console/devices");
    assert_eq!(empty.status, 200);
    assert!(empty.html.contains("No phone is paired yet."));

    let mut phone = TestDevice::pair(&server, &account.key, "<b>Till</b> phone");
    phone.run(&[]);
    let id = phone.device_id.clone();
    let listed = poll_page(&mut browser, "/console/devices", |html| html.contains(r#"data-state="online""#));
    assert!(listed.contains("&lt;b&gt;Till&lt;/b&gt; phone") && !listed.contains("<b>Till</b>"), "{listed}");
    assert!(listed.contains("Simulated"), "the SIM's carrier: {listed}");

    let action = format!("/console/devices/{id}");
    let list = browser.get("/console/devices");
    let token = Browser::csrf_of(&list, &action);
    let renamed = browser.post(&action, &[("csrf", &token), ("action", "rename"), ("name", "Front desk")]);
    assert_eq!((renamed.status, renamed.location.as_deref()), (303, Some("/console/devices")));
    let api = server.get(&format!("/v1/devices/{id}"), Some(&account.key)).json();
    assert_eq!(api["name"], "Front desk");
    let too_long = "x".repeat(101);
    let refused = browser.post(&action, &[("csrf", &token), ("action", "rename"), ("name", &too_long)]);
    assert_eq!(refused.status, 422);

    assert_eq!(browser.post(&action, &[("csrf", &token), ("action", "disable")]).status, 303);
    assert_eq!(server.get(&format!("/v1/devices/{id}"), Some(&account.key)).json()["enabled"], false);
    assert!(browser.get("/console/devices").html.contains(r#"data-state="disabled""#));
    assert_eq!(browser.post(&action, &[("csrf", &token), ("action", "enable")]).status, 303);
    assert_eq!(server.get(&format!("/v1/devices/{id}"), Some(&account.key)).json()["enabled"], true);

    // Another account's console cannot touch this device.
    let (_, mut other) = signed_in(&server, &db, "other@example.com");
    let other_token = Browser::csrf(&other.get("/console/devices"));
    let foreign = other.post(&action, &[("csrf", &other_token), ("action", "unpair")]);
    assert_eq!(foreign.status, 404);
    assert!(!other.get("/console/devices").html.contains("Front desk"));

    assert_eq!(browser.post(&action, &[("csrf", &token), ("action", "unpair")]).status, 303);
    server.get(&format!("/v1/devices/{id}"), Some(&account.key)).assert_error(404, "not_found");
    assert!(browser.get("/console/devices").html.contains("No phone is paired yet."));
}

fn poll_page(browser: &mut Browser, path: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = browser.get(path);
        if ready(&page.html) {
            return page.html;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {}", page.html);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pairing_from_the_console_is_seen_live(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (_, mut browser) = signed_in(&server, &db, "pair@example.com");
    let list = browser.get("/console/devices");
    let token = Browser::csrf_of(&list, "/console/devices/pair");
    assert_eq!(browser.post("/console/devices/pair", &[("csrf", "nope")]).status, 403);
    let pairing = browser.post("/console/devices/pair", &[("csrf", &token)]);
    assert_eq!(pairing.status, 200, "{}", pairing.html);
    assert!(pairing.html.contains("<svg"), "the QR code is drawn");
    assert!(pairing.html.contains(r#"<script src="/console/assets/console.js""#));
    let payload = attribute(&pairing.html, "data-payload").replace("&amp;", "&");
    assert!(payload.starts_with("relay://pair?"), "{payload}");
    assert_eq!(browser.get("/console/assets/console.js").status, 200);

    // The live stream, as the page's script reads it.
    let mut events = BufReader::new(
        browser
            .http
            .get(format!("{}/console/events", server.url))
            .header("cookie", browser.cookie_header())
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap(),
    );
    let first = next_event(&mut events);
    assert_eq!(first, json!([]), "no device yet");

    // The phone scans the code from the page; the stream reports it online by itself.
    let mut phone = TestDevice::pair_with_payload(&payload, "Scanned phone");
    phone.run(&[]);
    let seen = loop {
        let devices = next_event(&mut events);
        if devices.as_array().unwrap().iter().any(|d| d["online"] == true) {
            break devices;
        }
    };
    assert_eq!(seen[0]["name"], "Scanned phone");
    assert_eq!(seen[0]["state"], "online");

    // Without a session there is no stream.
    let anonymous = crate::common::http_client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(anonymous.get(format!("{}/console/events", server.url)).send().unwrap().status().as_u16(), 303);
}

fn attribute(html: &str, name: &str) -> String {
    let at = html.find(&format!(r#"{name}=""#)).unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 2..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn next_event(stream: &mut impl BufRead) -> serde_json::Value {
    next_named_event(stream, "devices")
}

both_backends!(messages_are_searched_and_followed_live);

fn messages_are_searched_and_followed_live(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "messages@example.com");
    let send = |to: &str, text: &str| -> String {
        let body = json!({"to": to, "message": text}).to_string();
        let reply = server.send("POST", "/v1/messages", Some(&account.key), Some(&body));
        assert_eq!(reply.status, 202, "{}", reply.text);
        reply.json()["request_id"].as_str().unwrap().to_owned()
    };
    let first = send("+923001234567", "<img src=x onerror=alert(1)> your code");
    let second = send("+923007654321", "second");

    let all = browser.get("/console/messages");
    assert_eq!(all.status, 200);
    assert!(all.html.contains(&first) && all.html.contains(&second));
    // By number, typed as people type it.
    let by_number = browser.get("/console/messages?q=%2B92+300+1234567");
    assert!(by_number.html.contains(&first) && !by_number.html.contains(&second), "{}", by_number.html);
    let by_status = browser.get("/console/messages?status=delivered");
    assert!(by_status.html.contains("No message matches."));
    let bad = browser.get("/console/messages?q=not-a-number");
    assert_eq!(bad.status, 422);
    // A request id opens the message.
    let jump = browser.get(&format!("/console/messages?q={first}"));
    assert_eq!(jump.location.as_deref(), Some(format!("/console/messages/{first}").as_str()));

    let shown = browser.get(&format!("/console/messages/{first}"));
    assert_eq!(shown.status, 200);
    assert!(!shown.html.contains("<img src=x"), "{}", shown.html);
    assert!(shown.html.contains("&lt;img src=x onerror=alert(1)&gt; your code"));
    assert!(shown.html.contains(r#"data-state="queued""#));

    // Another account sees neither the message nor its stream.
    let (_, mut other) = signed_in(&server, &db, "nosy@example.com");
    assert_eq!(other.get(&format!("/console/messages/{first}")).status, 404);
    assert!(!other.get("/console/messages").html.contains(&first));

    // The page's stream follows the message to delivered once a phone takes it.
    let mut events = BufReader::new(
        browser
            .http
            .get(format!("{}/console/events?message={first}", server.url))
            .header("cookie", browser.cookie_header())
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap(),
    );
    assert_eq!(next_named_event(&mut events, "message")["status"], "queued");
    let mut phone = TestDevice::pair(&server, &account.key, "Messages phone");
    phone.run(&["--latency-ms", "20"]);
    let delivered = loop {
        let m = next_named_event(&mut events, "message");
        if m["status"] == "delivered" {
            break m;
        }
    };
    let steps: Vec<&str> =
        delivered["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(steps, ["queued", "dispatched", "sent", "delivered"]);
    let done = browser.get(&format!("/console/messages/{first}"));
    assert!(done.html.contains(r#"data-state="delivered""#) && done.html.contains("Messages phone"));
}

/// The data of the next event called `name` on a server-sent event stream.
fn next_named_event(stream: &mut impl BufRead, name: &str) -> serde_json::Value {
    let mut event = String::new();
    loop {
        let mut line = String::new();
        assert!(stream.read_line(&mut line).unwrap() > 0, "the stream ended");
        let line = line.trim_end();
        if let Some(found) = line.strip_prefix("event: ") {
            event = found.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ")
            && event == name
        {
            return serde_json::from_str(data).unwrap();
        }
    }
}

both_backends!(recipients_are_found_by_urdu_name_with_numbers_masked);

fn recipients_are_found_by_urdu_name_with_numbers_masked(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "directory@example.com");
    let add = |name: &str, phone: &str| -> String {
        let body = json!({"name": name, "phone": phone}).to_string();
        let reply = server.send("POST", "/v1/recipients", Some(&account.key), Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["id"].as_str().unwrap().to_owned()
    };
    let ali = add("محمد علی", "+923001234567");
    add("<i>Sara</i> Khan", "+923007654321");

    let found = browser.get("/console/recipients?q=%D8%B9%D9%84%DB%8C"); // علی
    assert_eq!(found.status, 200);
    assert!(found.html.contains("محمد علی") && !found.html.contains("Sara"), "{}", found.html);
    // Masked in the list: the full number is not on the page until revealed.
    assert!(!found.html.contains("+923001234567"), "{}", found.html);
    assert!(found.html.contains("+923••••••567"));
    let revealed = browser.get(&format!("/console/recipients?q=%D8%B9%D9%84%DB%8C&reveal={ali}"));
    assert!(revealed.html.contains(r#"data-revealed="true">+923001234567"#), "{}", revealed.html);

    // By last digits, and names are escaped.
    let by_number = browser.get("/console/recipients?q=7654321");
    assert!(by_number.html.contains("&lt;i&gt;Sara&lt;/i&gt; Khan") && !by_number.html.contains("<i>Sara"));

    // Another account's console sees none of them, revealed or not.
    let (_, mut other) = signed_in(&server, &db, "elsewhere@example.com");
    let theirs = other.get(&format!("/console/recipients?reveal={ali}"));
    assert!(theirs.html.contains("No recipient matches.") && !theirs.html.contains("علی"), "{}", theirs.html);
}

both_backends!(the_webhook_attempt_log_is_readable_in_the_console);

fn the_webhook_attempt_log_is_readable_in_the_console(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(&db, &["--allow-private-webhooks", "--unsafe-test-webhook-schedule-ms", "200"]);
    let (account, mut browser) = signed_in(&server, &db, "hooks@example.com");
    assert!(browser.get("/console/webhooks").html.contains("No webhook endpoint yet"));

    // A port nobody listens on: every attempt is refused, and the log says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = json!({"url": format!("http://127.0.0.1:{closed}/hook"), "events": ["message.delivered"]}).to_string();
    let created = server.send("POST", "/v1/webhooks", Some(&account.key), Some(&body));
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["webhook"]["id"].as_str().unwrap().to_owned();
    let listed = browser.get("/console/webhooks");
    assert!(listed.html.contains(&format!("/console/webhooks/{id}")) && listed.html.contains("message.delivered"));

    assert_eq!(server.send("POST", &format!("/v1/webhooks/{id}/test"), Some(&account.key), None).status, 202);
    let log = poll_page(&mut browser, &format!("/console/webhooks/{id}"), |html| {
        html.matches(r#"<tr class="attempt">"#).count() >= 2
    });
    assert!(log.contains("webhook.test"), "{log}");
    let api = server.get(&format!("/v1/webhooks/{id}/deliveries"), Some(&account.key)).json();
    let first = &api["deliveries"][0]["attempts"][0];
    let error = first["error"].as_str().unwrap();
    assert!(log.contains(&maud_escape(error)), "the page shows the API's error {error:?}: {log}");

    // Another account's console cannot read it.
    let (_, mut other) = signed_in(&server, &db, "hooks-other@example.com");
    assert_eq!(other.get(&format!("/console/webhooks/{id}")).status, 404);
}

/// HTML-escapes as the console's templates do, to find a value in a page.
fn maud_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

both_backends!(api_keys_are_created_once_and_revoked_from_the_console);

fn api_keys_are_created_once_and_revoked_from_the_console(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "keys-page@example.com");
    let list = browser.get("/console/keys");
    assert_eq!(list.status, 200);
    assert!(list.html.contains(&format!(r#"data-key="{}""#, account.key_id)));
    assert!(!list.html.contains(&account.key), "a key's secret is never listed");

    let token = Browser::csrf_of(&list, "/console/keys");
    assert_eq!(browser.post("/console/keys", &[("csrf", "bad"), ("name", "shop")]).status, 403);
    let made = browser.post("/console/keys", &[("csrf", &token), ("name", "<b>shop</b> server")]);
    assert_eq!(made.status, 201, "{}", made.html);
    let secret = attribute_text(&made.html, r#"<code id="new-key">"#);
    assert!(secret.starts_with("rk_live_"), "{secret}");
    assert!(made.html.contains("&lt;b&gt;shop&lt;/b&gt; server"));
    // The new key works on the API, and is never shown again.
    assert_eq!(server.get("/v1/account", Some(&secret)).status, 200);
    assert!(!browser.get("/console/keys").html.contains(&secret));

    // Revoke it: the API refuses it at once.
    let keys = server.get("/v1/keys", Some(&account.key)).json();
    let new_id = keys["keys"].as_array().unwrap().iter().find(|k| k["name"] == "<b>shop</b> server").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = browser.post(&format!("/console/keys/{new_id}/revoke"), &[("csrf", &token)]);
    assert_eq!(revoked.status, 303);
    server.get("/v1/account", Some(&secret)).assert_error(401, "unauthorized");
    assert!(browser.get("/console/keys").html.contains("Revoked"));

    // Another account's console cannot revoke this account's key.
    let (_, mut other) = signed_in(&server, &db, "keys-other@example.com");
    let other_token = Browser::csrf(&other.get("/console/keys"));
    let foreign = other.post(&format!("/console/keys/{}/revoke", account.key_id), &[("csrf", &other_token)]);
    assert_eq!(foreign.status, 404);
    assert_eq!(server.get("/v1/account", Some(&account.key)).status, 200);
}

/// The text right after `opening` up to the next tag.
fn attribute_text(html: &str, opening: &str) -> String {
    let at = html.find(opening).unwrap_or_else(|| panic!("no {opening} in {html}")) + opening.len();
    html[at..html[at..].find('<').unwrap() + at].to_owned()
}

both_backends!(the_queue_is_watched_paused_and_resumed_from_the_console);

fn the_queue_is_watched_paused_and_resumed_from_the_console(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "queue@example.com");
    let send = || {
        let body = json!({"to": "+923001234567", "message": "queue page"}).to_string();
        server.send("POST", "/v1/messages", Some(&account.key), Some(&body))
    };
    assert_eq!(send().status, 202);
    assert_eq!(send().status, 202);

    let running = browser.get("/console/queue");
    assert_eq!(running.status, 200);
    assert!(running.html.contains(r#"id="queue-state" data-state="running""#), "{}", running.html);
    assert!(running.html.contains(r#"<tr data-count="queued"><th>Queued</th><td>2</td></tr>"#), "{}", running.html);

    let token = Browser::csrf_of(&running, "/console/queue");
    assert_eq!(browser.post("/console/queue", &[("csrf", "nope"), ("action", "pause")]).status, 403);
    assert_eq!(send().status, 202, "a refused form changes nothing");
    let paused = browser.post("/console/queue", &[("csrf", &token), ("action", "pause")]);
    assert_eq!(paused.status, 303);
    send().assert_error(409, "queue_blocked");
    let blocked = browser.get("/console/queue");
    assert!(blocked.html.contains(r#"data-state="blocked""#) && blocked.html.contains("paused from the console"));
    assert_eq!(server.get("/v1/queue", Some(&account.key)).json()["state"], "blocked");

    assert_eq!(browser.post("/console/queue", &[("csrf", &token), ("action", "resume")]).status, 303);
    assert_eq!(send().status, 202);
    assert!(browser.get("/console/queue").html.contains(r#"data-state="running""#));

    // Another account's console pauses only its own queue.
    let (_, mut other) = signed_in(&server, &db, "queue-other@example.com");
    let other_token = Browser::csrf_of(&other.get("/console/queue"), "/console/queue");
    assert_eq!(other.post("/console/queue", &[("csrf", &other_token), ("action", "pause")]).status, 303);
    assert_eq!(send().status, 202);
}

both_backends!(
    queue_health_is_charted_per_hour_with_failures_ranked,
    webhook_secrets_tests_and_redelivery_from_the_console,
    recipients_are_added_edited_imported_and_exported,
    another_account_reaches_nothing,
    stored_names_are_escaped_wherever_they_appear,
);

/// A message as the message path leaves it: sent at `sent_ago`, or failed `failed_ago` with
/// `code` (hours before now).
fn seed_message(db: &TestDb, account_id: &str, sent_ago: Option<i64>, failed: Option<(i64, &str)>) {
    use diesel::prelude::*;
    use relay_server::db::schema::messages;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let now = chrono::Utc::now().naive_utc();
    let ago = |h: i64| now - chrono::Duration::minutes(h * 60);
    let status = match (sent_ago, failed) {
        (_, Some(_)) => "failed",
        (Some(_), None) => "sent",
        (None, None) => "queued",
    };
    // Inserted queued and then moved on, as every message is: the database counts sends and
    // failures as they happen (`message_minutes`).
    let id = format!("req_{}", ulid::Ulid::new());
    diesel::insert_into(messages::table)
        .values((
            messages::id.eq(&id),
            messages::account_id.eq(account_id),
            messages::to_number.eq("+923001234567"),
            messages::body.eq("seeded"),
            messages::priority.eq(1i16),
            messages::status.eq("queued"),
            messages::encoding.eq("gsm7"),
            messages::segments.eq(1),
            messages::expires_at.eq(now + chrono::Duration::hours(1)),
            messages::queued_at.eq(ago(sent_ago.or(failed.map(|f| f.0)).unwrap_or(0))),
            messages::updated_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    diesel::update(messages::table.find(&id))
        .set((
            messages::status.eq(status),
            messages::attempts.eq(1),
            messages::failure_code.eq(failed.map(|(_, c)| c)),
            messages::failure_reason.eq(failed.map(|(_, c)| format!("the network said {c}"))),
            messages::sent_at.eq(sent_ago.map(ago)),
            messages::finished_at.eq(failed.map(|(h, _)| ago(h))),
        ))
        .execute(&mut *conn)
        .unwrap();
}

/// The clock hour of `hours` ago, as the API writes it.
fn hour_of(hours: i64) -> String {
    let at = chrono::Utc::now() - chrono::Duration::minutes(hours * 60);
    at.format("%Y-%m-%dT%H:00:00Z").to_string()
}

fn queue_health_is_charted_per_hour_with_failures_ranked(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "health@example.com");
    let (other, _) = signed_in(&server, &db, "health-other@example.com");
    for _ in 0..3 {
        seed_message(&db, &account.id, Some(2), None);
    }
    seed_message(&db, &account.id, Some(5), None);
    for _ in 0..3 {
        seed_message(&db, &account.id, None, Some((2, "generic_failure")));
    }
    seed_message(&db, &account.id, None, Some((5, "no_service")));
    // Older than the chart's day, and another account's: neither is counted.
    seed_message(&db, &account.id, Some(30), None);
    seed_message(&db, &account.id, None, Some((30, "radio_off")));
    seed_message(&db, &other.id, Some(2), None);
    seed_message(&db, &other.id, None, Some((2, "radio_off")));

    let health = server.get("/v1/queue/health", Some(&account.key)).json();
    let hours = health["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let at = |h: i64| hours.iter().find(|x| x["hour"] == hour_of(h).as_str()).unwrap_or_else(|| panic!("{health}"));
    assert_eq!((at(2)["sent"].as_i64(), at(2)["failed"].as_i64()), (Some(3), Some(3)), "{health}");
    assert_eq!((at(5)["sent"].as_i64(), at(5)["failed"].as_i64()), (Some(1), Some(1)), "{health}");
    let total: i64 = hours.iter().map(|h| h["sent"].as_i64().unwrap() + h["failed"].as_i64().unwrap()).sum();
    assert_eq!(total, 8, "{health}");
    let reasons: Vec<(&str, i64)> = health["failure_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["code"].as_str().unwrap(), r["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(reasons, [("generic_failure", 3), ("no_service", 1)]);

    // The page draws the same figures: one bar group per hour, the reasons in rank order.
    let page = browser.get("/console/queue");
    assert_eq!(page.status, 200);
    assert!(page.html.contains(r#"<svg id="hourly-chart""#), "{}", page.html);
    assert_eq!(page.html.matches(r#"<g class="hour""#).count(), 24);
    let group = format!(r#"data-hour="{}" data-sent="3" data-failed="3""#, hour_of(2));
    assert!(page.html.contains(&group), "{group} in {}", page.html);
    let first = page.html.find(r#"data-reason="generic_failure""#).unwrap();
    let second = page.html.find(r#"data-reason="no_service""#).unwrap();
    assert!(first < second);
    assert!(!page.html.contains("radio_off"));
    let urdu = browser.get("/console/queue?lang=ur");
    assert!(urdu.html.contains("ناکامی کی وجوہات") && urdu.html.contains(r#"dir="rtl""#));

    // The queue's last hour holds only what happened in it.
    let figures = |server: &TestServer| {
        let q = server.get("/v1/queue", Some(&account.key)).json();
        (q["sent_last_hour"].as_i64().unwrap(), q["failed_last_hour"].as_i64().unwrap())
    };
    assert_eq!(figures(&server), (0, 0));
    seed_message(&db, &account.id, Some(0), None);
    seed_message(&db, &account.id, Some(0), None);
    seed_message(&db, &account.id, None, Some((0, "no_service")));
    assert_eq!(figures(&server), (2, 1));

    // The upkeep's pruning drops the minutes older than the chart's day, and only those.
    use diesel::prelude::*;
    use relay_server::db::schema::message_minutes;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let now = chrono::Utc::now().naive_utc();
    let day_ago = now - chrono::Duration::hours(25);
    let older = |conn: &mut relay_server::db::DbConnection| -> i64 {
        message_minutes::table.filter(message_minutes::minute.lt(day_ago)).count().get_result(conn).unwrap()
    };
    let old = older(&mut conn);
    assert!(old >= 1, "the minutes of 30 hours ago are counted");
    let pruned = relay_server::messages::queries::prune_minutes(&mut conn, now).unwrap();
    assert_eq!(pruned as i64, old);
    assert_eq!(older(&mut conn), 0);
    let after = server.get("/v1/queue/health", Some(&account.key)).json();
    let sent_in_chart: i64 = after["hours"].as_array().unwrap().iter().map(|h| h["sent"].as_i64().unwrap()).sum();
    assert_eq!(sent_in_chart, 4 + 2, "{after}");
}

fn webhook_secrets_tests_and_redelivery_from_the_console(backend: Backend) {
    use crate::common::receiver::{Answer, Receiver};
    let db = TestDb::new(backend);
    // Retries a minute apart: the 418 is not retried during the test, so the only second
    // request is the redelivery asked for below.
    let server =
        TestServer::start_with(&db, &["--allow-private-webhooks", "--unsafe-test-webhook-schedule-ms", "60000"]);
    let (account, mut browser) = signed_in(&server, &db, "hook-forms@example.com");
    let receiver = Receiver::start(0);
    receiver.answer(Answer::Status(418, "<b>short and stout</b>".into()));
    let created =
        server.send("POST", "/v1/webhooks", Some(&account.key), Some(&json!({"url": receiver.url()}).to_string()));
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["webhook"]["id"].as_str().unwrap().to_owned();
    let first_secret = created.json()["webhook"]["secret"].as_str().unwrap().to_owned();
    let api_secret =
        || server.get(&format!("/v1/webhooks/{id}/secret"), Some(&account.key)).json()["webhook"]["secret"].clone();

    let page = browser.get(&format!("/console/webhooks/{id}"));
    assert!(!page.html.contains(&first_secret), "the secret is not on the page until asked for");
    let token = Browser::csrf_of(&page, &format!("/console/webhooks/{id}/secret"));

    // Reveal, and a refused reveal shows nothing.
    let forged = browser.post(&format!("/console/webhooks/{id}/secret"), &[("csrf", "forged")]);
    assert_eq!(forged.status, 403);
    assert!(!forged.html.contains(&first_secret));
    let shown = browser.post(&format!("/console/webhooks/{id}/secret"), &[("csrf", &token)]);
    assert_eq!(shown.status, 200);
    assert_eq!(attribute_text(&shown.html, r#"<code id="webhook-secret">"#), first_secret);

    // Rotate: a refused form changes nothing; the real one gives a new secret the API agrees on.
    assert_eq!(browser.post(&format!("/console/webhooks/{id}/rotate"), &[]).status, 403);
    assert_eq!(api_secret(), first_secret.as_str());
    let rotated = browser.post(&format!("/console/webhooks/{id}/rotate"), &[("csrf", &token)]);
    assert_eq!(rotated.status, 200);
    let new_secret = attribute_text(&rotated.html, r#"<code id="webhook-secret">"#);
    assert!(new_secret.starts_with("whsec_") && new_secret != first_secret, "{new_secret}");
    assert_eq!(api_secret(), new_secret.as_str());

    // A test event: the attempt log shows the receiver's status and (escaped) body.
    assert_eq!(browser.post(&format!("/console/webhooks/{id}/test"), &[("csrf", "nope")]).status, 403);
    let sent = browser.post(&format!("/console/webhooks/{id}/test"), &[("csrf", &token)]);
    assert_eq!((sent.status, sent.location.as_deref()), (303, Some(format!("/console/webhooks/{id}").as_str())));
    let log = poll_page(&mut browser, &format!("/console/webhooks/{id}"), |html| {
        html.contains(r#"<td class="http">418</td>"#)
    });
    assert!(log.contains("&lt;b&gt;short and stout&lt;/b&gt;") && !log.contains("<b>short"), "{log}");
    assert_eq!(receiver.received().len(), 1);
    let delivery = attribute(&log, "data-delivery");
    let event_id = receiver.received()[0].header("webhook-id").to_owned();

    // Redeliver by hand: the same event again, now answered 200.
    receiver.answer(Answer::Status(200, "thanks".into()));
    let again = format!("/console/webhooks/{id}/deliveries/{delivery}/redeliver");
    assert_eq!(browser.post(&again, &[("csrf", "nope")]).status, 403);
    assert_eq!(browser.post(&again, &[("csrf", &token)]).status, 303);
    let log = poll_page(&mut browser, &format!("/console/webhooks/{id}"), |html| {
        html.contains(r#"<td class="http">200</td>"#)
    });
    assert!(log.contains("thanks") && log.contains(r#"data-status="delivered""#), "{log}");
    assert_eq!(receiver.with_id(&event_id).len(), 2);
}

/// A `multipart/form-data` body as a browser sends a file upload: (content type, body).
fn multipart(csrf: &str, file: &str) -> (String, Vec<u8>) {
    let boundary = "----relayconsoleboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Browser {
    fn upload(&mut self, path: &str, csrf: &str, file: &str) -> Page {
        let (content_type, body) = multipart(csrf, file);
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap();
        self.take(res)
    }
}

fn recipient_count(server: &TestServer, key: &str) -> usize {
    server.get("/v1/recipients", Some(key)).json()["recipients"].as_array().unwrap().len()
}

fn recipients_are_added_edited_imported_and_exported(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "people@example.com");
    let list = browser.get("/console/recipients");
    let token = Browser::csrf_of(&list, "/console/recipients");

    // Add: a refused form adds nobody; a bad number is refused with the API's reason.
    let form = |csrf: &'static str| {
        [("csrf", csrf), ("name", "محمد علی"), ("phone", "+92 300 1234567"), ("tags", "Lahore, vip"), ("locale", "ur")]
    };
    assert_eq!(browser.post("/console/recipients", &form("forged")).status, 403);
    assert_eq!(recipient_count(&server, &account.key), 0);
    let bad = browser.post("/console/recipients", &[("csrf", &token), ("name", "X"), ("phone", "12")]);
    assert_eq!(bad.status, 422, "{}", bad.html);
    let fields = [
        ("csrf", token.as_str()),
        ("name", "محمد علی"),
        ("phone", "+92 300 1234567"),
        ("tags", "Lahore, vip"),
        ("locale", "ur"),
    ];
    let added = browser.post("/console/recipients", &fields);
    assert_eq!(added.status, 303, "{}", added.html);
    let edit_path = added.location.clone().unwrap();
    let id = edit_path.rsplit('/').next().unwrap().to_owned();
    let api = server.get(&format!("/v1/recipients/{id}"), Some(&account.key)).json();
    assert_eq!((api["name"].as_str(), api["phone"].as_str()), (Some("محمد علی"), Some("+923001234567")));
    assert_eq!(api["tags"], json!(["lahore", "vip"]));
    let dup = browser.post("/console/recipients", &fields);
    assert_eq!(dup.status, 409, "the same number twice: {}", dup.html);

    // Edit: the form is filled in; saving changes what the API reads, opt-out included.
    let edit = browser.get(&edit_path);
    assert_eq!(edit.status, 200);
    assert!(edit.html.contains(r#"value="+923001234567""#) && edit.html.contains(r#"value="lahore, vip""#));
    let saved = browser.post(
        &edit_path,
        &[
            ("csrf", &token),
            ("name", "Ali Khan"),
            ("phone", "+923001234567"),
            ("tags", "karachi"),
            ("locale", "en"),
            ("opted_out", "on"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.html);
    let api = server.get(&format!("/v1/recipients/{id}"), Some(&account.key)).json();
    assert_eq!((api["name"].as_str(), api["locale"].as_str()), (Some("Ali Khan"), Some("en")));
    assert_eq!(api["tags"], json!(["karachi"]));
    assert!(api["opted_out_at"].is_string(), "{api}");

    // Import: every row's outcome, in file order.
    let file = "name,phone,tags\nZara,+92 300 7654321,vip\nAli again,+923001234567,\nBad number,12,\nZara twin,+92 300 7654321,\n";
    let refused = browser.upload("/console/recipients/import", "forged", file);
    assert_eq!(refused.status, 403);
    assert_eq!(recipient_count(&server, &account.key), 1, "a refused upload imports nothing");
    let report = browser.upload("/console/recipients/import", &token, file);
    assert_eq!(report.status, 200, "{}", report.html);
    for (line, outcome) in [(2, "created"), (3, "updated"), (4, "rejected"), (5, "rejected")] {
        let row = format!(r#"<tr data-line="{line}" data-outcome="{outcome}">"#);
        assert!(report.html.contains(&row), "{row} in {}", report.html);
    }
    assert!(report.html.contains("duplicate: the same number as line 2"), "{}", report.html);
    assert_eq!(recipient_count(&server, &account.key), 2);
    // A file that is not a directory is refused whole, with the reason.
    let malformed = browser.upload("/console/recipients/import", &token, "name,number\nA,1\n");
    assert_eq!(malformed.status, 422);
    assert!(malformed.html.contains("no `phone` column"), "{}", malformed.html);

    // Export: the directory as CSV, the same bytes as the API's.
    let export = browser.get("/console/recipients/export");
    assert_eq!(export.status, 200);
    assert!(export.html.starts_with("id,name,phone,tags,locale,opted_out_at,created_at"), "{}", export.html);
    assert!(export.html.contains("Zara,+923007654321,vip") && export.html.contains("Ali again"), "{}", export.html);
    let api_csv = crate::common::http_client()
        .get(format!("{}/v1/recipients/export", server.url))
        .bearer_auth(&account.key)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(export.html, api_csv);
}

fn another_account_reaches_nothing(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(&db, &["--allow-private-webhooks"]);
    let (a, _) = signed_in(&server, &db, "owner@example.com");
    let (_, mut b) = signed_in(&server, &db, "intruder@example.com");
    crate::common::add_online_device(&db, &a.id);
    let device = server.get("/v1/devices", Some(&a.key)).json()["devices"][0]["id"].as_str().unwrap().to_owned();
    let message = server.send(
        "POST",
        "/v1/messages",
        Some(&a.key),
        Some(&json!({"to": "+923001234567", "message": "private"}).to_string()),
    );
    let message = message.json()["request_id"].as_str().unwrap().to_owned();
    let hook =
        server.send("POST", "/v1/webhooks", Some(&a.key), Some(&json!({"url": "http://127.0.0.1:9/hook"}).to_string()));
    let hook_id = hook.json()["webhook"]["id"].as_str().unwrap().to_owned();
    let hook_secret = hook.json()["webhook"]["secret"].as_str().unwrap().to_owned();
    let recipient = server.send(
        "POST",
        "/v1/recipients",
        Some(&a.key),
        Some(&json!({"name": "Owner's friend", "phone": "+923001112223"}).to_string()),
    );
    let recipient = recipient.json()["id"].as_str().unwrap().to_owned();
    let token = Browser::csrf(&b.get("/console"));

    // Pages: 404, never the owner's data.
    for path in [
        format!("/console/messages/{message}"),
        format!("/console/webhooks/{hook_id}"),
        format!("/console/recipients/{recipient}"),
    ] {
        let page = b.get(&path);
        assert_eq!(page.status, 404, "{path}: {}", page.html);
        assert!(!page.html.contains("private") && !page.html.contains("Owner"), "{path}");
    }
    // Actions: 404, and nothing changed.
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/console/devices/{device}"), vec![("action", "rename"), ("name", "Taken")]),
        (format!("/console/devices/{device}"), vec![("action", "unpair")]),
        (format!("/console/webhooks/{hook_id}/secret"), vec![]),
        (format!("/console/webhooks/{hook_id}/rotate"), vec![]),
        (format!("/console/webhooks/{hook_id}/test"), vec![]),
        (format!("/console/recipients/{recipient}"), vec![("name", "Taken"), ("phone", "+923009998887")]),
        (format!("/console/keys/{}/revoke", a.key_id), vec![]),
    ];
    for (path, fields) in forms {
        let mut form = vec![("csrf", token.as_str())];
        form.extend(fields);
        let page = b.post(&path, &form);
        assert_eq!(page.status, 404, "{path}: {}", page.html);
        assert!(!page.html.contains(&hook_secret), "{path}");
    }
    let deliveries = server.get(&format!("/v1/webhooks/{hook_id}/deliveries"), Some(&a.key)).json();
    let delivery = b.post(
        &format!("/console/webhooks/{hook_id}/deliveries/whd_01JDX4Q7ZK3V8J5B6N2M9R0T1W/redeliver"),
        &[("csrf", &token)],
    );
    assert_eq!(delivery.status, 404);
    assert_eq!(deliveries["deliveries"].as_array().unwrap().len(), 0, "no test event was queued");
    assert_eq!(server.get(&format!("/v1/devices/{device}"), Some(&a.key)).json()["name"], "Relay Device 1");
    assert_eq!(server.get(&format!("/v1/recipients/{recipient}"), Some(&a.key)).json()["name"], "Owner's friend");
    assert_eq!(
        server.get(&format!("/v1/webhooks/{hook_id}/secret"), Some(&a.key)).json()["webhook"]["secret"],
        hook_secret.as_str()
    );
    assert_eq!(server.get("/v1/account", Some(&a.key)).status, 200, "the key is not revoked");
    // Lists and the live stream show only B's own (empty) things.
    for path in ["/console/devices", "/console/messages", "/console/recipients", "/console/webhooks", "/console/keys"] {
        let page = b.get(path);
        for theirs in [device.as_str(), message.as_str(), hook_id.as_str(), recipient.as_str(), a.key_id.as_str()] {
            assert!(!page.html.contains(theirs), "{path} shows {theirs}");
        }
    }
    let mut events = BufReader::new(
        b.http
            .get(format!("{}/console/events?messages={message}", server.url))
            .header("cookie", b.cookie_header())
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap(),
    );
    assert_eq!(next_named_event(&mut events, "devices"), json!([]));
    assert_eq!(next_named_event(&mut events, "statuses"), json!([]), "another account's message is not followed");
}

fn stored_names_are_escaped_wherever_they_appear(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db);
    let (account, mut browser) = signed_in(&server, &db, "xss-names@example.com");
    let script = "<script>alert(1)</script>";
    let img = r#""><img src=x onerror=alert(2)>"#;
    let recipient = server.send(
        "POST",
        "/v1/recipients",
        Some(&account.key),
        Some(&json!({"name": script, "phone": "+923001234567"}).to_string()),
    );
    assert_eq!(recipient.status, 201, "{}", recipient.text);
    let recipient = recipient.json()["id"].as_str().unwrap().to_owned();
    let mut phone = TestDevice::pair(&server, &account.key, img);
    phone.run(&["--latency-ms", "20"]);
    let sent = server.send(
        "POST",
        "/v1/messages",
        Some(&account.key),
        Some(&json!({"to": "+923001234567", "message": script}).to_string()),
    );
    let request_id = sent.json()["request_id"].as_str().unwrap().to_owned();
    poll_page(&mut browser, &format!("/console/messages/{request_id}"), |html| {
        html.contains(r#"data-state="delivered""#)
    });
    let token = Browser::csrf(&browser.get("/console"));
    let imported = browser.upload(
        "/console/recipients/import",
        &token,
        &format!("name,phone\n\"{}\",+923007654321\n", img.replace('"', "\"\"")),
    );
    assert_eq!(imported.status, 200, "{}", imported.html);

    let pages = [
        browser.get("/console/devices"),
        browser.get("/console/messages"),
        browser.get(&format!("/console/messages/{request_id}")),
        browser.get("/console/recipients"),
        browser.get(&format!("/console/recipients/{recipient}")),
        browser.get("/console/recipients?q=alert"),
        imported,
    ];
    for page in &pages {
        assert_eq!(page.status, 200);
        assert!(!page.html.contains(script) && !page.html.contains("<img src=x"), "{}", page.html);
    }
    assert!(pages[0].html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), "{}", pages[0].html);
    assert!(
        pages[1].html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "the device column: {}",
        pages[1].html
    );
    assert!(pages[3].html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", pages[3].html);
    assert!(pages[6].html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), "{}", pages[6].html);
    // The live stream carries names as JSON data, and the script only ever writes text.
    let mut events = BufReader::new(
        browser
            .http
            .get(format!("{}/console/events", server.url))
            .header("cookie", browser.cookie_header())
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap(),
    );
    assert_eq!(next_named_event(&mut events, "devices")[0]["name"], img);
    let js = browser.get("/console/assets/console.js").html;
    for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
        assert!(!js.contains(sink), "console.js uses {sink}");
    }
    assert!(js.contains("textContent"));
}
