//! Deterministic randomness: one seed per task, one ChaCha20 stream per roll kind and action.
//!
//! Seed = HMAC-SHA256(server secret, "idle-task-seed/v1" ‖ 0 ‖ player id ‖ 0 ‖ task id). Task ids
//! are unique per player, so the player id is part of the message. Every roll kind of every
//! action draws from its own stream, so the outcome of action `k` does not depend on how many
//! numbers earlier actions drew, and settling actions `0..k` of a cancelled task gives exactly
//! the first `k` actions of the full task.
//!
//! All sampling here is integer arithmetic written in this crate; `rand`'s distributions may
//! change their output between minor versions and are not used. `rand_chacha` is pinned.

use hmac::{Hmac, Mac};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The 32-byte seed of one task.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A seed lets anyone predict a task's rolls; keep it out of logs.
        f.write_str("Seed(..)")
    }
}

impl Seed {
    /// Derives a task's seed from the server secret.
    pub fn for_task(secret: &[u8], player_id: &str, task_id: &str) -> Seed {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        mac.update(b"idle-task-seed/v1\0");
        mac.update(player_id.as_bytes());
        mac.update(b"\0");
        mac.update(task_id.as_bytes());
        Seed(mac.finalize().into_bytes().into())
    }

    /// The stream for one roll kind of one action.
    pub fn rolls(&self, kind: RollKind, action: u32) -> Rolls {
        let mut rng = ChaCha20Rng::from_seed(self.0);
        rng.set_stream((u64::from(kind as u8) << 32) | u64::from(action));
        Rolls { rng }
    }
}

/// What a stream is used for. The numbers are part of the rules: never reuse or renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum RollKind {
    HarvestYield = 1,
    HarvestRare = 2,
    CraftSuccess = 3,
    CraftPreserve = 4,
    CraftQuality = 5,
    CombatFight = 6,
    CombatLoot = 7,
    RetryJitter = 8,
}

/// A stream of random numbers with the crate's own samplers.
pub struct Rolls {
    rng: ChaCha20Rng,
}

/// 2^64 as a float, the scale of a probability threshold.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

impl Rolls {
    /// The next raw 64-bit number.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// True with probability `p` (clamped to [0, 1]); always consumes one number.
    ///
    /// `p` becomes the integer threshold `p · 2^64`, so a higher `p` is true on every draw a
    /// lower one is: outcomes are monotone in their chances for a fixed seed.
    pub fn chance(&mut self, p: f64) -> bool {
        let draw = self.next_u64();
        chance_threshold(p).is_some_and(|threshold| draw < threshold) || p >= 1.0
    }

    /// A number in `0..n` (0 when `n` is 0); always consumes one number.
    ///
    /// Multiply-high maps the draw onto the range. Its bias is below n / 2^64, far under anything
    /// measurable, and a fixed consumption keeps the streams aligned for any `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        let draw = self.next_u64();
        ((u128::from(draw) * u128::from(n)) >> 64) as u64
    }

    /// A number in `min..=max` (`min` if the range is empty); always consumes one number.
    pub fn between(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            let _ = self.next_u64();
            return min;
        }
        min + self.below(max - min + 1)
    }

    /// `floor(x)` plus one Bernoulli draw on its fractional part, so the expectation is exactly
    /// `x`; always consumes one number. Negative or non-finite `x` gives 0.
    pub fn round_expected(&mut self, x: f64) -> u64 {
        if !x.is_finite() || x <= 0.0 {
            let _ = self.next_u64();
            return 0;
        }
        let whole = x.floor();
        let extra = u64::from(self.chance(x - whole));
        (whole as u64).saturating_add(extra)
    }

    /// An index chosen in proportion to `weights`; None if they are all zero. Consumes one number.
    pub fn weighted(&mut self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().fold(0u64, |sum, w| sum.saturating_add(*w));
        let mut pick = self.below(total);
        if total == 0 {
            return None;
        }
        for (index, weight) in weights.iter().enumerate() {
            if pick < *weight {
                return Some(index);
            }
            pick -= weight;
        }
        None
    }
}

