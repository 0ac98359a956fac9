use actix_web::{HttpResponse, get, post, web};
use chrono::{Duration, NaiveDateTime};

use super::models::{
    FailReason, MAX_ATTEMPTS, Otp, OtpStatus, OtpView, SendOtpRequest, SendOtpResponse, VerifyOtpRequest,
    VerifyOtpResponse, VerifyStatus,
};
use super::queries;
use super::secret::generate_code;
use super::texts::{self, Extras, Locale, Purpose};
use crate::accounts::Account;
use crate::auth::{self, Caller, SendCaller, Sender};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::ids::{IdKind, new_id};
use crate::messages::models::{FailureView, Lane, Message, Status};
use crate::messages::queries::{self as messages, Canceled};
use crate::messages::routes::{check_device, check_queue_open};
use crate::messages::text;
use crate::plans;
use crate::state::AppState;
use crate::time;

const DEFAULT_EXPIRY: u32 = 300;
const DEFAULT_LENGTH: u8 = 6;
/// One send per recipient and purpose in this many seconds…
const MIN_GAP_SECS: i64 = 30;
/// …and at most this many in this window.
const WINDOW_SENDS: usize = 5;
const WINDOW_SECS: i64 = 600;

/// A send, validated: what the writer needs to store it.
struct Prepared {
    otp: Otp,
    message: Message,
    purpose: Purpose,
    expires_in: u32,
}

fn prepare(account: &Account, req: &SendOtpRequest, secret: &super::secret::OtpSecret) -> Result<Prepared, ApiError> {
    let to = text::normalize_number(&req.to, account.default_region.as_deref())
        .map_err(|e| ApiError::invalid("to", e.to_string()))?;
    let purpose = Purpose::parse(&req.purpose).ok_or_else(|| {
        ApiError::invalid(
            "purpose",
            format!("`{}` is not an OTP purpose; use one of {}.", shown(&req.purpose), Purpose::names()),
        )
    })?;
    let locale = match req.locale.as_deref() {
        None => Locale::En,
        Some(l) => Locale::parse(l).ok_or_else(|| {
            ApiError::invalid(
                "locale",
                format!("`{}` is not a supported locale; use one of {}.", shown(l), Locale::names()),
            )
        })?,
    };
    let expires_in = req.expires_in_seconds.unwrap_or(DEFAULT_EXPIRY);
    if !(60..=3600).contains(&expires_in) {
        return Err(ApiError::invalid("expires_in_seconds", "Field `expires_in_seconds` must be between 60 and 3600."));
    }
    let length = req.code_length.unwrap_or(DEFAULT_LENGTH);
    if !(4..=10).contains(&length) {
        return Err(ApiError::invalid("code_length", "Field `code_length` must be between 4 and 10."));
    }
    let app_hash = req.app_hash.as_deref().map(check_app_hash).transpose()?;
    let domain = req.web_otp_domain.as_deref().map(check_domain).transpose()?;
    let extras = Extras { app_hash, web_otp_domain: domain.as_deref() };

    let code = generate_code(usize::from(length));
    let minutes = texts::minutes(expires_in);
    let body = texts::render(purpose, locale, &code, minutes, extras);
    let redacted = texts::redacted(purpose, locale, usize::from(length), minutes, extras);
    let info = text::analyze(&body);
    let now = time::now();
    let expires_at = now + Duration::seconds(i64::from(expires_in));
    let otp_id = new_id(IdKind::Otp);
    let message = Message {
        id: new_id(IdKind::Request),
        account_id: account.id.clone(),
        to_number: to.clone(),
        body,
        priority: Lane::Otp as i16,
        status: Status::Queued.as_str().to_owned(),
        requested_device_id: req.device_id.clone(),
        device_id: None,
        sim: None,
        encoding: info.encoding.as_str().to_owned(),
        segments: i32::try_from(info.segments).unwrap_or(i32::MAX),
        metadata: Some(serde_json::json!({"otp_id": otp_id, "purpose": purpose.as_str()}).to_string()),
        batch_id: None,
        attempts: 0,
        failure_code: None,
        failure_reason: None,
        // A code nobody can use any more is not worth sending.
        expires_at,
        queued_at: now,
        dispatched_at: None,
        acked_at: None,
        sent_at: None,
        delivered_at: None,
        finished_at: None,
        updated_at: now,
        redacted_body: Some(redacted),
    };
    let otp = Otp {
        code_hash: secret.hash(&otp_id, &code),
        id: otp_id,
        account_id: account.id.clone(),
        to_number: to,
        purpose: purpose.as_str().to_owned(),
        locale: locale.as_str().to_owned(),
        code_length: i16::from(length),
        status: OtpStatus::Pending.as_str().to_owned(),
        attempts: 0,
        max_attempts: MAX_ATTEMPTS,
        message_id: message.id.clone(),
        created_at: now,
        expires_at,
        verified_at: None,
        updated_at: now,
    };
    Ok(Prepared { otp, message, purpose, expires_in })
}

