//! `GET /metrics`: the figures a Prometheus scrape sees follow what the server really did.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::common::{Backend, TestDb, TestDevice, TestServer, create_account};
use crate::messages::wait_for_status;

both_backends!(the_metrics_follow_messages_from_queue_to_delivery, webhook_attempts_are_counted_by_outcome);

/// The value of the sample named exactly `series` (name plus labels), if the scrape has it.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

fn scrape(server: &TestServer) -> String {
    let reply = server.get("/metrics", None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    assert!(reply.text.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    reply.text
}

fn the_metrics_follow_messages_from_queue_to_delivery(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "metrics@example.com", "standard");
    let server = TestServer::start(&db);

    let ids: Vec<String> = (0..3)
        .map(|i| {
            let body = json!({"to": "+923001234567", "message": format!("metrics {i}")}).to_string();
            let reply = server.send("POST", "/v1/messages", Some(&a.key), Some(&body));
            assert_eq!(reply.status, 202, "{}", reply.text);
            reply.json()["request_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let waiting = scrape(&server);
    assert_eq!(sample(&waiting, r#"relay_messages_waiting{status="queued"}"#), Some(3.0), "{waiting}");
    assert_eq!(sample(&waiting, "relay_devices_online"), Some(0.0), "{waiting}");
    assert_eq!(sample(&waiting, "relay_dispatch_latency_seconds_count"), Some(0.0), "{waiting}");

    let mut phone = TestDevice::pair(&server, &a.key, "Metrics phone");
    phone.run(&["--latency-ms", "20"]);
    for id in &ids {
        wait_for_status(&server, &a.key, id, "delivered", Duration::from_secs(30));
    }

    let done = scrape(&server);
    assert_eq!(sample(&done, r#"relay_messages_waiting{status="queued"}"#), Some(0.0), "{done}");
    assert_eq!(sample(&done, r#"relay_messages_waiting{status="dispatched"}"#), Some(0.0), "{done}");
    assert_eq!(sample(&done, "relay_devices_online"), Some(1.0), "{done}");
    assert_eq!(sample(&done, "relay_dispatch_latency_seconds_count"), Some(3.0), "{done}");
    assert_eq!(sample(&done, r#"relay_messages_reported_total{status="sent"}"#), Some(3.0), "{done}");
    assert_eq!(sample(&done, r#"relay_messages_reported_total{status="delivered"}"#), Some(3.0), "{done}");
    let answered = sample(&done, r#"relay_http_responses_total{class="2xx"}"#).unwrap_or(0.0);
    assert!(answered >= 8.0, "3 sends, a pairing code, a pairing and the polls answered 2xx: {done}");
    // Only the request that asked for a missing path counts as 4xx.
    assert_eq!(server.get("/v1/nowhere", None).status, 404);
    let after = scrape(&server);
    assert_eq!(sample(&after, r#"relay_http_responses_total{class="4xx"}"#), Some(1.0), "{after}");
}

fn webhook_attempts_are_counted_by_outcome(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "metrics-hooks@example.com", "standard");
    let server = TestServer::start_with(&db, &["--allow-private-webhooks", "--unsafe-test-webhook-schedule-ms", "100"]);
    // Nobody listens there: every attempt is refused and will be retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = json!({"url": format!("http://127.0.0.1:{closed}/hook")}).to_string();
    let created = server.send("POST", "/v1/webhooks", Some(&a.key), Some(&body));
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["webhook"]["id"].as_str().unwrap().to_owned();
    assert_eq!(sample(&scrape(&server), r#"relay_webhook_attempts_total{outcome="retry"}"#), None);
    assert_eq!(server.send("POST", &format!("/v1/webhooks/{id}/test"), Some(&a.key), None).status, 202);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = scrape(&server);
        if sample(&now, r#"relay_webhook_attempts_total{outcome="retry"}"#).is_some_and(|n| n >= 2.0) {
            assert_eq!(sample(&now, r#"relay_webhook_attempts_total{outcome="delivered"}"#), None, "{now}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no retries counted: {now}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
