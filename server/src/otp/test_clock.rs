//! FOR TESTS ONLY: `POST /v1/test/clock/advance` moves the server's clock forward, so tests
//! can pass an OTP's (or a message's) expiry without sleeping for minutes. It exists only when
//! the server runs with the hidden `serve --unsafe-test-clock` flag, is not in the OpenAPI
//! document, and must never be enabled on a server that carries real traffic.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::time::{self, Timestamp};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    pub seconds: i64,
}

pub async fn advance(body: ApiJson<Advance>) -> Result<HttpResponse, ApiError> {
    let seconds = body.into_inner().seconds;
    if !(0..=30 * 86_400).contains(&seconds) {
        return Err(ApiError::invalid("seconds", "Field `seconds` must be between 0 and 2592000 (30 days)."));
    }
    let offset = time::advance_for_tests(seconds);
    tracing::warn!(seconds, offset, "test clock advanced");
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "ok": true,
        "offset_seconds": offset,
        "now": Timestamp(time::now()).rfc3339(),
    })))
}

/// Registers the route (only called when the flag is on).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/test/clock/advance", web::post().to(advance));
}
