//! Pacing arithmetic: how long to hold a message back so the phone stays within
//! `welcome.pacing` (Android stalls or fails an app past ~30 parts a minute).
//!
//! Pure functions over the recent hand-overs; the dispatcher feeds them from the store so the
//! budget survives restarts.

use std::time::Duration;

use relay_protocol::frames::Pacing;

use crate::store::HandOverRecord;

pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

/// How long to wait before `parts` more may go out under `limit` parts per `window_ms`, given
/// the hand-overs in `recent` (oldest first). `None`: now. A limit of 0 means unlimited, and a
/// message bigger than the whole budget still goes out once the window is empty (else it
/// would wait forever).
pub fn window_wait(limit: u32, window_ms: i64, now_ms: i64, recent: &[HandOverRecord], parts: u32) -> Option<Duration> {
    if limit == 0 {
        return None;
    }
    let in_window: Vec<&HandOverRecord> = recent.iter().filter(|r| r.at_ms > now_ms - window_ms).collect();
    let fits = |used: u64| used == 0 || used + u64::from(parts) <= u64::from(limit);
    let mut used: u64 = in_window.iter().map(|r| u64::from(r.parts)).sum();
    if fits(used) {
        return None;
    }
    // Walk forward in time: as each old hand-over leaves the window its parts free up.
    for record in in_window {
        used -= u64::from(record.parts);
        if fits(used) {
            let wait_ms = (record.at_ms + window_ms - now_ms).max(1);
            return Some(Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1)));
        }
    }
    Some(Duration::from_millis(u64::try_from(window_ms).unwrap_or(0)))
}

/// The longer of the per-minute and per-day waits.
pub fn wait_before(
    pacing: Pacing,
    now_ms: i64,
    last_minute: &[HandOverRecord],
    last_day: &[HandOverRecord],
    parts: u32,
) -> Option<Duration> {
    let minute = window_wait(pacing.parts_per_minute, MINUTE_MS, now_ms, last_minute, parts);
    let day = window_wait(pacing.parts_per_day, DAY_MS, now_ms, last_day, parts);
    minute.max(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_ms: i64, parts: u32) -> HandOverRecord {
        HandOverRecord { at_ms, parts }
    }

    #[test]
    fn within_budget_goes_now() {
        let recent = [at(1_000, 10), at(2_000, 10)];
        assert_eq!(window_wait(25, MINUTE_MS, 30_000, &recent, 5), None);
    }

    #[test]
    fn over_budget_waits_until_enough_parts_leave_the_window() {
        // 10 + 10 + 5 = 25 used; 3 more must wait until the first 10 leave (at 1s + 60s).
        let recent = [at(1_000, 10), at(2_000, 10), at(3_000, 5)];
        assert_eq!(window_wait(25, MINUTE_MS, 30_000, &recent, 3), Some(Duration::from_millis(31_000)));
        // 12 more need the first two to leave.
        assert_eq!(window_wait(25, MINUTE_MS, 30_000, &recent, 12), Some(Duration::from_millis(32_000)));
    }

    #[test]
    fn old_hand_overs_do_not_count() {
        let recent = [at(0, 25)];
        assert_eq!(window_wait(25, MINUTE_MS, 60_000, &recent, 1), None);
        assert_eq!(window_wait(25, MINUTE_MS, 59_999, &recent, 1), Some(Duration::from_millis(1)));
    }

    #[test]
    fn zero_is_unlimited_and_huge_limits_never_wait() {
        let recent: Vec<_> = (0..100).map(|i| at(i, 10)).collect();
        assert_eq!(window_wait(0, MINUTE_MS, 100, &recent, 10), None);
        assert_eq!(window_wait(u32::MAX, MINUTE_MS, 100, &recent, 10), None);
    }

    #[test]
    fn an_oversized_message_goes_alone_in_an_empty_window() {
        assert_eq!(window_wait(5, MINUTE_MS, 0, &[], 9), None);
        assert!(window_wait(5, MINUTE_MS, 1_000, &[at(500, 1)], 9).is_some());
    }

    #[test]
    fn the_day_budget_can_hold_back_what_the_minute_allows() {
        let pacing = Pacing { parts_per_minute: 30, parts_per_day: 100 };
        let day = [at(0, 60), at(10 * MINUTE_MS, 40)];
        let now = 20 * MINUTE_MS;
        let wait = wait_before(pacing, now, &[], &day, 1).unwrap();
        assert_eq!(wait, Duration::from_millis(u64::try_from(DAY_MS - now).unwrap()));
        assert_eq!(wait_before(Pacing { parts_per_day: 0, ..pacing }, now, &[], &day, 1), None);
    }
}
