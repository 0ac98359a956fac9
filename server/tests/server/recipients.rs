//! The recipients directory through the real API, over SQLite and PostgreSQL: CRUD, search by
//! name in any script and by number in any format, CSV import and export, opt-out, and one
//! account never seeing another's recipients.

use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, Reply, TestAccount, TestDb, TestServer, add_online_device, create_account};

both_backends!(
    recipients_crud_normalises_numbers_and_refuses_duplicates,
    recipients_search_by_name_in_any_script_and_by_number_in_any_format,
    recipients_import_counts_good_bad_and_duplicate_rows,
    recipients_malformed_import_writes_nothing,
    recipients_of_one_account_are_invisible_to_another,
    recipients_opted_out_numbers_refuse_sends_but_not_otp,
);

/// PostgreSQL only: a large import answers after the table was vacuumed and analysed, so the
/// client's first searches meet fresh statistics and no autovacuum starting under them.
mod recipients_large_import_is_vacuumed_before_it_answers {
    #[test]
    fn postgres() {
        super::recipients_large_import_is_vacuumed_before_it_answers(super::Backend::Postgres)
    }
}

fn recipients_large_import_is_vacuumed_before_it_answers(backend: Backend) {
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Settled {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        vacuumed: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        analysed: bool,
    }

    let (db, a, server) = setup(backend);
    let mut file = String::from("name,phone\n");
    for i in 0..10_000 {
        file.push_str(&format!("Person {i},+92300{:07}\n", 1_000_000 + i));
    }
    let reply = import(&server, &a.key, file.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["created"], 10_000, "{}", reply.text);

    let mut conn = diesel::PgConnection::establish(&crate::common::postgres_base_url()).unwrap();
    let settled: Settled = diesel::sql_query(
        "SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analysed \
         FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'recipients'",
    )
    .bind::<diesel::sql_types::Text, _>(db.schema().unwrap())
    .get_result(&mut conn)
    .unwrap();
    assert!(settled.vacuumed && settled.analysed, "vacuumed {}, analysed {}", settled.vacuumed, settled.analysed);
    assert_eq!(search(&server, &a.key, "person 9999"), ["Person 9999"]);
}

/// PostgreSQL only: a table that grew past what its statistics say is analyzed by the server
/// within seconds (autovacuum would look only once a minute), so the statements the server
/// keeps prepared are planned again for the table as it is.
mod recipients_table_that_outgrew_its_statistics_is_analyzed {
    #[test]
    fn postgres() {
        super::recipients_table_that_outgrew_its_statistics_is_analyzed(super::Backend::Postgres)
    }
}

fn recipients_table_that_outgrew_its_statistics_is_analyzed(backend: Backend) {
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Analyzed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        by_server: bool,
    }

    let (db, a, server) = setup(backend);
    let mut file = String::from("name,phone\n");
    for i in 0..2_000 {
        file.push_str(&format!("Person {i},+92300{:07}\n", 1_000_000 + i));
    }
    let reply = import(&server, &a.key, file.as_bytes());
    assert_eq!(reply.json()["created"], 2_000, "{}", reply.text);

    // `last_analyze` is set by an ANALYZE statement (the server's); autovacuum sets
    // `last_autoanalyze` instead.
    let mut conn = diesel::PgConnection::establish(&crate::common::postgres_base_url()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let analyzed: Analyzed = diesel::sql_query(
            "SELECT last_analyze IS NOT NULL AS by_server FROM pg_stat_user_tables \
             WHERE schemaname = $1 AND relname = 'recipients'",
        )
        .bind::<diesel::sql_types::Text, _>(db.schema().unwrap())
        .get_result(&mut conn)
        .unwrap();
        if analyzed.by_server {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "recipients not analyzed 30 s after growing to 2,000 rows");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(search(&server, &a.key, "person 1999"), ["Person 1999"]);
}

pub fn create(server: &TestServer, key: &str, body: Value) -> Reply {
    server.send("POST", "/v1/recipients", Some(key), Some(&body.to_string()))
}

/// Creates and expects 201; returns the recipient.
pub fn created(server: &TestServer, key: &str, body: Value) -> Value {
    let reply = create(server, key, body);
    assert_eq!(reply.status, 201, "{}", reply.text);
    let v = reply.json();
    assert!(v["id"].as_str().unwrap().starts_with("rcp_"), "{v}");
    v
}

pub fn set_region(server: &TestServer, key: &str, region: &str) {
    let reply = server.send("PATCH", "/v1/account", Some(key), Some(&json!({"default_region": region}).to_string()));
    assert_eq!(reply.status, 200, "{}", reply.text);
}

