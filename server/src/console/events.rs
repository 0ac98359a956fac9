//! Live updates for open console pages: a server-sent event stream that sends the account's
//! devices whenever their state changes. A page without JavaScript still works; with it, the
//! device list and the pairing page update without reloading.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use serde::Serialize;

use super::auth::{ConsoleError, Session};
use crate::devices::routes as devices;
use crate::state::AppState;

/// How often the stream looks; a phone's state changes at heartbeat pace, not faster.
const TICK: Duration = Duration::from_secs(1);
/// The browser reconnects by itself; a bounded stream keeps a forgotten tab from holding a
/// connection (and its session) forever.
const LIFETIME_TICKS: u32 = 600;

#[derive(Debug, PartialEq, Serialize)]
struct DeviceState {
    id: String,
    name: String,
    state: &'static str,
    online: bool,
}

async fn snapshot(state: &AppState, account_id: &str) -> Option<Vec<DeviceState>> {
    let views = devices::list_views(state, account_id).await.ok()?;
    Some(views.into_iter().map(|d| DeviceState { id: d.id, name: d.name, state: d.state, online: d.online }).collect())
}

struct Cursor {
    state: web::Data<AppState>,
    account_id: String,
    last: Option<Vec<DeviceState>>,
    ticks: u32,
}

pub async fn stream(
    session: Result<Session, ConsoleError>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session?;
    let cursor = Cursor { state, account_id: session.account.id, last: None, ticks: 0 };
    let events = stream::unfold(cursor, |mut c| async move {
        loop {
            if c.ticks >= LIFETIME_TICKS {
                return None;
            }
            if c.ticks > 0 {
                tokio::time::sleep(TICK).await;
            }
            c.ticks += 1;
            let Some(now) = snapshot(&c.state, &c.account_id).await else { continue };
            if c.last.as_ref() != Some(&now) {
                let data = serde_json::to_string(&now).unwrap_or_default();
                c.last = Some(now);
                let frame = Bytes::from(format!("event: devices\ndata: {data}\n\n"));
                return Some((Ok::<_, actix_web::Error>(frame), c));
            }
            if c.ticks % 15 == 0 {
                // A comment line keeps proxies from closing an idle stream.
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), c));
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}
