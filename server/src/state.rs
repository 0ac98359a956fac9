//! What every handler shares.

use std::sync::Arc;

use crate::auth::KeyCache;
use crate::db::Db;
use crate::keys::last_used::LastUsed;
use crate::link::{Hub, LinkSettings};
use crate::otp::secret::OtpSecret;
use crate::ratelimit::{PairLimits, RateLimits};
use crate::webhooks::deliver::DeliverySettings;
use crate::webhooks::secret::WebhookKey;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub limits: Arc<RateLimits>,
    pub pair_limits: Arc<PairLimits>,
    pub last_used: Arc<LastUsed>,
    pub key_cache: Arc<KeyCache>,
    pub hub: Arc<Hub>,
    pub settings: LinkSettings,
    /// The base URL the world reaches this server at, e.g. `https://sms.example.com`.
    pub public_url: Arc<str>,
    /// SHA-256 of our own TLS certificate, when we terminate TLS: phones pin it.
    pub tls_fingerprint: Option<Arc<str>>,
    /// The HMAC key OTP codes are stored under (never in the database).
    pub otp_secret: Arc<OtpSecret>,
    /// `serve --unsafe-test-clock`: exposes `POST /v1/test/clock/advance`. Tests only.
    pub test_clock: bool,
    /// The key webhook signing secrets are encrypted under (never in the database).
    pub webhook_key: Arc<WebhookKey>,
    /// Where webhooks may go and how they are retried.
    pub webhook_settings: DeliverySettings,
}

impl AppState {
    pub fn new(db: Db, public_url: &str) -> Self {
        let hub = Arc::new(Hub::default());
        let woken = hub.clone();
        db.on_queued(move || woken.wake());
        AppState {
            db,
            limits: Arc::new(RateLimits::default()),
            pair_limits: Arc::new(PairLimits::default()),
            last_used: Arc::new(LastUsed::default()),
            key_cache: Arc::new(KeyCache::default()),
            hub,
            settings: LinkSettings::default(),
            public_url: public_url.trim_end_matches('/').into(),
            tls_fingerprint: None,
            otp_secret: Arc::new(OtpSecret::ephemeral()),
            test_clock: false,
            webhook_key: Arc::new(WebhookKey::ephemeral()),
            webhook_settings: DeliverySettings::default(),
        }
    }
}