fn search(server: &TestServer, key: &str, q: &str) -> Vec<String> {
    let reply = server.get(&format!("/v1/recipients?q={}", encode(q)), Some(key));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let v = reply.json();
    v["recipients"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
}

/// Percent-encodes a query parameter's value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn import(server: &TestServer, key: &str, body: &[u8]) -> Reply {
    let res = server
        .http
        .post(format!("{}/v1/recipients/import", server.url))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(body.to_vec())
        .send()
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    Reply { status, headers, text: res.text().unwrap() }
}

fn count(server: &TestServer, key: &str) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/recipients?limit=100&cursor={c}"),
            None => "/v1/recipients?limit=100".into(),
        };
        let v = server.get(&path, Some(key)).json();
        n += v["recipients"].as_array().unwrap().len();
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return n,
        }
    }
}

fn setup(backend: Backend) -> (TestDb, TestAccount, TestServer) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "dir@example.com", "unlimited");
    let server = TestServer::start(&db);
    set_region(&server, &a.key, "PK");
    (db, a, server)
}

fn recipients_crud_normalises_numbers_and_refuses_duplicates(backend: Backend) {
    let (_db, a, server) = setup(backend);
    let r = created(
        &server,
        &a.key,
        json!({"name": " Ayesha  Khan ", "phone": "0300-1234567", "tags": ["VIP", "lahore", "vip"], "locale": "ur", "metadata": {"crm": 7}}),
    );
    let id = r["id"].as_str().unwrap();
    assert_eq!(r["name"], "Ayesha  Khan");
    assert_eq!(r["phone"], "+923001234567");
    assert_eq!(r["tags"], json!(["vip", "lahore"]));
    assert_eq!(r["locale"], "ur");
    assert_eq!(r["metadata"], json!({"crm": 7}));
    assert_eq!(r["opted_out"], false);

    let got = server.get(&format!("/v1/recipients/{id}"), Some(&a.key));
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["phone"], "+923001234567");

    // The same number written another way is the same recipient.
    let dup = create(&server, &a.key, json!({"name": "Someone", "phone": "+92 300 123 4567"}));
    let message = dup.assert_error(409, "conflict");
    assert!(message.contains(id), "{message}");
    create(&server, &a.key, json!({"name": "X", "phone": "12"})).assert_error(400, "invalid_request");
    create(&server, &a.key, json!({"name": " ", "phone": "03001112222"})).assert_error(400, "invalid_request");

    let patched = server.send(
        "PATCH",
        &format!("/v1/recipients/{id}"),
        Some(&a.key),
        Some(r#"{"name": "Ayesha K.", "tags": ["karachi"], "opted_out": true}"#),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    let p = patched.json();
    assert_eq!(p["name"], "Ayesha K.");
    assert_eq!(p["tags"], json!(["karachi"]));
    assert_eq!(p["opted_out"], true);
    assert!(p["opted_out_at"].is_string(), "{p}");

    // Moving to a number another recipient has is a conflict naming it.
    let other = created(&server, &a.key, json!({"name": "Bilal", "phone": "03211112222"}));
    let clash =
        server.send("PATCH", &format!("/v1/recipients/{id}"), Some(&a.key), Some(r#"{"phone": "0321 1112222"}"#));
    assert!(clash.assert_error(409, "conflict").contains(other["id"].as_str().unwrap()));

    let by_tag = server.get("/v1/recipients?tag=KARACHI", Some(&a.key)).json();
    assert_eq!(by_tag["recipients"].as_array().unwrap().len(), 1, "{by_tag}");
    assert_eq!(count(&server, &a.key), 2);

    let deleted = server.send("DELETE", &format!("/v1/recipients/{id}"), Some(&a.key), None);
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    server.get(&format!("/v1/recipients/{id}"), Some(&a.key)).assert_error(404, "not_found");
    server.send("DELETE", &format!("/v1/recipients/{id}"), Some(&a.key), None).assert_error(404, "not_found");
    assert_eq!(count(&server, &a.key), 1);
}

fn recipients_search_by_name_in_any_script_and_by_number_in_any_format(backend: Backend) {
    let (_db, a, server) = setup(backend);
    for (name, phone) in [
        ("محمد علی", "+923001234567"),
        ("علی رضا", "+923005550000"),
        ("José Álvarez", "+34612345678"),
        ("Ali Khan", "+923211112222"),
        ("Alina Shah", "+923331119999"),
        ("Natalia Ali", "+447911123456"),
        ("شکیلہ بانو", "+923451234000"),
    ] {
        created(&server, &a.key, json!({"name": name, "phone": phone}));
    }
    // Urdu: a later word, and the same name typed on an Arabic keyboard (ي, ك, ه).
    let found = search(&server, &a.key, "علی");
    assert_eq!(found, ["علی رضا", "محمد علی"], "name prefix first, then a later word");
    assert_eq!(search(&server, &a.key, "علي"), found);
    assert_eq!(search(&server, &a.key, "شكيله"), ["شکیلہ بانو"]);
    // Latin: case and accents optional, partial words.
    assert_eq!(search(&server, &a.key, "jose"), ["José Álvarez"]);
    assert_eq!(search(&server, &a.key, "ALVA"), ["José Álvarez"]);
    // Ranked: names starting with it, then with a word starting with it, then containing it.
    assert_eq!(search(&server, &a.key, "ali"), ["Ali Khan", "Alina Shah", "Natalia Ali"]);
    assert_eq!(search(&server, &a.key, "tali"), ["Natalia Ali"]);
    // Numbers in any format: local with the account's region, international, its start, its end.
    assert_eq!(search(&server, &a.key, "0300 1234567"), ["محمد علی"]);
    assert_eq!(search(&server, &a.key, "+92 300 123-4567"), ["محمد علی"]);
    assert_eq!(search(&server, &a.key, "۰۳۰۰۱۲۳۴۵۶۷"), ["محمد علی"]);
    assert_eq!(search(&server, &a.key, "4567"), ["محمد علی"]);
    assert_eq!(search(&server, &a.key, "+92300"), ["علی رضا", "محمد علی"]);
    assert_eq!(search(&server, &a.key, "0300 12"), ["محمد علی"]);
    assert_eq!(search(&server, &a.key, "0300"), ["علی رضا", "محمد علی"]);
    assert!(search(&server, &a.key, "nobody").is_empty());
    assert!(search(&server, &a.key, "%").is_empty(), "LIKE wildcards are literal");

    // Paging through ranked results.
    let page = server.get("/v1/recipients?q=ali&limit=2", Some(&a.key)).json();
    assert_eq!(page["has_more"], true, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = server.get(&format!("/v1/recipients?q=ali&limit=2&cursor={cursor}"), Some(&a.key)).json();
    assert_eq!(rest["recipients"][0]["name"], "Natalia Ali", "{rest}");
    assert_eq!(rest["has_more"], false);
    // One at a time: the first pages lie among the names that start with the query (read in
    // index order), the last one past them (the ranked query); together, the same order.
    let mut walked = Vec::new();
    let mut url = "/v1/recipients?q=ali&limit=1".to_owned();
    loop {
        let page = server.get(&url, Some(&a.key)).json();
        walked.push(page["recipients"][0]["name"].as_str().unwrap().to_owned());
        let Some(cursor) = page["next_cursor"].as_str() else { break };
        url = format!("/v1/recipients?q=ali&limit=1&cursor={cursor}");
    }
    assert_eq!(walked, ["Ali Khan", "Alina Shah", "Natalia Ali"]);
}

fn recipients_import_counts_good_bad_and_duplicate_rows(backend: Backend) {
    let (_db, a, server) = setup(backend);
    created(&server, &a.key, json!({"name": "Old Name", "phone": "+923001234567", "tags": ["old"]}));
    // BOM, semicolons, quoted field with the delimiter inside, tags separated by '|'.
    let file = "\u{feff}name;phone;tags;locale\n\
                New Name;0300 1234567;vip|lahore;ur\n\
                \"Khan; Bilal\";+92 321 1112222;;en\n\
                Bad Number;12345;;\n\
                ;0333 1119999;;\n\
                Again;0321-1112222;;\n\
                محمد علی;03451234000;family;ur\n";
    let reply = import(&server, &a.key, file.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["created"], 2, "{v}");
    assert_eq!(v["updated"], 1, "{v}");
    assert_eq!(v["rejected"], 3, "{v}");
    let lines: Vec<u64> = v["rejected_rows"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [4, 5, 6], "{v}");
    assert!(v["rejected_rows"][2]["reason"].as_str().unwrap().contains("line 3"), "{v}");
    assert_eq!(count(&server, &a.key), 3);
    let updated = search(&server, &a.key, "0300 1234567");
    assert_eq!(updated, ["New Name"]);
    let bilal = search(&server, &a.key, "bilal");
    assert_eq!(bilal, ["Khan; Bilal"]);

    // The export imports back unchanged: every row an update.
    let export = server.get("/v1/recipients/export", Some(&a.key));
    assert_eq!(export.status, 200);
    assert!(export.header("content-type").unwrap().starts_with("text/csv"));
    assert!(export.text.starts_with("id,name,phone,tags,locale,opted_out_at,created_at\n"), "{}", export.text);
    assert!(export.text.contains("New Name,+923001234567,vip|lahore,ur"), "{}", export.text);
    let again = import(&server, &a.key, export.text.as_bytes()).json();
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64(), again["rejected"].as_u64()),
        (Some(0), Some(3), Some(0)),
        "{again}"
    );
}

fn recipients_malformed_import_writes_nothing(backend: Backend) {
    let (_db, a, server) = setup(backend);
    // Good rows before the fault: still nothing is written.
    let bad_utf8 = b"name,phone\nGood One,03001234567\nBad \xff\xfe,03007654321\n";
    assert!(import(&server, &a.key, bad_utf8).assert_error(400, "invalid_request").contains("UTF-8"));
    let no_phone = "name,number\nGood One,03001234567\n";
    assert!(import(&server, &a.key, no_phone.as_bytes()).assert_error(400, "invalid_request").contains("phone"));
    let twice = "name,phone,Phone\nGood One,03001234567,03001234567\n";
    import(&server, &a.key, twice.as_bytes()).assert_error(400, "invalid_request");
    import(&server, &a.key, b"").assert_error(400, "invalid_request");
    // JSON is not CSV.
    server.send("POST", "/v1/recipients/import", Some(&a.key), Some("{}")).assert_error(400, "invalid_request");
    assert_eq!(count(&server, &a.key), 0, "a malformed file wrote rows");
}

fn recipients_of_one_account_are_invisible_to_another(backend: Backend) {
    let (db, a, server) = setup(backend);
    let b = create_account(&db, "other@example.com", "unlimited");
    let mine =
        created(&server, &a.key, json!({"name": "Private Person", "phone": "+923001234567", "tags": ["secret"]}));
    let id = mine["id"].as_str().unwrap();
    let path = format!("/v1/recipients/{id}");
    server.get(&path, Some(&b.key)).assert_error(404, "not_found");
    server.send("PATCH", &path, Some(&b.key), Some(r#"{"name": "Hijacked"}"#)).assert_error(404, "not_found");
    server.send("PATCH", &path, Some(&b.key), Some(r#"{"opted_out": true}"#)).assert_error(404, "not_found");
    server.send("DELETE", &path, Some(&b.key), None).assert_error(404, "not_found");
    assert!(search(&server, &b.key, "private").is_empty());
    assert!(search(&server, &b.key, "+923001234567").is_empty());
    assert!(search(&server, &b.key, "4567").is_empty());
    assert_eq!(server.get("/v1/recipients?tag=secret", Some(&b.key)).json()["recipients"], json!([]));
    assert_eq!(count(&server, &b.key), 0);
    let export = server.get("/v1/recipients/export", Some(&b.key));
    assert!(!export.text.contains("Private"), "{}", export.text);
    // B importing and creating the same number makes B's own recipient; A's is untouched.
    let imported = import(&server, &b.key, b"name,phone\nB's Contact,+923001234567\n").json();
    assert_eq!(imported["created"], 1, "{imported}");
    created(&server, &b.key, json!({"name": "Another", "phone": "+923009998888"}));
    let still = server.get(&path, Some(&a.key)).json();
    assert_eq!(still["name"], "Private Person");
    assert_eq!(count(&server, &a.key), 1);
}

fn recipients_opted_out_numbers_refuse_sends_but_not_otp(backend: Backend) {
    let (db, a, server) = setup(backend);
    add_online_device(&db, &a.id);
    let r = created(&server, &a.key, json!({"name": "Quiet", "phone": "03001234567"}));
    let path = format!("/v1/recipients/{}", r["id"].as_str().unwrap());
    let send = |to: &str| {
        server.send("POST", "/v1/messages", Some(&a.key), Some(&json!({"to": to, "message": "Hello"}).to_string()))
    };
    assert_eq!(send("+923001234567").status, 202);
    assert_eq!(server.send("PATCH", &path, Some(&a.key), Some(r#"{"opted_out": true}"#)).status, 200);
    let message = send("0300 1234567").assert_error(400, "recipient_opted_out");
    assert!(message.contains("+923001234567"), "{message}");
    // Other numbers still go; an OTP the person asked for still goes.
    assert_eq!(send("+923001112222").status, 202);
    let otp = server.send("POST", "/v1/otp/send", Some(&a.key), Some(r#"{"to": "+923001234567", "purpose": "login"}"#));
    assert_eq!(otp.status, 201, "{}", otp.text);
    // Opted back in: sends go again.
    assert_eq!(
        server.send("PATCH", &path, Some(&a.key), Some(r#"{"opted_out": false}"#)).json()["opted_out_at"],
        Value::Null
    );
    assert_eq!(send("+923001234567").status, 202);
}
