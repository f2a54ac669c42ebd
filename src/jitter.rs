//! Randomness for spreading polls and retries, without a dependency.
//!
//! Many jobs of one pipeline start gljob at the same second; without jitter their polls arrive at
//! GitLab in lockstep. `RandomState` is seeded from the OS per process, which is all we need here.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A duration drawn uniformly from `base * (1 - spread) ..= base * (1 + spread)`.
pub fn spread(base: Duration, spread: f64) -> Duration {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(base.as_nanos() as u64);
    let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    let factor = 1.0 + spread * (2.0 * unit - 1.0);
    base.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_band_and_varies() {
        let base = Duration::from_secs(5);
        let draws: Vec<_> = (0..200).map(|_| spread(base, 0.2)).collect();
        assert!(
            draws
                .iter()
                .all(|d| *d >= Duration::from_secs(4) && *d <= Duration::from_secs(6))
        );
        assert!(draws.iter().any(|d| *d != draws[0]), "jitter never varied");
    }
}
