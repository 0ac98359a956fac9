//! The device link: every WebSocket frame between a phone (relay-core) and the server.
//!
//! Frames are JSON text messages tagged by `type`. Unknown fields are ignored so either side
//! may add fields within a protocol version; a new frame type or a changed meaning needs a new
//! version, negotiated in `hello` / `welcome`. `docs/PROTOCOL.md` describes the exchange.

use serde::{Deserialize, Serialize};

/// The protocol versions this build speaks, newest last.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// The newest version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Picks the newest version both sides speak.
pub fn negotiate(offered: &[u32]) -> Option<u32> {
    SUPPORTED_VERSIONS.iter().rev().copied().find(|v| offered.contains(v))
}

/// Phone → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeviceFrame {
    /// First frame on every connection.
    Hello(Hello),
    /// Every `heartbeat_interval_secs`.
    Heartbeat(Heartbeat),
    /// The phone has stored a `send` durably and asks for the go-ahead.
    Accepted { request_id: String },
    /// What happened to a message. Repeated until the server answers `status_ack`.
    Status(StatusReport),
}

/// Server → phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`: the chosen version and the phone's settings.
    Welcome(Welcome),
    /// A message for this phone to store and acknowledge with `accepted`.
    Send(SendMessage),
    /// The server recorded that this phone owns the message: it may now send it, once.
    Confirm { request_id: String },
    /// The phone must drop the message unsent: it was re-routed, cancelled or expired.
    Revoke { request_id: String, reason: String },
    /// The server stored this status; the phone may forget the report.
    StatusAck { request_id: String, status: DeliveryStatus },
    /// A refusal, sent just before the server closes the connection.
    Error { code: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Versions the phone speaks.
    pub versions: Vec<u32>,
    pub app_version: String,
    /// Messages stored after `send` whose `confirm` never arrived (say, the link dropped).
    /// The server confirms those still assigned to this phone and revokes the rest.
    #[serde(default)]
    pub unconfirmed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: u32,
    pub device_id: String,
    pub device_name: String,
    pub heartbeat_interval_secs: u32,
    pub pacing: Pacing,
    /// How many `send` frames may await `confirm` at once.
    pub window: u32,
}

/// How fast the phone may send. Android stalls or fails an app past 30 parts a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pacing {
    pub parts_per_minute: u32,
    pub parts_per_day: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { parts_per_minute: 25, parts_per_day: 5_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    pub request_id: String,
    /// E.164, e.g. `+923001234567`.
    pub to: String,
    pub body: String,
    /// SIM slot (0-based) to send from; `None` for the phone's default.
    #[serde(default)]
    pub sim: Option<u8>,
    /// Parts the server counted, for pacing.
    pub parts: u32,
    /// RFC 3339: after this the phone must not send it.
    pub expires_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    #[serde(default)]
    pub battery_percent: Option<u8>,
    #[serde(default)]
    pub charging: Option<bool>,
    /// Signal strength 0 (none) to 4 (full).
    #[serde(default)]
    pub signal_level: Option<u8>,
    /// `wifi`, `lte`, `nr`, `umts`, `gsm`, `none`, …
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub sims: Vec<SimInfo>,
    /// Messages stored on the phone and not yet finished.
    #[serde(default)]
    pub queue_depth: u32,
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default)]
    pub parts_sent_last_minute: u32,
    #[serde(default)]
    pub parts_sent_today: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimInfo {
    pub slot: u8,
    #[serde(default)]
    pub subscription_id: Option<i32>,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub number: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub send_sms: bool,
    #[serde(default)]
    pub read_phone_state: bool,
    #[serde(default)]
    pub notifications: bool,
    #[serde(default)]
    pub battery_optimization_exempt: bool,
}

/// Outcomes a phone reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Every part was handed to the network.
    Sent,
    /// Every part's delivery report said delivered.
    Delivered,
    /// Sending failed, or a delivery report said it never will arrive.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub request_id: String,
    pub status: DeliveryStatus,
    /// RFC 3339 time on the phone when it happened.
    pub at: String,
    /// For `failed`: a stable code (see [`crate::failure`]) and a reason in words.
    #[serde(default)]
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_json() {
        let f = DeviceFrame::Accepted { request_id: "req_1".into() };
        assert_eq!(serde_json::to_value(&f).unwrap(), serde_json::json!({"type": "accepted", "request_id": "req_1"}));
        let back: ServerFrame =
            serde_json::from_str(r#"{"type":"revoke","request_id":"req_2","reason":"canceled"}"#).unwrap();
        assert_eq!(back, ServerFrame::Revoke { request_id: "req_2".into(), reason: "canceled".into() });
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let text = r#"{"type":"heartbeat","battery_percent":80,"new_gauge":1}"#;
        let DeviceFrame::Heartbeat(hb) = serde_json::from_str(text).unwrap() else { panic!() };
        assert_eq!(hb.battery_percent, Some(80));
    }

    #[test]
    fn negotiation_picks_the_newest_common_version() {
        assert_eq!(negotiate(&[1, 7]), Some(1));
        assert_eq!(negotiate(&[9]), None);
    }
}
