//! Times: stored as UTC without zone in both backends, shown as RFC 3339 UTC to the world.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// How far this process's clock has been moved forward, in microseconds. Always 0 in
/// production: only `serve --unsafe-test-clock` exposes a way to change it
/// (`POST /v1/test/clock/advance`), so that tests can pass an expiry without sleeping.
static TEST_OFFSET_MICROS: AtomicI64 = AtomicI64::new(0);

/// Now, truncated to microseconds so that what is stored reads back identical on both backends.
pub fn now() -> NaiveDateTime {
    let offset = TEST_OFFSET_MICROS.load(Ordering::Relaxed);
    let now = Utc::now().naive_utc() + chrono::Duration::microseconds(offset);
    now.with_nanosecond_micros()
}

/// FOR TESTS ONLY: moves the clock every `now()` reads forward by `seconds`; returns the
/// total offset in seconds. Reachable only through the hidden `serve --unsafe-test-clock`.
pub fn advance_for_tests(seconds: i64) -> i64 {
    let micros = seconds.saturating_mul(1_000_000);
    TEST_OFFSET_MICROS.fetch_add(micros, Ordering::Relaxed).saturating_add(micros) / 1_000_000
}

trait MicroTruncate {
    fn with_nanosecond_micros(self) -> Self;
}

impl MicroTruncate for NaiveDateTime {
    fn with_nanosecond_micros(self) -> Self {
        use chrono::Timelike;
        let micros = self.nanosecond() / 1_000 * 1_000;
        self.with_nanosecond(micros).unwrap_or(self)
    }
}

/// A UTC instant that serialises as `2026-03-14T12:30:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub NaiveDateTime);

impl Timestamp {
    pub fn rfc3339(&self) -> String {
        DateTime::<Utc>::from_naive_utc_and_offset(self.0, Utc).to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl From<NaiveDateTime> for Timestamp {
    fn from(t: NaiveDateTime) -> Self {
        Timestamp(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .examples([serde_json::json!("2026-03-14T12:30:00Z")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_rfc3339_utc_seconds() {
        let t =
            chrono::NaiveDate::from_ymd_opt(2026, 3, 14).and_then(|d| d.and_hms_micro_opt(12, 30, 0, 123_456)).unwrap();
        assert_eq!(serde_json::to_value(Timestamp(t)).unwrap(), "2026-03-14T12:30:00Z");
    }
}
