//! Monte Carlo: many tasks run through the real `rules::outcome`, one seed each.
//!
//! Task `i` uses `Seed::for_task(b"balance", "sim", "i")`, so a simulation is reproducible and
//! every target and profile sees the same seeds.

use serde::Serialize;

use idle_core::catalog::Catalog;
use idle_core::model::TaskRequest;
use idle_core::rng::Seed;
use idle_core::rules::{self, RulesError};

use crate::profile::Profile;
use crate::worth::{outcome_units, outcome_value};

/// The secret the simulator's seeds derive from.
pub const SIM_SECRET: &[u8] = b"balance";
/// The player id the simulator's seeds derive from.
pub const SIM_PLAYER: &str = "sim";

/// The seed of simulated task `i`.
pub fn sim_seed(i: u32) -> Seed {
    Seed::for_task(SIM_SECRET, SIM_PLAYER, &format!("{i}"))
}

/// What `tasks` simulated tasks gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    /// Tasks simulated.
    pub tasks: u32,
    /// Actions over all tasks.
    pub actions: u64,
    /// Successful actions over all tasks.
    pub successes: u64,
    /// XP of each task.
    pub xp: Distribution,
    /// Units of each task.
    pub items: Distribution,
    /// Coins of value of each task.
    pub value: Distribution,
}

impl Simulation {
    /// Successes per action.
    pub fn success_rate(&self) -> f64 {
        if self.actions == 0 {
            0.0
        } else {
            self.successes as f64 / self.actions as f64
        }
    }
}

/// Summary of one figure over the simulated tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    /// Mean over the tasks.
    pub mean: f64,
    /// Standard error of the mean: sample standard deviation / √n.
    pub std_error: f64,
    /// 5th percentile (nearest rank).
    pub p5: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
}

impl Distribution {
    /// Summarises samples (all zero for none).
    pub fn of(mut samples: Vec<f64>) -> Distribution {
        let n = samples.len();
        if n == 0 {
            return Distribution {
                mean: 0.0,
                std_error: 0.0,
                p5: 0.0,
                p50: 0.0,
                p95: 0.0,
            };
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let std_error = if n > 1 {
            let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        } else {
            0.0
        };
        samples.sort_by(f64::total_cmp);
        Distribution {
            mean,
            std_error,
            p5: percentile(&samples, 5),
            p50: percentile(&samples, 50),
            p95: percentile(&samples, 95),
        }
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `pct`% of the
/// samples at or below it.
fn percentile(sorted: &[f64], pct: u32) -> f64 {
    let n = sorted.len();
    let rank = (u64::from(pct) * n as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(n) - 1]
}

/// Runs `tasks` tasks of the request for the profile through the real rules.
pub fn simulate(
    profile: &Profile,
    request: &TaskRequest,
    catalog: &Catalog,
    tasks: u32,
) -> Result<Simulation, RulesError> {
    let snapshot = profile.snapshot(request, catalog);
    let actions = request.quantity();
    let mut xp = Vec::with_capacity(tasks as usize);
    let mut items = Vec::with_capacity(tasks as usize);
    let mut value = Vec::with_capacity(tasks as usize);
    let mut successes = 0;
    for i in 0..tasks {
        let outcome = rules::outcome(request, &snapshot, &sim_seed(i), catalog, actions)?;
        successes += u64::from(outcome.successes);
        xp.push(outcome.xp as f64);
        items.push(outcome_units(&outcome));
        value.push(outcome_value(&outcome, catalog));
    }
    Ok(Simulation {
        tasks,
        actions: u64::from(tasks) * u64::from(actions),
        successes,
        xp: Distribution::of(xp),
        items: Distribution::of(items),
        value: Distribution::of(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let d = Distribution::of((1..=100).map(f64::from).collect());
        assert_eq!((d.p5, d.p50, d.p95), (5.0, 50.0, 95.0));
        assert_eq!(d.mean, 50.5);
        let one = Distribution::of(vec![7.0]);
        assert_eq!((one.p5, one.p95, one.std_error), (7.0, 7.0, 0.0));
    }
}
