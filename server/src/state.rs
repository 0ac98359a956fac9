//! What every handler shares.

use std::sync::Arc;

use crate::db::Db;
use crate::keys::last_used::LastUsed;
use crate::ratelimit::RateLimits;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub limits: Arc<RateLimits>,
    pub last_used: Arc<LastUsed>,
    /// The base URL the world reaches this server at, e.g. `https://sms.example.com`.
    pub public_url: Arc<str>,
}

impl AppState {
    pub fn new(db: Db, public_url: &str) -> Self {
        AppState {
            db,
            limits: Arc::new(RateLimits::default()),
            last_used: Arc::new(LastUsed::default()),
            public_url: public_url.trim_end_matches('/').into(),
        }
    }
}