/// At most 40 characters of what the caller sent, for error messages.
fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The SMS Retriever hash: 11 characters of base64.
fn check_app_hash(hash: &str) -> Result<&str, ApiError> {
    let ok = hash.len() == 11 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if ok {
        Ok(hash)
    } else {
        Err(ApiError::invalid(
            "app_hash",
            "Field `app_hash` must be the 11-character SMS Retriever hash of your Android app (letters, digits, + and /).",
        ))
    }
}

/// A host name as WebOTP wants it: ASCII (punycode for other scripts), no scheme, port or path.
fn check_domain(domain: &str) -> Result<String, ApiError> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if d.len() <= 253 && d.contains('.') && d.split('.').all(label_ok) {
        Ok(d)
    } else {
        Err(ApiError::invalid(
            "web_otp_domain",
            "Field `web_otp_domain` must be a domain name such as example.com (no https://, port or path; punycode for non-Latin names).",
        ))
    }
}

/// Seconds until `at`, rounded up, at least 1.
fn seconds_until(at: NaiveDateTime, now: NaiveDateTime) -> u64 {
    let ms = (at - now).num_milliseconds().max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

/// The abuse limits: per recipient and purpose (1 in 30 s, 5 in 10 minutes), per account
/// (the plan's hourly ceiling). Counted from stored codes, so they hold across restarts and
/// server instances; run inside the writer, so concurrent sends cannot both slip through.
fn check_limits(
    conn: &mut DbConnection,
    account: &Account,
    to: &str,
    purpose: Purpose,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let window = Duration::seconds(WINDOW_SECS);
    let recent = queries::recent_sends(conn, &account.id, to, purpose.as_str(), now - window)?;
    if let Some(last) = recent.first()
        && *last > now - Duration::seconds(MIN_GAP_SECS)
    {
        return Err(ApiError::RateLimited {
            retry_after: seconds_until(*last + Duration::seconds(MIN_GAP_SECS), now),
            limit: 1,
            window_secs: MIN_GAP_SECS as u64,
            scope: "for this number and purpose (one code every 30 s)",
        });
    }
    if recent.len() >= WINDOW_SENDS
        && let Some(oldest_counted) = recent.get(WINDOW_SENDS - 1)
    {
        return Err(ApiError::RateLimited {
            retry_after: seconds_until(*oldest_counted + window, now),
            limit: WINDOW_SENDS as u32,
            window_secs: WINDOW_SECS as u64,
            scope: "for this number and purpose (5 codes every 10 minutes)",
        });
    }
    if let Some(per_hour) = plans::for_account(&account.plan).limits.otp_per_hour {
        let hour = Duration::hours(1);
        let (count, oldest) = queries::account_sends(conn, &account.id, now - hour)?;
        if count >= i64::from(per_hour) {
            return Err(ApiError::RateLimited {
                retry_after: oldest.map_or(60, |t| seconds_until(t + hour, now)),
                limit: per_hour,
                window_secs: 3600,
                scope: "for this account's one-time codes (its plan's hourly ceiling, see GET /v1/account)",
            });
        }
    }
    Ok(())
}

/// Sends a one-time code by SMS, in the OTP lane (ahead of every other message).
#[utoipa::path(
    tag = "otp",
    security(("bearer" = []), ("api_key" = [])),
    request_body = SendOtpRequest,
    responses(
        (status = 201, description = "The code is stored (as an HMAC only) and its SMS queued.", body = SendOtpResponse,
            headers(("Location" = String, description = "`/v1/otp/{otp_id}`"))),
        (status = 402, description = "`subscription_expired`: renew the subscription to send again.", body = relay_protocol::ErrorEnvelope),
        (status = 409, description = "`queue_blocked`: the queue is paused or no usable device remains.", body = relay_protocol::ErrorEnvelope),
        (status = 422, description = "`invalid_device`: the device is not this account's, or is disabled.", body = relay_protocol::ErrorEnvelope),
        (status = 429, description = "`rate_limited`: one code per number and purpose every 30 s, 5 every 10 minutes, and the plan's hourly ceiling; `error.retry_after` says when to try again.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/otp/send")]
pub async fn send_otp(
    sender: SendCaller,
    state: web::Data<AppState>,
    body: ApiJson<SendOtpRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let prepared = prepare(&sender.caller.account, &request, &state.otp_secret)?;
    let key_hash = sender.key_hash;
    let (response, revoke) = state
        .db
        .write(move |conn| -> Result<(SendOtpResponse, Vec<(String, String)>), ApiError> {
            let Prepared { otp, message, purpose, expires_in } = prepared;
            let account = auth::recheck(conn, &key_hash)?;
            if let Some(device_id) = &message.requested_device_id {
                check_device(conn, &account.id, device_id)?;
            }
            check_queue_open(conn, &account)?;
            let now = time::now();
            check_limits(conn, &account, &otp.to_number, purpose, now)?;
            // The newest code is the only one that counts: older pending ones are cancelled,
            // and so is their SMS while no phone holds it yet.
            let mut revoke = Vec::new();
            for message_id in queries::supersede(conn, &account.id, &otp.to_number, &otp.purpose, now)? {
                if let Canceled::Done(Some(device)) =
                    messages::cancel(conn, &account.id, &message_id, "replaced by a newer one-time code")?
                {
                    revoke.push((device, message_id));
                }
            }
            messages::insert(conn, std::slice::from_ref(&message))?;
            queries::insert(conn, &otp)?;
            let response = SendOtpResponse {
                ok: true,
                otp_id: otp.id,
                status: "sent".into(),
                expires_in_seconds: expires_in,
                request_id: message.id,
                to: otp.to_number,
                expires_at: otp.expires_at.into(),
            };
            Ok((response, revoke))
        })
        .await?;
    for (device, request_id) in revoke {
        state.hub.send(&device, relay_protocol::frames::ServerFrame::Revoke { request_id, reason: "canceled".into() });
        state.hub.finished(&device);
    }
    state.hub.wake();
    tracing::info!(otp_id = %response.otp_id, request_id = %response.request_id, "OTP queued");
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/v1/otp/{}", response.otp_id)))
        .json(response))
}

