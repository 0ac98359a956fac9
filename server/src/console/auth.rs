//! Console credentials: Argon2id passwords, sessions known only by their hash, CSRF tokens.

use std::num::NonZeroU32;
use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Duration;
use diesel::prelude::*;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::accounts::Account;
use crate::db::schema::{accounts, console_logins, console_sessions};
use crate::db::{DbConnection, StoreError, write_transaction};
use crate::secrets;
use crate::state::AppState;
use crate::time;

pub const SESSION_COOKIE: &str = "relay_session";
/// Before sign-in there is no session to bind a CSRF token to: the login form's token is
/// also set as a cookie, and the two must match (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "relay_login_csrf";
/// A session lasts a working day; signing in again is cheap, a stolen cookie should not be.
const SESSION_HOURS: i64 = 12;
pub const MIN_PASSWORD_LEN: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not signed in")]
    SignedOut,
    #[error("the form's security token is missing or wrong; reload the page and try again")]
    Csrf,
    #[error("too many sign-in attempts from this address; wait a minute")]
    TooManyAttempts,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ConsoleError {
    fn from(e: diesel::result::Error) -> Self {
        ConsoleError::Store(e.into())
    }
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes): the OWASP baseline.
pub fn hash_password(password: &str) -> Result<String, ConsoleError> {
    let salt = SaltString::encode_b64(secrets::random_alnum(22).as_bytes())
        .map_err(|e| ConsoleError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConsoleError::Hashing(e.to_string()))
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Sets (or replaces) the account's console password.
pub fn set_password(conn: &mut DbConnection, account_id: &str, password: &str) -> Result<(), ConsoleError> {
    let hash = hash_password(password)?;
    write_transaction(conn, |conn| {
        let now = time::now();
        // (The multi-backend connection has no upsert: replace the row.)
        diesel::delete(console_logins::table.find(account_id)).execute(conn)?;
        diesel::insert_into(console_logins::table)
            .values((
                console_logins::account_id.eq(account_id),
                console_logins::password_hash.eq(&hash),
                console_logins::updated_at.eq(now),
            ))
            .execute(conn)?;
        // A new password ends every session opened with the old one.
        diesel::delete(console_sessions::table.filter(console_sessions::account_id.eq(account_id))).execute(conn)?;
        Ok(())
    })
}

/// Ten sign-in attempts a minute per address: enough for a person, hopeless for guessing.
static ATTEMPTS: LazyLock<DefaultKeyedRateLimiter<String>> =
    LazyLock::new(|| RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))));

pub fn count_attempt(client: &str) -> Result<(), ConsoleError> {
    ATTEMPTS.check_key(&client.to_owned()).map_err(|_| ConsoleError::TooManyAttempts)
}

/// The account whose email and password these are, if any. Suspended accounts cannot sign in.
pub fn check_login(conn: &mut DbConnection, email: &str, password: &str) -> Result<Option<Account>, ConsoleError> {
    let found = accounts::table
        .inner_join(console_logins::table)
        .filter(accounts::email.eq(email.trim()))
        .select((Account::as_select(), console_logins::password_hash))
        .first::<(Account, String)>(conn)
        .optional()?;
    Ok(found
        .filter(|(account, _)| account.status() != crate::accounts::AccountStatus::Suspended)
        .filter(|(_, phc)| password_matches(password, phc))
        .map(|(account, _)| account))
}

/// Opens a session: a fresh random id every time (never one the browser brought, so a
/// planted cookie cannot become a signed-in one). Returns the cookie value.
pub fn open_session(conn: &mut DbConnection, account_id: &str) -> Result<String, ConsoleError> {
    let raw = secrets::random_alnum(43);
    let now = time::now();
    diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::id_hash.eq(secrets::sha256_hex(&raw)),
            console_sessions::account_id.eq(account_id),
            console_sessions::created_at.eq(now),
            console_sessions::expires_at.eq(now + Duration::hours(SESSION_HOURS)),
        ))
        .execute(conn)?;
    Ok(raw)
}

pub fn close_session(conn: &mut DbConnection, raw: &str) -> Result<(), ConsoleError> {
    diesel::delete(console_sessions::table.find(secrets::sha256_hex(raw))).execute(conn)?;
    Ok(())
}

fn find_session(conn: &mut DbConnection, raw: &str) -> Result<Option<Account>, ConsoleError> {
    Ok(console_sessions::table
        .inner_join(accounts::table)
        .filter(console_sessions::id_hash.eq(secrets::sha256_hex(raw)))
        .filter(console_sessions::expires_at.gt(time::now()))
        .select(Account::as_select())
        .first(conn)
        .optional()?
        .filter(|a| a.status() != crate::accounts::AccountStatus::Suspended))
}

/// A signed-in person.
#[derive(Debug)]
pub struct Session {
    pub account: Account,
    raw: String,
}

impl Session {
    /// The CSRF token of this session's forms: an HMAC of the session id, so it needs no
    /// storage and is worthless without the (HttpOnly) cookie it is bound to.
    pub fn csrf_token(&self) -> String {
        csrf_for(&self.raw)
    }

    /// Compares in constant time (the MAC's own verification).
    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        let presented = hex::decode(presented).map_err(|_| ConsoleError::Csrf)?;
        csrf_mac(&self.raw).verify_slice(&presented).map_err(|_| ConsoleError::Csrf)
    }

    pub fn raw_id(&self) -> &str {
        &self.raw
    }
}

fn csrf_mac(raw: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(raw.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(b"relay console csrf v1");
    mac
}

fn csrf_for(raw: &str) -> String {
    hex::encode(csrf_mac(raw).finalize().into_bytes())
}

/// The login form's double-submit token.
pub fn new_login_token() -> String {
    secrets::random_alnum(32)
}

/// The session cookie. `Secure` whenever the server is reached over HTTPS.
pub fn session_cookie(state: &AppState, raw: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, raw.to_owned())
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .max_age(CookieDuration::hours(SESSION_HOURS))
        .finish()
}

pub fn login_token_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    Cookie::build(LOGIN_CSRF_COOKIE, token.to_owned())
        .path("/console/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .finish()
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "").path(path).finish();
    cookie.make_removal();
    cookie
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(raw), Some(state)) = (raw, state) else { return Err(ConsoleError::SignedOut) };
            let lookup = raw.clone();
            let account = state.db.run(move |conn| find_session(conn, &lookup)).await?;
            account.map(|account| Session { account, raw }).ok_or(ConsoleError::SignedOut)
        })
    }
}
