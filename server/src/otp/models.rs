use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::otps;
use crate::messages::models::FailureView;
use crate::time::Timestamp;

/// Where a code is. `pending` until it is verified, its attempts are spent, it expires, or a
/// newer code for the same recipient and purpose replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtpStatus {
    Pending,
    Verified,
    /// Every attempt was used: the code is spent.
    Failed,
    Expired,
    /// A newer code for the same `to` and `purpose` replaced it.
    Canceled,
}

impl OtpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpStatus::Pending => "pending",
            OtpStatus::Verified => "verified",
            OtpStatus::Failed => "failed",
            OtpStatus::Expired => "expired",
            OtpStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> OtpStatus {
        match s {
            "verified" => OtpStatus::Verified,
            "failed" => OtpStatus::Failed,
            "expired" => OtpStatus::Expired,
            "canceled" => OtpStatus::Canceled,
            _ => OtpStatus::Pending,
        }
    }
}

/// Tries a code allows before it is spent.
pub const MAX_ATTEMPTS: i32 = 5;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = otps, treat_none_as_default_value = false)]
pub struct Otp {
    pub id: String,
    pub account_id: String,
    pub to_number: String,
    pub purpose: String,
    pub locale: String,
    /// Hex HMAC-SHA256 of the code (see `secret.rs`); the code itself is never stored.
    pub code_hash: String,
    pub code_length: i16,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// The SMS carrying the code (`req_…`).
    pub message_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub verified_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

impl Otp {
    /// The status as of `now`: a pending code past its expiry is expired, stored or not.
    pub fn status_at(&self, now: NaiveDateTime) -> OtpStatus {
        match OtpStatus::parse(&self.status) {
            OtpStatus::Pending if self.expires_at <= now => OtpStatus::Expired,
            s => s,
        }
    }

    pub fn attempts_remaining(&self) -> i32 {
        (self.max_attempts - self.attempts).max(0)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendOtpRequest {
    /// The recipient: E.164 (`+923001234567`) or a local number when the account has a `default_region`.
    #[schema(example = "+923001234567")]
    pub to: String,
    /// `login`, `signup`, `password_reset`, `transaction` or `verification`: chooses the wording.
    #[schema(example = "login")]
    pub purpose: String,
    /// `en` (default), `ur`, `ur-Latn`, `ar`, `hi`, `bn`, `fr`, `es`, `tr` or `id`.
    #[schema(example = "ur")]
    pub locale: Option<String>,
    /// How long the code is valid: 60 to 3600 seconds, default 300.
    #[schema(example = 300)]
    pub expires_in_seconds: Option<u32>,
    /// Digits in the code: 4 to 10, default 6.
    #[schema(example = 6)]
    pub code_length: Option<u8>,
    /// Send from this device only (else the least-loaded online device is chosen).
    pub device_id: Option<String>,
    /// Your Android app's 11-character SMS Retriever hash: appended on a line of its own, so the
    /// app reads the code without the SMS permission.
    #[schema(example = "FA+9qCX9VSu")]
    pub app_hash: Option<String>,
    /// Your site's domain: appends the `@domain #code` line (WebOTP / origin-bound one-time
    /// codes) as the last line, so browsers and iOS offer the code for autofill on that site only.
    #[schema(example = "example.com")]
    pub web_otp_domain: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendOtpResponse {
    pub ok: bool,
    #[schema(example = "otp_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub otp_id: String,
    /// `sent`: the code is stored and its SMS queued in the OTP lane, ahead of all other traffic.
    #[schema(example = "sent")]
    pub status: String,
    #[schema(example = 300)]
    pub expires_in_seconds: u32,
    /// The SMS carrying the code: follow it with `GET /v1/messages/{request_id}`.
    #[schema(example = "req_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub request_id: String,
    /// The recipient as normalised to E.164.
    #[schema(example = "+923001234567")]
    pub to: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyOtpRequest {
    #[schema(example = "otp_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub otp_id: String,
    /// The code as the person typed it: ASCII digits (Arabic-Indic, Devanagari and Bengali
    /// digits are read as the same digits; spaces and dashes are ignored).
    #[schema(example = "482913")]
    pub code: String,
}

/// The outcome of one verification attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Success,
    Failed,
    Expired,
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Not the code; `attempts_remaining` says how many tries are left.
    WrongCode,
    /// The code was already used: a code verifies once.
    AlreadyVerified,
    /// Every attempt was used: the code is spent; send a new one.
    AttemptsExhausted,
    /// A newer code for the same recipient and purpose replaced this one.
    Superseded,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOtpResponse {
    pub ok: bool,
    pub otp_id: String,
    pub status: VerifyStatus,
    /// Tries left for this code (0 once it is verified, spent, expired or replaced).
    pub attempts_remaining: i32,
    /// Present when `status` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailReason>,
}

/// An OTP as the API shows it: never its code.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpView {
    pub ok: bool,
    pub otp_id: String,
    pub status: OtpStatus,
    #[schema(example = "login")]
    pub purpose: String,
    #[schema(example = "ur")]
    pub locale: String,
    #[schema(example = "+923001234567")]
    pub to: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub verified_at: Option<Timestamp>,
    /// Verification attempts used so far.
    pub attempts: i32,
    pub max_attempts: i32,
    pub attempts_remaining: i32,
    /// The SMS carrying the code.
    pub request_id: String,
    /// The SMS's status: `queued`, `dispatched`, `sent`, `delivered`, `failed`, `expired` or `canceled`.
    #[schema(example = "delivered")]
    pub delivery_status: String,
    /// Why the SMS failed, when it did.
    pub delivery_failure: Option<FailureView>,
}