/// The code as typed, reduced to ASCII digits: other scripts' digits are read as digits, and
/// spaces and dashes are dropped. `None` when anything else is in it.
fn normalize_code(code: &str) -> Option<String> {
    let mut out = String::with_capacity(code.len());
    for c in code.chars() {
        let value = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            '\u{660}'..='\u{669}' => u32::from(c) - 0x660,
            '\u{6f0}'..='\u{6f9}' => u32::from(c) - 0x6f0,
            '\u{966}'..='\u{96f}' => u32::from(c) - 0x966,
            '\u{9e6}'..='\u{9ef}' => u32::from(c) - 0x9e6,
            ' ' | '-' | '\u{a0}' => continue,
            _ => return None,
        };
        out.push(char::from_digit(value, 10)?);
    }
    Some(out)
}

fn failed(otp: &Otp, reason: FailReason, remaining: i32) -> VerifyOtpResponse {
    VerifyOtpResponse {
        ok: true,
        otp_id: otp.id.clone(),
        status: VerifyStatus::Failed,
        attempts_remaining: remaining,
        reason: Some(reason),
    }
}

/// The answer for a code that is no longer open to attempts.
fn closed(conn: &mut DbConnection, otp: &Otp, now: NaiveDateTime) -> Result<VerifyOtpResponse, ApiError> {
    Ok(match otp.status_at(now) {
        OtpStatus::Expired => {
            queries::mark_expired(conn, &otp.id, now)?;
            VerifyOtpResponse {
                ok: true,
                otp_id: otp.id.clone(),
                status: VerifyStatus::Expired,
                attempts_remaining: 0,
                reason: None,
            }
        }
        OtpStatus::Verified => failed(otp, FailReason::AlreadyVerified, 0),
        OtpStatus::Canceled => failed(otp, FailReason::Superseded, 0),
        OtpStatus::Failed | OtpStatus::Pending => failed(otp, FailReason::AttemptsExhausted, 0),
    })
}

/// Checks a code. Every answer is 200: `success`, `failed` (with `reason` and the attempts
/// left) or `expired`. A code verifies once; 5 wrong attempts spend it.
#[utoipa::path(
    tag = "otp",
    security(("bearer" = []), ("api_key" = [])),
    request_body = VerifyOtpRequest,
    responses(
        (status = 200, description = "The outcome of this attempt.", body = VerifyOtpResponse),
        (status = 402, description = "`subscription_expired`: renew the subscription.", body = relay_protocol::ErrorEnvelope),
        (status = 404, description = "`not_found`: this account has no such OTP.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/otp/verify")]
