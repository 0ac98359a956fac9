//! The OpenAPI document: generated from the code, committed, valid 3.1, complete.

use std::process::Command;

use serde_json::Value;

use crate::common::{BIN, Backend, TestDb, TestServer, create_account};

fn generated() -> Value {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn the_committed_document_matches_the_code() {
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(committed_path()).unwrap()).unwrap();
    assert!(
        committed == generated(),
        "docs/openapi.json is out of date: run `scripts/openapi.sh` and commit the result"
    );
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    let python = std::env::var("RELAY_PYTHON").unwrap_or_else(|_| "python3".into());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    let out = Command::new(&python)
        .args([
            "-c",
            "import json,sys\nfrom openapi_spec_validator import validate\nfrom openapi_spec_validator.validation import OpenAPIV31SpecValidator\nvalidate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\nprint('valid')",
        ])
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "openapi-spec-validator ({python}) rejected the document, or is not installed (scripts/test.sh installs it):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((path.clone(), method.to_uppercase(), op.clone()));
        }
    }
    ops
}

#[test]
fn every_operation_lists_its_error_responses() {
    let doc = generated();
    let ops = operations(&doc);
    assert!(ops.len() >= 7, "{ops:?}");
    for (path, method, op) in ops {
        let responses = op["responses"].as_object().unwrap();
        let has = |s: &str| responses.contains_key(s);
        assert!(has("500"), "{method} {path} lacks 500");
        if op.get("security").is_some() {
            assert!(has("401") && has("429") && has("503"), "{method} {path} lacks auth errors");
        }
        if op.get("requestBody").is_some() {
            assert!(has("400") && has("413"), "{method} {path} lacks body errors");
        }
        if path.contains('{') {
            assert!(has("404"), "{method} {path} lacks 404");
        }
    }
    for name in ["InvalidRequest", "Unauthorized", "NotFound", "RateLimited", "Internal"] {
        assert!(doc["components"]["responses"][name].is_object(), "{name}");
    }
}

/// Every documented operation is really served (neither the fallback's 404 nor its 405),
/// and the server publishes the same document at /openapi.json.
#[test]
fn every_documented_operation_is_served() {
    let db = TestDb::new(Backend::Sqlite);
    let account = create_account(&db, "openapi@example.com", "standard");
    let server = TestServer::start(&db);
    let doc = generated();
    assert_eq!(server.get("/openapi.json", None).json(), doc);
    for (path, method, _) in operations(&doc) {
        let concrete = path.replace("{key_id}", "key_00000000000000000000000000");
        let body = (method == "POST" || method == "PATCH").then_some("{}");
        let reply = server.send(&method, &concrete, Some(&account.key), body);
        // The CSV export answers CSV; everything else JSON.
        let v = if reply.header("content-type").is_some_and(|t| t.starts_with("text/csv")) {
            serde_json::Value::Null
        } else {
            reply.json()
        };
        assert_ne!(reply.status, 405, "{method} {path}: {v}");
        assert!(
            !v["error"]["message"].as_str().unwrap_or("").contains("There is no endpoint"),
            "{method} {path} is documented but not routed"
        );
    }
    let docs = server.get("/docs/", None);
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger"), "the reference page is served from the binary");
}
