//! Exponential backoff with jitter, and the small seedable RNG behind the jitter.
//!
//! The RNG lives in the session and is seeded by the caller, so the core never reads
//! entropy itself and tests replay exactly.

use std::time::Duration;

/// SplitMix64 (Steele, Lea, Flood 2014): a few lines, full 64-bit period, plenty for
/// spreading timers; not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=n` (n small; the modulo bias is irrelevant for jitter).
    pub fn upto(&mut self, n: u64) -> u64 {
        self.next_u64() % (n + 1)
    }
}

/// `d` scaled by a random factor in [0.75, 1.25], at millisecond resolution, so peers
/// that failed together do not retry in lockstep.
pub fn jitter(d: Duration, rng: &mut Rng) -> Duration {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2000);
    let factor = 750 + rng.upto(500);
    Duration::from_millis(ms.saturating_mul(factor) / 1000)
}

/// Doubling backoff between `min` and `max`; each `next()` returns the current base with
/// jitter and then doubles the base.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            current: min,
        }
    }

    /// The base (un-jittered) interval the next `next()` will use.
    pub fn base(&self) -> Duration {
        self.current
    }

    pub fn next(&mut self, rng: &mut Rng) -> Duration {
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        jitter(base, rng)
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_per_seed() {
        let a: Vec<u64> = (0..4)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .scan(Rng::new(8), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn backoff_doubles_to_max_within_jitter_bounds() {
        let mut rng = Rng::new(42);
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(120));
        let expect_base = [1u64, 2, 4, 8, 16, 32, 64, 120, 120, 120];
        for base in expect_base {
            assert_eq!(b.base(), Duration::from_secs(base));
            let d = b.next(&mut rng);
            let lo = Duration::from_millis(base * 750);
            let hi = Duration::from_millis(base * 1250);
            assert!(d >= lo && d <= hi, "{d:?} not in [{lo:?}, {hi:?}]");
        }
        b.reset();
        assert_eq!(b.base(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_over_the_whole_band() {
        // 1000 draws of a 1 s base with a fixed seed: every value inside [750, 1250] ms,
        // and both ends of the band are reached closely (not a constant factor).
        let mut rng = Rng::new(1);
        let ms: Vec<u128> = (0..1000)
            .map(|_| jitter(Duration::from_secs(1), &mut rng).as_millis())
            .collect();
        assert!(ms.iter().all(|&m| (750..=1250).contains(&m)));
        assert!(*ms.iter().min().unwrap_or(&0) < 760);
        assert!(*ms.iter().max().unwrap_or(&0) > 1240);
    }
}
