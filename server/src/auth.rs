//! Who is calling: the API key extractors.
//!
//! [`Caller`] accepts any live key of an active (not suspended) account, and takes one token
//! from the key's rate limit. [`Sender`] additionally requires a current subscription; every
//! traffic endpoint (sending, OTP, bulk) takes a `Sender`, so an expired account gets
//! `subscription_expired` there while `/v1/account` still shows it its expiry.
//!
//! [`SendCaller`] is the hot path's `Sender`: it checks the key against a short-lived memory
//! copy, so a send needs no database read before it reaches the group-commit writer, and the
//! writer confirms the key with [`recheck`] inside the very transaction that stores the
//! message. A key revoked or an account suspended a moment ago is refused all the same.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::accounts::{Account, AccountStatus};
use crate::db::DbConnection;
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

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal { detail: "application state missing".into() })
}

/// The SHA-256 of the presented key: what the database stores.
fn presented_hash(req: &HttpRequest) -> Result<String, ApiError> {
    let key = presented_key(req)?;
    if !secret::looks_like_key(&key) {
        return Err(ApiError::Unauthorized(INVALID.to_owned()));
    }
    Ok(secret::hash(&key))
}

/// A found key must exist and belong to an account that is not suspended.
fn admit(found: Option<(crate::keys::models::ApiKey, Account)>) -> Result<Caller, ApiError> {
    let Some((key, account)) = found else {
        return Err(ApiError::Unauthorized(INVALID.to_owned()));
    };
    refuse_suspended(account.status())?;
    Ok(Caller { account, key_id: key.id })
}

fn refuse_suspended(status: AccountStatus) -> Result<(), ApiError> {
    if status == AccountStatus::Suspended {
        return Err(ApiError::Unauthorized(
            "This account is suspended; its API keys are disabled until the operator resumes it.".to_owned(),
        ));
    }
    Ok(())
}

fn refuse_expired(expires_at: chrono::NaiveDateTime) -> Result<(), ApiError> {
    if expires_at <= time::now() {
        return Err(ApiError::SubscriptionExpired { expires_at: Timestamp(expires_at).rfc3339() });
    }
    Ok(())
}

fn require_subscription(caller: Caller) -> Result<Sender, ApiError> {
    refuse_expired(caller.account.expires_at)?;
    Ok(Sender(caller))
}

/// Takes a rate-limit token and notes the key's use. What is left of the allowance rides on
/// the request, for the `RateLimit` headers of the answer.
fn count_use(req: &HttpRequest, state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if let Some(allowance) = state.limits.check(&caller.account.plan, &caller.key_id)? {
        req.extensions_mut().insert(allowance);
    }
    state.last_used.touch(&caller.key_id, time::now());
    Ok(())
}

async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = app_state(&req)?;
    let hash = presented_hash(&req)?;
    let found = state.db.run(move |conn| queries::find_live_by_hash(conn, &hash).map_err(ApiError::from)).await?;
    let caller = admit(found)?;
    count_use(&req, &state, &caller)?;
    Ok(caller)
}

/// Inside a write transaction: the key is still live, its account active and paid up.
/// Returns the account as it is now.
pub fn recheck(conn: &mut DbConnection, key_hash: &str) -> Result<Account, ApiError> {
    let caller = admit(queries::find_live_by_hash(conn, key_hash)?)?;
    Ok(require_subscription(caller)?.0.account)
}

/// [`recheck`] for a send, with the send's own checks read in the same statement.
pub fn recheck_for_send(
    conn: &mut DbConnection,
    key_hash: &str,
    to: &str,
) -> Result<(queries::SendAccount, queries::SendChecks), ApiError> {
    let (account, checks) =
        queries::find_for_send(conn, key_hash, to)?.ok_or_else(|| ApiError::Unauthorized(INVALID.to_owned()))?;
    refuse_suspended(AccountStatus::parse(&account.status))?;
    refuse_expired(account.expires_at)?;
    Ok((account, checks))
}

/// A sender as recently seen, and the key hash the writer re-checks.
#[derive(Debug, Clone)]
pub struct SendCaller {
    pub caller: Caller,
    pub key_hash: String,
}

/// Recently seen keys, so a send reads nothing before the writer. Only ever a first check:
/// the authoritative one is [`recheck`].
#[derive(Debug, Default)]
pub struct KeyCache {
    seen: Mutex<HashMap<String, (Instant, Caller)>>,
}

/// How long a remembered key's account (plan, default region) may be used for a send.
const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Past this many remembered keys, start afresh: bounds memory whatever callers present.
const KEY_CACHE_MAX: usize = 10_000;

impl KeyCache {
    fn get(&self, hash: &str) -> Option<Caller> {
        let seen = self.seen.lock().ok()?;
        seen.get(hash).filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL).map(|(_, c)| c.clone())
    }

    /// Drops the account's remembered keys: its next send reads the account afresh (after
    /// `PATCH /v1/account`, a new `default_region` applies at once on this instance).
    pub fn forget_account(&self, account_id: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|_, (_, caller)| caller.account.id != account_id);
        }
    }

    fn put(&self, hash: String, caller: Caller) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= KEY_CACHE_MAX {
                seen.clear();
            }
            seen.insert(hash, (Instant::now(), caller));
        }
    }
}

async fn authenticate_send(req: HttpRequest) -> Result<SendCaller, ApiError> {
    let state = app_state(&req)?;
    let key_hash = presented_hash(&req)?;
    let caller = match state.key_cache.get(&key_hash) {
        Some(caller) => caller,
        None => {
            let hash = key_hash.clone();
            let found =
                state.db.run(move |conn| queries::find_live_by_hash(conn, &hash).map_err(ApiError::from)).await?;
            let caller = admit(found)?;
            state.key_cache.put(key_hash.clone(), caller.clone());
            caller
        }
    };
    let caller = require_subscription(caller)?.0;
    count_use(&req, &state, &caller)?;
    Ok(SendCaller { caller, key_hash })
}

impl FromRequest for SendCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate_send(req.clone()))
    }
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
        Box::pin(async move { require_subscription(authenticate(req).await?) })
    }
}
