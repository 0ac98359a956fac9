//! The one error type of the HTTP API and its one mapping to responses.
//!
//! Every failure a client can see — from a handler, an extractor, the router's fallback or the
//! JSON decoder — becomes an [`ApiError`], and only [`ResponseError`] below turns it into
//! `{"ok": false, "error": {"code", "message"}}` with the right status and headers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use relay_protocol::{ErrorBody, ErrorEnvelope};

use crate::db::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("This account's subscription expired on {expires_at}; renew it to send again.")]
    SubscriptionExpired { expires_at: String },
    #[error("{message}")]
    InvalidRequest { message: String, field: Option<String> },
    #[error("{0}")]
    NotFound(String),
    #[error("The method {method} is not allowed here; this path accepts {}.", allow.join(", "))]
    MethodNotAllowed { method: String, allow: Vec<String> },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    QueueBlocked(String),
    #[error("{0}")]
    RecipientOptedOut(String),
    #[error("{0}")]
    InvalidDevice(String),
    /// A well-formed request that cannot be carried out as asked (422), naming the field.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String, field: &'static str },
    #[error("Too many requests {scope}; try again in {retry_after} s.")]
    RateLimited { retry_after: u64, limit: u32, window_secs: u64, scope: &'static str },
    #[error("The request body is larger than the {limit} bytes this endpoint accepts.")]
    PayloadTooLarge { limit: usize },
    #[error("The service is temporarily unavailable; try again shortly.")]
    Unavailable { detail: String },
    #[error("Something went wrong on our side; the trace id in X-Trace-Id identifies it.")]
    Internal { detail: String },
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest { message: message.into(), field: Some(field.into()) }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::SubscriptionExpired { .. } => "subscription_expired",
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::QueueBlocked(_) => "queue_blocked",
            ApiError::RecipientOptedOut(_) => "recipient_opted_out",
            ApiError::InvalidDevice(_) => "invalid_device",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal { .. } => "internal",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            ApiError::Unavailable { .. } => Some(1),
            _ => None,
        }
    }

    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            ok: false,
            error: ErrorBody {
                code: self.code().to_owned(),
                message: self.to_string(),
                field: match self {
                    ApiError::InvalidRequest { field, .. } => field.clone(),
                    ApiError::Unprocessable { field, .. } => Some((*field).to_owned()),
                    _ => None,
                },
                retry_after: self.retry_after(),
            },
        }
    }
}

/// One `error.code` as the developer portal's table shows it: when it happens and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    pub status: u16,
    pub when: &'static str,
    pub what_to_do: &'static str,
}

