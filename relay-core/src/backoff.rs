//! Delays between reconnect attempts and between repeats of an unacknowledged report.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with jitter: many phones that lost the same server must not all come
/// back in the same millisecond.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff { min, max: max.max(min), current: min }
    }

    /// The next delay: somewhere between half and all of the current step, which then doubles.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = step / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }

    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }
}

/// Delay before repeating a report already sent `attempts` times (doubling, capped).
pub(crate) fn report_retry_delay(attempts: u32, min: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.min(16));
    min.saturating_mul(factor).min(max.max(min))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_to_the_cap_with_jitter_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200), "{first:?}");
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_secs(15), "{late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(200));
    }

    #[test]
    fn report_retries_double_up_to_the_cap() {
        let (min, max) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(report_retry_delay(0, min, max), Duration::from_secs(2));
        assert_eq!(report_retry_delay(3, min, max), Duration::from_secs(16));
        assert_eq!(report_retry_delay(40, min, max), Duration::from_secs(60));
    }
}
