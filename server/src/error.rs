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
