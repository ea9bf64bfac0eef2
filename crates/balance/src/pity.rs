//! Rare drops with hard pity, in closed form.
//!
//! A rare drop is rolled on every harvesting action with chance `p`; after `N − 1` misses in a
//! row the next action drops it for sure (`forced = misses + 1 ≥ N` in the rules). The number of
//! actions between two drops, `T`, is then geometric cut at `N`:
//! `P(T ≥ k) = (1 − p)^(k−1)` for `k ≤ N`, so `E[T] = Σ_{k=1}^{N} (1 − p)^(k−1)`
//! `= (1 − (1 − p)^N) / p`, and the long-run drop rate is `1 / E[T]`.

/// Expected actions per drop: `Σ_{k=1}^{N} (1 − p)^(k−1)`. A pity of 0 or 1 forces every action.
pub fn actions_per_drop(chance: f64, pity: u32) -> f64 {
    let n = f64::from(pity.max(1));
    let p = clamp_probability(chance);
    if p <= 0.0 {
        return n;
    }
    if p >= 1.0 {
        return 1.0;
    }
    // (1 − (1 − p)^N) / p, written with expm1/ln_1p so a tiny p keeps its precision.
    -(n * (-p).ln_1p()).exp_m1() / p
}

/// Long-run drops per action with pity: `1 / actions_per_drop`.
pub fn effective_rate(chance: f64, pity: u32) -> f64 {
    1.0 / actions_per_drop(chance, pity)
}

/// How much pity lifts the rate above the per-action chance: `effective_rate / p`
/// `= 1 / (1 − (1 − p)^N)`; 1 when pity never matters.
pub fn pity_lift(chance: f64, pity: u32) -> f64 {
    let p = clamp_probability(chance);
    if p <= 0.0 {
        // Only pity drops: the lift is unbounded.
        return f64::INFINITY;
    }
    effective_rate(p, pity) / p
}

/// Expected drops in `actions` actions starting with `misses` misses in a row, exactly: a
/// distribution over the miss counter, stepped once per action.
pub fn expected_drops(chance: f64, pity: u32, actions: u32, misses: u32) -> f64 {
    let p = clamp_probability(chance);
    let threshold = pity.max(1);
    // Counters that reach `threshold − 1` are forced on the next action, so the state space is
    // 0..threshold; only counters up to `misses + actions` are ever reached.
    let reachable = u64::from(misses.min(threshold - 1)) + u64::from(actions) + 1;
    let states = reachable.min(u64::from(threshold)) as usize;
    let mut counter = vec![0.0_f64; states];
    counter[(misses.min(threshold - 1) as usize).min(states - 1)] = 1.0;
    let mut drops = 0.0;
    for _ in 0..actions {
        let mut next = vec![0.0_f64; states];
        let mut dropped = 0.0;
        for (m, mass) in counter.iter().enumerate() {
            if *mass == 0.0 {
                continue;
            }
            if (m as u64) + 1 >= u64::from(threshold) {
                dropped += mass;
            } else {
                dropped += mass * p;
                next[m + 1] += mass * (1.0 - p);
            }
        }
        next[0] += dropped;
        drops += dropped;
        counter = next;
    }
    drops
}

fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_per_drop_is_the_truncated_geometric_sum() {
        let (p, n) = (0.004_f64, 400_u32);
        let sum: f64 = (1..=n).map(|k| (1.0 - p).powi(k as i32 - 1)).sum();
        assert!((actions_per_drop(p, n) - sum).abs() < 1e-9);
        assert_eq!(actions_per_drop(0.0, 50), 50.0);
        assert_eq!(actions_per_drop(1.0, 50), 1.0);
        assert_eq!(actions_per_drop(0.3, 1), 1.0);
        assert_eq!(actions_per_drop(0.3, 0), 1.0);
    }

    #[test]
    fn pity_lift_grows_as_pity_tightens() {
        assert!((pity_lift(0.004, 400) - 1.0 / (1.0 - 0.996f64.powi(400))).abs() < 1e-12);
        assert!(pity_lift(0.01, 100) > pity_lift(0.01, 200));
        assert!((pity_lift(0.01, 100_000) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn expected_drops_before_pity_can_trigger_is_plain_chance() {
        let drops = expected_drops(0.01, 200, 150, 0);
        assert!((drops - 1.5).abs() < 1e-12, "{drops}");
    }

    #[test]
    fn expected_drops_over_a_long_run_approach_the_effective_rate() {
        let (p, n) = (0.02, 60);
        let actions = 1000 * n;
        let per_action = expected_drops(p, n, actions, 0) / f64::from(actions);
        assert!((per_action - effective_rate(p, n)).abs() < 1e-4);
    }

    #[test]
    fn a_counter_at_the_threshold_drops_on_the_next_action() {
        assert!((expected_drops(0.0, 10, 1, 9) - 1.0).abs() < 1e-12);
        assert!((expected_drops(0.0, 10, 1, 8) - 0.0).abs() < 1e-12);
        assert!((expected_drops(0.0, 10, 20, 0) - 2.0).abs() < 1e-12);
    }
}