/// The integer threshold for a probability, None for p ≤ 0 (never true).
fn chance_threshold(p: f64) -> Option<u64> {
    if p.is_nan() || p <= 0.0 {
        None
    } else {
        // `as` saturates: p ≥ 1 becomes u64::MAX, and `chance` treats p ≥ 1 as always.
        Some((p * TWO_POW_64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-test-secret-test-sec";

    #[test]
    fn the_seed_is_pinned_for_a_fixed_secret_and_task() {
        // Checked independently: Python `hmac.new(SECRET, b"idle-task-seed/v1\0player-1\0" +
        // b"0000000001", hashlib.sha256).hexdigest()` gives the same digest.
        let seed = Seed::for_task(SECRET, "player-1", "0000000001");
        let hex: String = seed.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "6da92c29346f399996f2fcddb70741adda920c5402cc3d428daa1aac82d6260e"
        );
    }

    #[test]
    fn streams_are_pinned_and_independent() {
        let seed = Seed::for_task(SECRET, "player-1", "0000000001");
        let first = seed.rolls(RollKind::HarvestYield, 0).next_u64();
        assert_eq!(first, 16_634_218_383_214_140_798);
        assert_ne!(first, seed.rolls(RollKind::HarvestYield, 1).next_u64());
        assert_ne!(first, seed.rolls(RollKind::HarvestRare, 0).next_u64());
        assert_eq!(first, seed.rolls(RollKind::HarvestYield, 0).next_u64());
    }

    #[test]
    fn seeds_differ_by_player_task_and_secret() {
        let a = Seed::for_task(SECRET, "player-1", "0000000001");
        assert_ne!(a, Seed::for_task(SECRET, "player-2", "0000000001"));
        assert_ne!(a, Seed::for_task(SECRET, "player-1", "0000000002"));
        assert_ne!(
            a,
            Seed::for_task(b"another-secret", "player-1", "0000000001")
        );
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            Seed::for_task(SECRET, "ab", "c"),
            Seed::for_task(SECRET, "a", "bc")
        );
    }

    #[test]
    fn chance_handles_the_edges() {
        let mut rolls = Seed([7; 32]).rolls(RollKind::HarvestRare, 0);
        for _ in 0..1000 {
            assert!(!rolls.chance(0.0));
            assert!(!rolls.chance(-1.0));
            assert!(!rolls.chance(f64::NAN));
            assert!(rolls.chance(1.0));
            assert!(rolls.chance(2.0));
        }
    }

    #[test]
    fn below_and_between_stay_in_range() {
        let mut rolls = Seed([9; 32]).rolls(RollKind::CombatLoot, 3);
        assert_eq!(rolls.below(0), 0);
        for _ in 0..1000 {
            assert!(rolls.below(6) < 6);
            let x = rolls.between(3, 5);
            assert!((3..=5).contains(&x));
            assert_eq!(rolls.between(4, 4), 4);
            assert_eq!(rolls.between(5, 2), 5);
        }
    }

    #[test]
    fn weighted_skips_zero_weights() {
        let mut rolls = Seed([1; 32]).rolls(RollKind::CraftQuality, 0);
        assert_eq!(rolls.weighted(&[0, 0]), None);
        for _ in 0..1000 {
            assert_eq!(rolls.weighted(&[0, 5, 0]), Some(1));
        }
    }

    #[test]
    fn round_expected_keeps_the_mean() {
        let mut rolls = Seed([3; 32]).rolls(RollKind::HarvestYield, 0);
        let n = 200_000;
        let total: u64 = (0..n).map(|_| rolls.round_expected(2.3)).sum();
        let mean = total as f64 / n as f64;
        // Standard error of a Bernoulli(0.3) mean over 200k draws is about 0.001.
        assert!((mean - 2.3).abs() < 0.005, "mean {mean}");
        assert_eq!(rolls.round_expected(-3.0), 0);
        assert_eq!(rolls.round_expected(f64::INFINITY), 0);
        assert_eq!(rolls.round_expected(4.0), 4);
    }
}
