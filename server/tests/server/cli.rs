//! The operator's command line, with `--json` for scripts.

use crate::both_backends;
use crate::common::{Backend, TestDb, cli, create_account};

both_backends!(
    account_create_prints_the_key_once_and_list_shows_the_account,
    account_create_refuses_bad_input_with_clear_errors,
    keys_can_be_created_listed_and_revoked,
    renew_extends_from_the_current_expiry,
);

fn account_create_prints_the_key_once_and_list_shows_the_account(backend: Backend) {
    let db = TestDb::new(backend);
    let out = cli(&db, &["account", "create", "--name", "Acme", "--email", "ops@acme.example"]);
    assert!(out.success, "{out:?}");
    assert!(out.stdout.contains("rk_live_"), "{}", out.stdout);
    assert!(out.stdout.contains("shown once"), "{}", out.stdout);

    let listed = cli(&db, &["account", "list", "--json"]).json();
    let accounts = listed["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["email"], "ops@acme.example");
    assert_eq!(accounts[0]["subscription"]["plan"], "standard");
    assert!(!listed.to_string().contains("rk_live_"), "listing never shows keys");

    let human = cli(&db, &["account", "list"]);
    assert!(human.stdout.contains("ops@acme.example"), "{}", human.stdout);
}

fn account_create_refuses_bad_input_with_clear_errors(backend: Backend) {
    let db = TestDb::new(backend);
    create_account(&db, "taken@example.com", "standard");
    let cases: [(&[&str], &str); 3] = [
        (&["--email", "taken@example.com"], "conflict"),
        (&["--email", "new@example.com", "--plan", "platinum"], "invalid_request"),
        (&["--email", "not-an-email"], "invalid_request"),
    ];
    for (extra, code) in cases {
        let mut args = vec!["account", "create", "--name", "X", "--json"];
        args.extend_from_slice(extra);
        let out = cli(&db, &args);
        assert!(!out.success, "{args:?} should fail");
        let v = out.json();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], code, "{args:?}: {v}");
    }
    let out = cli(&db, &["account", "create", "--name", "X", "--email", "new@example.com", "--plan", "platinum"]);
    assert!(out.stderr.contains("starter, standard, business, unlimited"), "{}", out.stderr);
    // None of the refused calls created anything.
    assert_eq!(cli(&db, &["account", "list", "--json"]).json()["accounts"].as_array().unwrap().len(), 1);
}

fn keys_can_be_created_listed_and_revoked(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "keys@example.com", "standard");
    let made = cli(&db, &["key", "create", "--account", &account.id, "--name", "ci", "--json"]).json();
    let secret = made["key"].as_str().unwrap();
    assert!(secret.starts_with(made["prefix"].as_str().unwrap()));

    let listed = cli(&db, &["key", "list", "--account", &account.id, "--json"]).json();
    let names: Vec<&str> = listed["keys"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["default", "ci"]);
    assert!(!listed.to_string().contains(secret));

    let revoked = cli(&db, &["key", "revoke", made["id"].as_str().unwrap(), "--json"]).json();
    assert!(revoked["key"]["revoked_at"].is_string());

    let missing = cli(&db, &["key", "revoke", "key_doesnotexist", "--json"]);
    assert!(!missing.success);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let unknown = cli(&db, &["key", "list", "--account", "acc_nobody", "--json"]);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
}

fn renew_extends_from_the_current_expiry(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "renew@example.com", "standard");
    let out = cli(&db, &["account", "renew", "--account", &account.id, "--days", "10", "--json"]).json();
    assert_eq!(out["account"]["subscription"]["days_left"], 375);
    let missing = cli(&db, &["account", "renew", "--account", "acc_nobody", "--days", "10", "--json"]);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}
