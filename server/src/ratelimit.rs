//! Per-key request rate limits: a token bucket (GCRA) per API key, sized by the account's plan.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;
use crate::plans::{self, Limits};

type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// One keyed limiter per plan, since a limiter has one quota for all its keys.
pub struct RateLimits {
    per_plan: HashMap<&'static str, (Limits, KeyedLimiter)>,
    clock: DefaultClock,
    /// Live server instances sharing the database (see `cluster`): each request costs this
    /// many cells, so N instances together never allow more than one key's quota.
    instances: AtomicU32,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").field("plans", &self.per_plan.len()).finish()
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        let per_plan = plans::PLANS
            .iter()
            .map(|plan| {
                let l = plan.limits;
                let quota = Quota::per_second(NonZeroU32::new(l.requests_per_second).unwrap_or(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::new(l.burst).unwrap_or(NonZeroU32::MIN));
                (plan.name, (l, RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()))
            })
            .collect();
        RateLimits { per_plan, clock: DefaultClock::default(), instances: AtomicU32::new(1) }
    }
}

/// What a caller has left after a request: sent back in the `RateLimit` headers of every
/// authenticated answer, so clients can slow down before they meet a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests allowed at once (the bucket's size).
    pub limit: u32,
    /// Requests still allowed at once.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

impl Allowance {
    /// `RateLimit-Policy` (the quota per one-second window) and `RateLimit` (the current state),
    /// as the IETF draft "RateLimit header fields for HTTP" spells them.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            ("ratelimit-policy", format!(r#""key";q={};w=1"#, self.limit)),
            ("ratelimit", format!(r#""key";r={};t={}"#, self.remaining, self.reset_secs)),
        ]
    }
}

impl RateLimits {
    /// Takes one token for `key_id`, or says how long to wait.
    pub fn check(&self, plan: &str, key_id: &str) -> Result<Option<Allowance>, ApiError> {
        let plan = plans::for_account(plan);
        let Some((limits, limiter)) = self.per_plan.get(plan.name) else {
            return Ok(None);
        };
        // A load balancer spreads a key's requests over the instances, so each one enforces its
        // share. (Uneven spreading makes the limit stricter, never looser.)
        let cost = self.instances.load(Ordering::Relaxed).clamp(1, limits.burst.max(1));
        let checked = match NonZeroU32::new(cost) {
            Some(n) => {
                limiter.check_key_n(&key_id.to_owned(), n).unwrap_or_else(|_| limiter.check_key(&key_id.to_owned()))
            }
            None => limiter.check_key(&key_id.to_owned()),
        };
        match checked {
            Ok(snapshot) => {
                let cells = snapshot.remaining_burst_capacity();
                let remaining = cells / cost;
                let used = limits.burst.saturating_sub(cells);
                let rate = limits.requests_per_second.max(1);
                Ok(Some(Allowance { limit: limits.burst, remaining, reset_secs: u64::from(used.div_ceil(rate)) }))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(ApiError::RateLimited {
                    retry_after: retry_after.max(1),
                    limit: limits.burst,
                    window_secs: 1,
                    scope: "for this API key",
                })
            }
        }
    }

    /// How many server instances share the database now (at least 1).
    pub fn set_instances(&self, n: u32) {
        self.instances.store(n.max(1), Ordering::Relaxed);
    }

    /// Forgets keys whose buckets are full again, so idle keys cost no memory.
    pub fn forget_idle(&self) {
        for (_, limiter) in self.per_plan.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

type IpLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Pairing attempts per client address: a pairing code is a credential, so guessing is slowed
/// to 10 tries a minute (bursts of 10) — hopeless against 40-bit codes that live 10 minutes.
pub struct PairLimits {
    limiter: IpLimiter,
    clock: DefaultClock,
}

impl std::fmt::Debug for PairLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairLimits")
    }
}

impl Default for PairLimits {
    fn default() -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN));
        PairLimits { limiter: RateLimiter::keyed(quota), clock: DefaultClock::default() }
    }
}

impl PairLimits {
    pub fn check(&self, client: &str) -> Result<(), ApiError> {
        self.limiter.check_key(&client.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                retry_after: wait.as_secs().max(1),
                limit: 10,
                window_secs: 60,
                scope: "to pair devices from this address (10 a minute)",
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_plan_is_refused_with_a_wait() {
        let limits = RateLimits::default();
        let burst = plans::for_account("starter").limits.burst;
        for _ in 0..burst {
            limits.check("starter", "key_a").unwrap();
        }
        match limits.check("starter", "key_a") {
            Err(ApiError::RateLimited { retry_after, .. }) => assert!(retry_after >= 1),
            other => panic!("expected rate_limited, got {other:?}"),
        }
        // Another key has its own bucket.
        limits.check("starter", "key_b").unwrap();
    }
}
