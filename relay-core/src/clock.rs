//! Wall-clock helpers. The store keeps Unix milliseconds (easy arithmetic for pacing and
//! backoff); the wire carries RFC 3339.

use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn rfc3339_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether an RFC 3339 `expires_at` lies at or before `now_ms`. An unreadable time is
/// treated as "no expiry" (and logged): refusing to send on a server typo would lose the
/// message, while the server still revokes what it considers expired.
pub(crate) fn is_expired(expires_at: &str, now_ms: i64) -> bool {
    match DateTime::parse_from_rfc3339(expires_at) {
        Ok(t) => t.timestamp_millis() <= now_ms,
        Err(e) => {
            tracing::warn!(expires_at, error = %e, "unreadable expires_at; sending anyway");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_compares_instants_across_offsets() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z").unwrap().timestamp_millis();
        assert!(is_expired("2026-01-01T11:59:59Z", now));
        assert!(is_expired("2026-01-01T16:59:59+05:00", now));
        assert!(!is_expired("2026-01-01T12:00:01Z", now));
        assert!(!is_expired("not a time", now));
    }
}
