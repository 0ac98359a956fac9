//! Live updates for open console pages: a server-sent event stream that sends the account's
//! devices whenever their state changes (`event: devices`), for a message page that
//! message's status and timeline (`event: message`), and for the messages list the status of
//! each message shown (`event: statuses`). A page without JavaScript still works; with it,
//! device states, the pairing page, message pages and the list update without reloading.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use serde::{Deserialize, Serialize};

use super::auth::{ConsoleError, Session};
use crate::devices::routes as devices;
use crate::messages::models::EventView;
use crate::messages::routes as messages;
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

#[derive(Debug, PartialEq, Serialize)]
struct MessageState {
    request_id: String,
    status: &'static str,
    events: Vec<EventView>,
}

async fn message(state: &AppState, account_id: &str, id: &str) -> Option<MessageState> {
    let m = messages::full_view(state, account_id.to_owned(), id.to_owned()).await.ok()?;
    Some(MessageState { request_id: m.request_id, status: m.status.as_str(), events: m.events.unwrap_or_default() })
}

#[derive(Debug, PartialEq, Serialize)]
struct StatusOf {
    request_id: String,
    status: String,
}

async fn statuses(state: &AppState, account_id: &str, ids: &[String]) -> Option<Vec<StatusOf>> {
    let found = messages::statuses(state, account_id.to_owned(), ids.to_vec()).await.ok()?;
    Some(found.into_iter().map(|(request_id, status)| StatusOf { request_id, status }).collect())
}

#[derive(Debug, Default, Deserialize)]
pub struct Watch {
    /// A message page also follows its message.
    message: Option<String>,
    /// The messages list follows the messages it shows (comma-separated request ids).
    messages: Option<String>,
}

struct Cursor {
    state: web::Data<AppState>,
    account_id: String,
    last: Option<Vec<DeviceState>>,
    message: Option<String>,
    last_message: Option<MessageState>,
    list: Vec<String>,
    last_list: Option<Vec<StatusOf>>,
    ticks: u32,
}

pub async fn stream(
    session: Result<Session, ConsoleError>,
    state: web::Data<AppState>,
    watch: web::Query<Watch>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session?;
    let watch = watch.into_inner();
    let list: Vec<String> = watch
        .messages
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .take(messages::MAX_FOLLOWED)
        .map(str::to_owned)
        .collect();
    let cursor = Cursor {
        state,
        account_id: session.account.id,
        last: None,
        message: watch.message,
        last_message: None,
        list,
        last_list: None,
        ticks: 0,
    };
    let events = stream::unfold(cursor, |mut c| async move {
        loop {
            if c.ticks >= LIFETIME_TICKS {
                return None;
            }
            if c.ticks > 0 {
                tokio::time::sleep(TICK).await;
            }
            c.ticks += 1;
            let mut frame = String::new();
            if let Some(now) = snapshot(&c.state, &c.account_id).await
                && c.last.as_ref() != Some(&now)
            {
                let data = serde_json::to_string(&now).unwrap_or_default();
                frame.push_str(&format!("event: devices\ndata: {data}\n\n"));
                c.last = Some(now);
            }
            if let Some(id) = &c.message
                && let Some(now) = message(&c.state, &c.account_id, id).await
                && c.last_message.as_ref() != Some(&now)
            {
                let data = serde_json::to_string(&now).unwrap_or_default();
                frame.push_str(&format!("event: message\ndata: {data}\n\n"));
                c.last_message = Some(now);
            }
            if !c.list.is_empty()
                && let Some(now) = statuses(&c.state, &c.account_id, &c.list).await
                && c.last_list.as_ref() != Some(&now)
            {
                let data = serde_json::to_string(&now).unwrap_or_default();
                frame.push_str(&format!("event: statuses\ndata: {data}\n\n"));
                c.last_list = Some(now);
            }
            if !frame.is_empty() {
                return Some((Ok::<_, actix_web::Error>(Bytes::from(frame)), c));
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
