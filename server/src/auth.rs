//! Who is calling: the API key extractors.
//!
//! [`Caller`] accepts any live key of an active (not suspended) account, and takes one token
//! from the key's rate limit. [`Sender`] additionally requires a current subscription; every
//! traffic endpoint (sending, OTP, bulk) takes a `Sender`, so an expired account gets
//! `subscription_expired` there while `/v1/account` still shows it its expiry.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::accounts::{Account, AccountStatus};
use crate::error::ApiError;
use crate::keys::{queries, secret};
use crate::state::AppState;
use crate::time::{self, Timestamp};

#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    pub key_id: String,
}

#[derive(Debug, Clone)]
pub struct Sender(pub Caller);

const MISSING: &str = "An API key is required: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.";
const INVALID: &str = "This API key is not valid: it may be mistyped or revoked.";

/// The key from `Authorization: Bearer …` or `X-API-Key: …`.
fn presented_key(req: &HttpRequest) -> Result<String, ApiError> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let header_key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
    bearer
        .or(header_key)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Unauthorized(MISSING.to_owned()))
}

async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal { detail: "application state missing".into() })?
        .clone();
    let key = presented_key(&req)?;
    if !secret::looks_like_key(&key) {
        return Err(ApiError::Unauthorized(INVALID.to_owned()));
    }
    let hash = secret::hash(&key);
    let found = state.db.run(move |conn| queries::find_live_by_hash(conn, &hash).map_err(ApiError::from)).await?;
    let Some((key, account)) = found else {
        return Err(ApiError::Unauthorized(INVALID.to_owned()));
    };
    if account.status() == AccountStatus::Suspended {
        return Err(ApiError::Unauthorized(
            "This account is suspended; its API keys are disabled until the operator resumes it.".to_owned(),
        ));
    }
    state.limits.check(&account.plan, &key.id)?;
    state.last_used.touch(&key.id, time::now());
    Ok(Caller { account, key_id: key.id })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

impl FromRequest for Sender {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req).await?;
            if !caller.account.subscription_active() {
                return Err(ApiError::SubscriptionExpired {
                    expires_at: Timestamp(caller.account.expires_at).rfc3339(),
                });
            }
            Ok(Sender(caller))
        })
    }
}
