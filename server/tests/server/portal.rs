//! The developer portal through a real server: every example present with this server's
//! URL, the error table complete, escaping, and the Postman collection in step with the
//! OpenAPI document and green under newman against a live server.

use std::collections::BTreeSet;
use std::process::Command;

use relay_server::error::CODES;
use relay_server::portal::snippets::{LANGS, SCENARIOS};
use serde_json::Value;

use crate::common::{Backend, TestDb, TestServer, create_account};
use crate::snippets::{code_block, npm_dir};

const PUBLIC_URL: &str = "https://sms.example.test";

#[test]
fn every_scenario_has_every_language_filled_with_the_public_url() {
    let db = TestDb::new(Backend::Sqlite);
    let server = TestServer::start_with(&db, &["--public-url", PUBLIC_URL]);
    let page = server.get("/portal", None);
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text.contains(&format!("<code id=\"base-url\">{PUBLIC_URL}</code>")));
    for scenario in SCENARIOS.iter().map(|s| s.id).chain(["webhook_verify"]) {
        for lang in &LANGS {
            let code = code_block(&page.text, &format!("{scenario}/{}", lang.id));
            assert!(!code.contains("{{BASE_URL}}"), "{scenario}/{}: {code}", lang.id);
            if scenario != "webhook_verify" {
                assert!(code.contains(PUBLIC_URL), "{scenario}/{}: {code}", lang.id);
                assert!(!code.contains("127.0.0.1"), "{scenario}/{}: the listening address leaked", lang.id);
            }
        }
        assert!(page.text.contains(&format!(
            "href=\"?lang=python#{}\"",
            if scenario == "webhook_verify" { "verify" } else { scenario }
        )));
    }
    // Links to the reference and the downloads; the page is public.
    for link in ["href=\"/docs/\"", "href=\"/openapi.json\"", "href=\"/postman.json\"", "href=\"/console\""] {
        assert!(page.text.contains(link), "{link} missing");
    }
}

