use chrono::NaiveDateTime;
use diesel::prelude::*;
use relay_protocol::frames::{Heartbeat, Pacing, SimInfo};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::devices;
use crate::time::Timestamp;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = devices)]
pub struct Device {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub enabled: bool,
    pub online: bool,
    pub last_seen_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub token_hash: Option<String>,
    pub model: Option<String>,
    pub app_version: Option<String>,
    pub sims: String,
    pub heartbeat: Option<String>,
    pub last_heartbeat_at: Option<NaiveDateTime>,
    pub parts_per_minute: i32,
    pub parts_per_day: i32,
    pub consecutive_failures: i32,
    pub degraded_at: Option<NaiveDateTime>,
    pub connected_instance: Option<String>,
    pub unpaired_at: Option<NaiveDateTime>,
}

impl Device {
    pub fn pacing(&self) -> Pacing {
        Pacing {
            parts_per_minute: u32::try_from(self.parts_per_minute).unwrap_or(0),
            parts_per_day: u32::try_from(self.parts_per_day).unwrap_or(0),
        }
    }

    /// Whether the dispatcher may give it work (online-ness is the hub's business).
    pub fn usable(&self) -> bool {
        self.enabled && self.degraded_at.is_none() && self.unpaired_at.is_none()
    }

    pub fn view(&self, queued: i64) -> DeviceView {
        let heartbeat: Option<Heartbeat> = self.heartbeat.as_deref().and_then(|h| serde_json::from_str(h).ok());
        let sims: Vec<SimInfo> = serde_json::from_str(&self.sims).unwrap_or_default();
        DeviceView {
            id: self.id.clone(),
            name: self.name.clone(),
            model: self.model.clone(),
            app_version: self.app_version.clone(),
            enabled: self.enabled,
            online: self.online,
            state: if !self.enabled {
                "disabled"
            } else if self.degraded_at.is_some() {
                "degraded"
            } else if self.online {
                "online"
            } else {
                "offline"
            },
            last_heartbeat_at: self.last_heartbeat_at.map(Into::into),
            last_seen_at: self.last_seen_at.map(Into::into),
            battery_percent: heartbeat.as_ref().and_then(|h| h.battery_percent),
            charging: heartbeat.as_ref().and_then(|h| h.charging),
            signal_level: heartbeat.as_ref().and_then(|h| h.signal_level),
            network: heartbeat.as_ref().and_then(|h| h.network.clone()),
            local_queue_depth: heartbeat.as_ref().map(|h| h.queue_depth),
            parts_sent_last_minute: heartbeat.as_ref().map(|h| h.parts_sent_last_minute),
            parts_sent_today: heartbeat.as_ref().map(|h| h.parts_sent_today),
            permissions: heartbeat.as_ref().map(|h| PermissionsView {
                send_sms: h.permissions.send_sms,
                read_phone_state: h.permissions.read_phone_state,
                notifications: h.permissions.notifications,
                battery_optimization_exempt: h.permissions.battery_optimization_exempt,
            }),
            sims: sims
                .into_iter()
                .map(|s| SimView {
                    slot: s.slot,
                    carrier: s.carrier,
                    number: s.number,
                    subscription_id: s.subscription_id,
                })
                .collect(),
            in_flight: queued,
            pacing: PacingView { parts_per_minute: self.parts_per_minute, parts_per_day: self.parts_per_day },
            consecutive_failures: self.consecutive_failures,
            degraded_at: self.degraded_at.map(Into::into),
            paired_at: self.created_at.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    #[schema(example = "dev_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    #[schema(example = "Relay Device 1")]
    pub name: String,
    pub model: Option<String>,
    pub app_version: Option<String>,
    pub enabled: bool,
    pub online: bool,
    /// `online`, `offline`, `degraded` (its last sends all failed; re-enable to clear) or `disabled`.
    #[schema(example = "online")]
    pub state: &'static str,
    pub last_heartbeat_at: Option<Timestamp>,
    pub last_seen_at: Option<Timestamp>,
    pub battery_percent: Option<u8>,
    pub charging: Option<bool>,
    /// 0 (no signal) to 4.
    pub signal_level: Option<u8>,
    pub network: Option<String>,
    /// Messages stored on the phone and not finished, from its last heartbeat.
    pub local_queue_depth: Option<u32>,
    pub parts_sent_last_minute: Option<u32>,
    pub parts_sent_today: Option<u32>,
    pub permissions: Option<PermissionsView>,
    pub sims: Vec<SimView>,
    /// Messages handed to this device that have not reached a final state.
    pub in_flight: i64,
    pub pacing: PacingView,
    pub consecutive_failures: i32,
    pub degraded_at: Option<Timestamp>,
    pub paired_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionsView {
    pub send_sms: bool,
    pub read_phone_state: bool,
    pub notifications: bool,
    pub battery_optimization_exempt: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimView {
    pub slot: u8,
    pub carrier: Option<String>,
    pub number: Option<String>,
    pub subscription_id: Option<i32>,
}

#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PacingView {
    /// SMS parts per minute; Android's own limit is 30 per app. 0 means no limit.
    #[schema(example = 25)]
    pub parts_per_minute: i32,
    /// SMS parts per day. 0 means no limit.
    #[schema(example = 5000)]
    pub parts_per_day: i32,
}
