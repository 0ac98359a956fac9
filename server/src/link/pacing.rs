//! Per-device pacing: SMS parts per minute (a sliding window) and per UTC day.
//! Android itself stalls an app past 30 parts a minute, so the default stays under that.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};

#[derive(Debug, Clone)]
pub struct Pacer {
    per_minute: u32,
    per_day: u32,
    recent: VecDeque<(Instant, u32)>,
    day: NaiveDate,
    today: u32,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Pacer {
    /// `0` means no limit. `sent_today` seeds the daily count after a reconnect.
    pub fn new(per_minute: u32, per_day: u32, sent_today: u32) -> Self {
        Pacer { per_minute, per_day, recent: VecDeque::new(), day: Utc::now().date_naive(), today: sent_today }
    }

    /// What the device was already handed today (counted from the database).
    pub fn seed_today(&mut self, parts: u32) {
        self.today = parts;
    }

    pub fn set_limits(&mut self, per_minute: u32, per_day: u32) {
        self.per_minute = per_minute;
        self.per_day = per_day;
    }

    /// Parts that may be handed out now.
    pub fn budget(&mut self, now: Instant) -> u32 {
        self.roll(now);
        let minute = if self.per_minute == 0 {
            u32::MAX
        } else {
            self.per_minute.saturating_sub(self.recent.iter().map(|(_, p)| p).sum())
        };
        let day = if self.per_day == 0 { u32::MAX } else { self.per_day.saturating_sub(self.today) };
        minute.min(day)
    }

    pub fn spend(&mut self, now: Instant, parts: u32) {
        if self.per_minute != 0 {
            self.recent.push_back((now, parts));
        }
        self.today = self.today.saturating_add(parts);
    }

    fn roll(&mut self, now: Instant) {
        while self.recent.front().is_some_and(|(t, _)| now.duration_since(*t) >= MINUTE) {
            self.recent.pop_front();
        }
        let today = Utc::now().date_naive();
        if today != self.day {
            self.day = today;
            self.today = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_budget_refills_as_the_window_slides() {
        let mut p = Pacer::new(25, 0, 0);
        let t0 = Instant::now();
        assert_eq!(p.budget(t0), 25);
        p.spend(t0, 20);
        assert_eq!(p.budget(t0 + Duration::from_secs(30)), 5);
        assert_eq!(p.budget(t0 + Duration::from_secs(61)), 25);
    }

    #[test]
    fn the_daily_cap_holds_whatever_the_minute_allows() {
        let mut p = Pacer::new(0, 100, 95);
        assert_eq!(p.budget(Instant::now()), 5);
        p.spend(Instant::now(), 5);
        assert_eq!(p.budget(Instant::now()), 0);
    }

    #[test]
    fn zero_means_unlimited() {
        let mut p = Pacer::new(0, 0, 0);
        assert_eq!(p.budget(Instant::now()), u32::MAX);
    }
}