#[test]
fn the_chosen_language_is_the_visible_one() {
    let db = TestDb::new(Backend::Sqlite);
    let server = TestServer::start(&db);
    let visible = |page: &str| -> BTreeSet<String> {
        page.split("<div class=\"snippet\" data-lang=\"")
            .skip(1)
            .filter(|rest| !rest.split('>').next().unwrap().contains("hidden"))
            .map(|rest| rest.split('"').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(visible(&server.get("/portal", None).text), BTreeSet::from(["curl".to_owned()]));
    assert_eq!(visible(&server.get("/portal?lang=go", None).text), BTreeSet::from(["go".to_owned()]));
    // An unknown language falls back to the first, and is not echoed.
    let odd = server.get("/portal?lang=%3Cscript%3Ealert(1)%3C/script%3E", None);
    assert_eq!(odd.status, 200);
    assert!(!odd.text.contains("alert(1)"));
    assert_eq!(visible(&odd.text), BTreeSet::from(["curl".to_owned()]));
}

#[test]
fn the_error_table_lists_every_code_with_what_to_do() {
    let db = TestDb::new(Backend::Sqlite);
    let server = TestServer::start(&db);
    let page = server.get("/portal", None).text;
    let table = &page[page.find("id=\"error-codes\"").unwrap()..];
    for code in CODES {
        let row =
            format!("<tr data-code=\"{}\"><td><code>{}</code></td><td>{}</td>", code.code, code.code, code.status);
        assert!(table.contains(&row), "no row for {}", code.code);
    }
    for code in ["unauthorized", "invalid_device", "rate_limited", "queue_blocked", "subscription_expired"] {
        assert!(CODES.iter().any(|c| c.code == code), "{code}");
    }
}

#[test]
fn a_hostile_public_url_is_escaped() {
    let db = TestDb::new(Backend::Sqlite);
    let hostile = "https://x.test/\"><script>alert(1)</script>";
    let server = TestServer::start_with(&db, &["--public-url", hostile]);
    let page = server.get("/portal", None).text;
    assert!(!page.contains("<script>alert(1)"), "the public URL was not escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The only script is the portal's own asset.
    assert_eq!(page.matches("<script").count(), 1);
    let js = server.get("/portal/assets/portal.js", None);
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().starts_with("text/javascript"));
}

/// (METHOD, /path/{param}) of every operation of the OpenAPI document.
fn openapi_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            ops.insert((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

/// (METHOD, /path/{param}) of every request of the collection, folders included.
fn collection_requests(items: &Value, out: &mut BTreeSet<(String, String)>) {
    for item in items.as_array().unwrap() {
        if let Some(children) = item.get("item") {
            collection_requests(children, out);
            continue;
        }
        let req = &item["request"];
        let path: Vec<String> = req["url"]["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let s = s.as_str().unwrap();
                s.strip_prefix(':').map_or_else(|| s.to_owned(), |p| format!("{{{p}}}"))
            })
            .collect();
        assert!(req["url"]["raw"].as_str().unwrap().starts_with("{{baseUrl}}/"), "{item}");
        out.insert((req["method"].as_str().unwrap().to_owned(), format!("/{}", path.join("/"))));
    }
}

#[test]
fn the_postman_collection_covers_every_operation_of_the_openapi_document() {
    let db = TestDb::new(Backend::Sqlite);
    let server = TestServer::start_with(&db, &["--public-url", PUBLIC_URL]);
    let doc = server.get("/openapi.json", None).json();
    let reply = server.get("/postman.json", None);
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-disposition").unwrap().contains("relay.postman_collection.json"));
    let collection = reply.json();
    assert_eq!(collection["info"]["schema"], "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    let vars = collection["variable"].as_array().unwrap();
    let var = |k: &str| vars.iter().find(|v| v["key"] == k).map(|v| v["value"].clone());
    assert_eq!(var("baseUrl"), Some(PUBLIC_URL.into()));
    assert!(var("apiKey").is_some());
    assert_eq!(collection["auth"]["bearer"][0]["value"], "{{apiKey}}");
    let mut requests = BTreeSet::new();
    collection_requests(&collection["item"], &mut requests);
    assert_eq!(requests, openapi_operations(&doc), "the collection and /openapi.json differ");
    // The examples come from the schemas: sending a message names a number and a text.
    let text = collection.to_string();
    assert!(text.contains("\\\"to\\\": \\\"+923001234567\\\""), "no example body for POST /v1/messages");
}

/// newman runs the whole collection, in its order, against a live server with a phone online:
/// every request must answer without a 5xx and with the `ok` envelope (the collection's own
/// tests), and the main calls must succeed.
#[test]
fn the_postman_collection_runs_green_with_newman() {
    let newman = npm_dir().join("node_modules/.bin/newman");
    assert!(newman.exists(), "run `npm ci` in {}", npm_dir().display());
    let db = TestDb::new(Backend::Sqlite);
    let account = create_account(&db, "newman@example.com", "unlimited");
    let server = TestServer::start_with(&db, &["--heartbeat-secs", "2"]);
    let _phone = crate::otp::phone(&server, &account.key, "Newman phone");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.get("/v1/readiness", Some(&account.key)).status != 200 {
        assert!(std::time::Instant::now() < deadline, "the account never became ready");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().unwrap();
    let collection = dir.path().join("relay.postman_collection.json");
    std::fs::write(&collection, server.get("/postman.json", None).text).unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(&newman)
        .arg("run")
        .arg(&collection)
        .args(["--env-var", &format!("apiKey={}", account.key), "--reporters", "cli,json", "--reporter-json-export"])
        .arg(&report)
        .args(["--timeout-request", "20000", "--color", "off"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "newman failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let run = &report["run"];
    assert_eq!(run["failures"].as_array().unwrap().len(), 0, "{stdout}");
    let executions = run["executions"].as_array().unwrap();
    let doc = server.get("/openapi.json", None).json();
    assert_eq!(executions.len(), openapi_operations(&doc).len(), "every request ran");
    let answered = |method: &str, raw_end: &str| -> u64 {
        let e = executions
            .iter()
            .find(|e| {
                e["item"]["request"]["method"] == method
                    && e["item"]["request"]["url"]["path"].to_string().ends_with(raw_end)
            })
            .unwrap_or_else(|| panic!("no {method} …{raw_end} in the run"));
        e["response"]["code"].as_u64().unwrap()
    };
    assert_eq!(answered("GET", "\"health\"]"), 200);
    assert_eq!(answered("GET", "\"readiness\"]"), 200);
    assert_eq!(answered("POST", "\"v1\",\"messages\"]"), 202);
    assert_eq!(answered("POST", "\"send\"]"), 201);
    assert_eq!(answered("GET", "\"account\"]"), 200);
    // The id kept from the send is used by the next request on that message.
    assert_eq!(answered("GET", "\"messages\",\":request_id\"]"), 200);
    let passed: usize = executions
        .iter()
        .map(|e| e["assertions"].as_array().map_or(0, |a| a.iter().filter(|a| a.get("error").is_none()).count()))
        .sum();
    eprintln!("newman: {} requests, {passed} assertions passed", executions.len());
}
