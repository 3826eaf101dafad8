//! Exponential backoff with jitter, for retries of pushes to peers that are down.

use std::time::Duration;

/// A validated backoff policy: the n-th retry waits `min(max, base × 2ⁿ)`, scaled by a jitter factor
/// in `[1 − jitter, 1]` so that many peers coming back at once do not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: f64,
}

/// An invalid backoff policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid backoff: {0}")]
pub struct BackoffError(&'static str);

impl Backoff {
    /// A policy; `base` must be positive and ≤ `max`; `jitter` in `[0, 1]`.
    pub fn new(base: Duration, max: Duration, jitter: f64) -> Result<Self, BackoffError> {
        if base.is_zero() {
            return Err(BackoffError("base must be positive"));
        }
        if base > max {
            return Err(BackoffError("base must not exceed max"));
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(BackoffError("jitter must be between 0 and 1"));
        }
        Ok(Self { base, max, jitter })
    }

    /// The wait before retry number `attempt` (0-based), with `random` in `[0, 1)` choosing the jitter.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max);
        let factor = 1.0 - self.jitter * random.clamp(0.0, 1.0);
        capped.mul_f64(factor).max(Duration::from_millis(1))
    }

    /// The largest wait.
    pub fn max(&self) -> Duration {
        self.max
    }
}

/// A random number in `[0, 1)` from the OS CSPRNG (jitter does not need a fast generator).
pub fn random_unit() -> f64 {
    let bytes = crate::secret::random_bytes();
    let n = u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ]);
    (n >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn invalid_policies_are_refused() {
        assert!(Backoff::new(Duration::ZERO, Duration::from_secs(1), 0.1).is_err());
        assert!(Backoff::new(Duration::from_secs(2), Duration::from_secs(1), 0.1).is_err());
        assert!(Backoff::new(Duration::from_secs(1), Duration::from_secs(1), 1.5).is_err());
    }

    proptest! {
        #[test]
        fn never_exceeds_max_and_grows_without_jitter(base_ms in 1u64..5_000, max_ms in 5_000u64..600_000, attempt in 0u32..100) {
            let b = Backoff::new(Duration::from_millis(base_ms), Duration::from_millis(max_ms), 0.0).unwrap();
            let d = b.delay(attempt, 0.5);
            prop_assert!(d <= b.max());
            prop_assert!(b.delay(attempt + 1, 0.5) >= d);
        }

        #[test]
        fn jitter_stays_within_its_band(attempt in 0u32..40, r in 0.0f64..1.0, jitter in 0.0f64..=1.0) {
            let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(60), jitter).unwrap();
            let plain = Backoff::new(Duration::from_millis(100), Duration::from_secs(60), 0.0).unwrap().delay(attempt, 0.0);
            let d = b.delay(attempt, r);
            prop_assert!(d <= plain);
            prop_assert!(d >= plain.mul_f64(1.0 - jitter).saturating_sub(Duration::from_millis(1)));
        }

        #[test]
        fn random_unit_is_in_range(_x in 0u8..10) {
            let r = random_unit();
            prop_assert!((0.0..1.0).contains(&r));
        }
    }
}