pub async fn verify_otp(
    sender: Sender,
    state: web::Data<AppState>,
    body: ApiJson<VerifyOtpRequest>,
) -> Result<web::Json<VerifyOtpResponse>, ApiError> {
    let request = body.into_inner();
    let code = normalize_code(&request.code)
        .filter(|c| (1..=10).contains(&c.len()))
        .ok_or_else(|| ApiError::invalid("code", "Field `code` must be the code's digits (up to 10)."))?;
    let account_id = sender.0.account.id;
    let secret = state.otp_secret.clone();
    let answer = state
        .db
        .write(move |conn| -> Result<VerifyOtpResponse, ApiError> {
            let otp = queries::find(conn, &account_id, &request.otp_id)?
                .ok_or_else(|| ApiError::NotFound("This account has no OTP with that id.".into()))?;
            // Compared in constant time, and always, whatever the code's state.
            let matched = secret.matches(&otp.id, &code, &otp.code_hash);
            let now = time::now();
            let Some((status, attempts, max)) = queries::attempt(conn, &otp.id, matched, now)? else {
                return closed(conn, &otp, now);
            };
            let remaining = (max - attempts).max(0);
            Ok(match OtpStatus::parse(&status) {
                OtpStatus::Verified => {
                    crate::webhooks::record(conn, &account_id, crate::webhooks::EventType::OtpVerified, |_| {
                        Ok(serde_json::json!({
                            "otp_id": otp.id,
                            "request_id": otp.message_id,
                            "to": otp.to_number,
                            "purpose": otp.purpose,
                            "attempts": attempts,
                        }))
                    })?;
                    VerifyOtpResponse {
                        ok: true,
                        otp_id: otp.id,
                        status: VerifyStatus::Success,
                        attempts_remaining: 0,
                        reason: None,
                    }
                }
                _ => failed(&otp, FailReason::WrongCode, remaining),
            })
        })
        .await?;
    tracing::info!(otp_id = %answer.otp_id, status = ?answer.status, reason = ?answer.reason, "OTP verification");
    Ok(web::Json(answer))
}

/// An OTP's state and its SMS's delivery. The code itself is never shown.
#[utoipa::path(
    tag = "otp",
    security(("bearer" = []), ("api_key" = [])),
    params(("otp_id" = String, Path, description = "The `otp_…` id from the send.")),
    responses((status = 200, description = "The OTP.", body = OtpView))
)]
#[get("/v1/otp/{otp_id}")]
pub async fn get_otp(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<OtpView>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let found = state
        .db
        .run(move |conn| queries::find_with_delivery(conn, &account_id, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::NotFound("This account has no OTP with that id.".into()))?;
    let (otp, delivery_status, failure_code, failure_reason) = found;
    Ok(web::Json(OtpView {
        ok: true,
        status: otp.status_at(time::now()),
        attempts_remaining: otp.attempts_remaining(),
        otp_id: otp.id,
        purpose: otp.purpose,
        locale: otp.locale,
        to: otp.to_number,
        created_at: otp.created_at.into(),
        expires_at: otp.expires_at.into(),
        verified_at: otp.verified_at.map(Into::into),
        attempts: otp.attempts,
        max_attempts: otp.max_attempts,
        request_id: otp.message_id,
        delivery_status,
        delivery_failure: failure_code.map(|code| FailureView {
            reason: failure_reason.unwrap_or_else(|| relay_protocol::failure::reason(&code)),
            code,
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_are_read_in_any_of_the_supported_scripts() {
        assert_eq!(normalize_code("482913").as_deref(), Some("482913"));
        assert_eq!(normalize_code("482 913").as_deref(), Some("482913"));
        assert_eq!(normalize_code("۴۸۲۹۱۳").as_deref(), Some("482913"));
        assert_eq!(normalize_code("٤٨٢٩١٣").as_deref(), Some("482913"));
        assert_eq!(normalize_code("४८२९१३").as_deref(), Some("482913"));
        assert_eq!(normalize_code("৪৮২৯১৩").as_deref(), Some("482913"));
        assert_eq!(normalize_code("48291x"), None);
    }

    #[test]
    fn domains_and_hashes_are_checked() {
        assert_eq!(check_domain("Example.COM").unwrap(), "example.com");
        assert!(check_domain("https://example.com").is_err());
        assert!(check_domain("example.com:443").is_err());
        assert!(check_domain("localhost").is_err());
        assert!(check_app_hash("FA+9qCX9VSu").is_ok());
        assert!(check_app_hash("FA+9qCX9VS").is_err());
        assert!(check_app_hash("FA+9qCX9VS!").is_err());
    }
}