/// Every `error.code` the API answers (a unit test below keeps it complete).
pub const CODES: &[CodeInfo] = &[
    CodeInfo {
        code: "invalid_request",
        status: 400,
        when: "Malformed JSON, a wrong type, an unknown or missing field, a bad parameter.",
        what_to_do: "Fix the request: `error.field` names the field and `error.message` says what is wrong. Do not retry unchanged.",
    },
    CodeInfo {
        code: "recipient_opted_out",
        status: 400,
        when: "POST /v1/messages to a number the directory marks opted out.",
        what_to_do: "Do not send to this person. If they opt back in, PATCH the recipient with {\"opted_out\": false}. One-time codes still go.",
    },
    CodeInfo {
        code: "unauthorized",
        status: 401,
        when: "No API key, a wrong or revoked key, or a suspended account.",
        what_to_do: "Send `Authorization: Bearer <key>` (or `X-API-Key`) with a live key; create a new key in the console if it was revoked.",
    },
    CodeInfo {
        code: "subscription_expired",
        status: 402,
        when: "Sending, OTP or bulk after the subscription's `expires_at`.",
        what_to_do: "Renew the subscription (GET /v1/account shows `expires_at`); reading and the rest of the API keep working.",
    },
    CodeInfo {
        code: "not_found",
        status: 404,
        when: "No such path, or no such object in this account.",
        what_to_do: "Check the path against the API reference and the id's prefix; ids of another account are never visible.",
    },
    CodeInfo {
        code: "method_not_allowed",
        status: 405,
        when: "The path exists with other methods.",
        what_to_do: "Use one of the methods the `Allow` header lists.",
    },
    CodeInfo {
        code: "conflict",
        status: 409,
        when: "The request clashes with the current state (a reused Idempotency-Key with another body, a number already in the directory, cancelling a message a phone already has).",
        what_to_do: "Read the current state (the message names it) and decide; retrying the same request gives the same answer.",
    },
    CodeInfo {
        code: "queue_blocked",
        status: 409,
        when: "The account's queue is paused, or no paired phone is usable.",
        what_to_do: "GET /v1/queue says why: resume it (POST /v1/queue/resume), or bring a phone online and enable it (console → Devices).",
    },
    CodeInfo {
        code: "payload_too_large",
        status: 413,
        when: "The body exceeds the endpoint's limit (256 KiB; 16 MB for bulk and imports).",
        what_to_do: "Send less per request: split a bulk send or an import into several.",
    },
    CodeInfo {
        code: "invalid_device",
        status: 422,
        when: "`device_id` is not this account's, or the device is disabled.",
        what_to_do: "Leave `device_id` out to let Relay choose, or pick an enabled device from GET /v1/devices.",
    },
    CodeInfo {
        code: "invalid_webhook_url",
        status: 422,
        when: "A webhook URL that is malformed or resolves to a private address.",
        what_to_do: "Use a public https:// URL (an operator with private receivers starts the server with --allow-private-webhooks).",
    },
    CodeInfo {
        code: "unknown_event",
        status: 422,
        when: "A webhook subscription names an event type that does not exist.",
        what_to_do: "Use the event types listed in the portal's Webhooks section, or [\"*\"] for all.",
    },
    CodeInfo {
        code: "rate_limited",
        status: 429,
        when: "The key is over its plan's rate, or OTP sends to one number are too frequent.",
        what_to_do: "Wait `Retry-After` seconds (also `error.retry_after`) and retry; spread traffic, or move to a larger plan.",
    },
    CodeInfo {
        code: "internal",
        status: 500,
        when: "A failure on the server's side.",
        what_to_do: "Retry later with the same Idempotency-Key; if it persists, give the operator the `X-Trace-Id` of the response.",
    },
    CodeInfo {
        code: "unavailable",
        status: 503,
        when: "Storage is unreachable for the moment.",
        what_to_do: "Retry after `Retry-After` (1 s) with the same Idempotency-Key, backing off.",
    },
    CodeInfo {
        code: "not_ready",
        status: 503,
        when: "GET /v1/readiness: this account cannot carry traffic right now.",
        what_to_do: "The message names each failing check (key, subscription, devices, queue): fix those, e.g. bring a phone online.",
    },
];

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => ApiError::Unavailable { detail },
            other => ApiError::Internal { detail: other.to_string() },
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::SubscriptionExpired { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::InvalidRequest { .. } | ApiError::RecipientOptedOut(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::QueueBlocked(_) => StatusCode::CONFLICT,
            ApiError::InvalidDevice(_) | ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Details of server-side failures go to the log, never to the client.
        match self {
            ApiError::Internal { detail } => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable { detail } => tracing::warn!(%detail, "storage unavailable"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="relay""#));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                res.insert_header((header::ALLOW, allow.join(", ")));
            }
            ApiError::RateLimited { retry_after, limit, window_secs, .. } => {
                // IETF draft "RateLimit header fields for HTTP": the policy and the current state.
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
                res.insert_header(("RateLimit-Policy", format!(r#""key";q={limit};w={window_secs}"#)));
                res.insert_header(("RateLimit", format!(r#""key";r=0;t={retry_after}"#)));
            }
            ApiError::Unavailable { .. } => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        res.json(self.envelope())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every variant: a new variant must be added here (the match below will not compile
    /// without it), and so to [`CODES`].
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::Unauthorized("x".into()),
            ApiError::SubscriptionExpired { expires_at: "x".into() },
            ApiError::invalid("f", "x"),
            ApiError::NotFound("x".into()),
            ApiError::MethodNotAllowed { method: "PUT".into(), allow: vec!["GET".into()] },
            ApiError::Conflict("x".into()),
            ApiError::QueueBlocked("x".into()),
            ApiError::RecipientOptedOut("x".into()),
            ApiError::InvalidDevice("x".into()),
            ApiError::Unprocessable { code: "invalid_webhook_url", message: "x".into(), field: "url" },
            ApiError::RateLimited { retry_after: 1, limit: 1, window_secs: 1, scope: "x" },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::Unavailable { detail: "x".into() },
            ApiError::Internal { detail: "x".into() },
        ];
        for e in &all {
            match e {
                ApiError::Unauthorized(_)
                | ApiError::SubscriptionExpired { .. }
                | ApiError::InvalidRequest { .. }
                | ApiError::NotFound(_)
                | ApiError::MethodNotAllowed { .. }
                | ApiError::Conflict(_)
                | ApiError::QueueBlocked(_)
                | ApiError::RecipientOptedOut(_)
                | ApiError::InvalidDevice(_)
                | ApiError::Unprocessable { .. }
                | ApiError::RateLimited { .. }
                | ApiError::PayloadTooLarge { .. }
                | ApiError::Unavailable { .. }
                | ApiError::Internal { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_error_code_has_a_row_with_its_status_and_advice() {
        for e in one_of_each() {
            let row = CODES.iter().find(|c| c.code == e.code());
            let row = row.unwrap_or_else(|| panic!("{} has no row in CODES", e.code()));
            assert_eq!(row.status, e.status_code().as_u16(), "{}", row.code);
        }
        for row in CODES {
            assert!(row.when.len() > 10 && row.what_to_do.len() > 10, "{} needs `when` and `what_to_do`", row.code);
            assert_eq!(CODES.iter().filter(|c| c.code == row.code).count(), 1, "{} twice", row.code);
        }
    }

    /// Codes written as literals (for `Unprocessable`, and readiness's `not_ready`) are
    /// found in the source, so a new one cannot miss the table.
    #[test]
    fn every_literal_error_code_in_the_source_has_a_row() {
        fn scan(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    scan(&path, found);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let lines: Vec<&str> = text.lines().collect();
                    for (i, line) in lines.iter().enumerate() {
                        let context = lines[i.saturating_sub(2)..=i].join(" ");
                        let is_error = context.contains("Unprocessable {") || context.contains("ErrorBody {");
                        if let (true, Some(rest)) = (is_error, line.split("code: \"").nth(1)) {
                            found.push(rest.split('"').next().unwrap().to_owned());
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        scan(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        assert!(found.iter().any(|c| c == "unknown_event") && found.iter().any(|c| c == "not_ready"), "{found:?}");
        for code in found {
            assert!(CODES.iter().any(|c| c.code == code), "the literal error code {code} has no row in CODES");
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_message() {
        let e = ApiError::Internal { detail: "table accounts is corrupt".into() };
        let body = e.envelope();
        assert_eq!(body.error.code, "internal");
        assert!(!body.error.message.contains("corrupt"));
    }

    #[test]
    fn pool_exhaustion_is_unavailable_not_internal() {
        let e: ApiError = StoreError::Unavailable("timed out".into()).into();
        assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.envelope().error.retry_after, Some(1));
    }
}
