//! Graceful shutdown: SIGTERM stops the server cleanly and nothing held in memory is lost.

use crate::both_backends;
use crate::common::{Backend, TestDb, TestServer, cli, create_account};

both_backends!(sigterm_stops_cleanly_and_stores_last_used_times);

fn sigterm_stops_cleanly_and_stores_last_used_times(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "shutdown@example.com", "standard");
    let mut server = TestServer::start(&db);
    assert_eq!(server.get("/v1/account", Some(&account.key)).status, 200);
    // Last-used times are batched in memory, not written per request...
    let stored = cli(&db, &["key", "list", "--account", &account.id, "--json"]).json();
    assert!(stored["keys"][0]["last_used_at"].is_null(), "{stored}");
    // ...and written when the server stops.
    assert!(server.terminate(), "the server should exit 0 on SIGTERM; log:\n{}", server.log());
    let stored = cli(&db, &["key", "list", "--account", &account.id, "--json"]).json();
    assert!(stored["keys"][0]["last_used_at"].is_string(), "{stored}");
}
