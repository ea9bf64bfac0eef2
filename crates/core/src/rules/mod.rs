//! The game rules: what a task's actions produce. Every function here is pure.
//!
//! The outcome of a task is `outcome(request, snapshot, seed, catalog, actions)`: a pure function
//! of the input snapshot frozen at start, the task's seed and the catalog of its rules version.
//! `actions` may be any prefix of the task (settling a cancelled task uses `0..k`).

pub mod combat;
pub mod craft;
pub mod harvest;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::model::{Snapshot, TaskRequest};
use crate::rng::Seed;

/// What some actions of a task produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// Actions settled (harvests, crafts or encounters).
    pub actions: u32,
    /// Actions that succeeded: every harvest, successful crafts, encounters won.
    pub successes: u32,
    /// XP for the activity's skill (the character track gains the same).
    pub xp: u64,
    /// Item key → units granted.
    pub items: BTreeMap<String, u64>,
    /// Reserved material units kept by preservation (returned to the inventory).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preserved: BTreeMap<String, u64>,
    /// Stations built.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stations: Vec<String>,
    /// Slot → durability lost.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub wear: BTreeMap<String, u32>,
    /// Pity key → misses in a row after these actions (only the target's rare drops).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pity: BTreeMap<String, u32>,
    /// Rare drops that came from pity rather than luck.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pity_drops: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Outcome {
    pub(crate) fn grant(&mut self, key: String, units: u64) {
        if units > 0 {
            let slot = self.items.entry(key).or_insert(0);
            *slot = slot.saturating_add(units);
        }
    }
}

/// Why an outcome could not be computed: the task refers to something this catalog lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("unknown {kind} `{id}` in rules version {version}")]
    UnknownTarget {
        kind: &'static str,
        id: String,
        version: u32,
    },
}

impl RulesError {
    fn unknown(kind: &'static str, id: &str, catalog: &Catalog) -> RulesError {
        RulesError::UnknownTarget {
            kind,
            id: id.to_owned(),
            version: catalog.version,
        }
    }
}

/// The outcome of the first `actions` actions of a task.
pub fn outcome(
    request: &TaskRequest,
    snapshot: &Snapshot,
    seed: &Seed,
    catalog: &Catalog,
    actions: u32,
) -> Result<Outcome, RulesError> {
    outcome_from(request, snapshot, seed, catalog, 0, actions)
}

/// The outcome of the `actions` actions of a task that start at action `first` (a chunk of a
/// continuous task): each action rolls the streams of its own index, so for the same snapshot
/// the outcomes of `0..a` and `a..a+b` add up to the outcome of `0..a+b` (pity and gear
/// durability carried from the first part into the second's snapshot).
pub fn outcome_from(
    request: &TaskRequest,
    snapshot: &Snapshot,
    seed: &Seed,
    catalog: &Catalog,
    first: u32,
    actions: u32,
) -> Result<Outcome, RulesError> {
    match request {
        TaskRequest::Harvest {
            resource, location, ..
        } => harvest::outcome(resource, location, snapshot, seed, catalog, first, actions),
        TaskRequest::Craft { recipe, .. } => {
            craft::outcome(recipe, snapshot, seed, catalog, first, actions)
        }
        TaskRequest::Combat { enemy, .. } => {
            combat::outcome(enemy, snapshot, seed, catalog, first, actions)
        }
    }
}

/// Item rewards and XP grow by `level_bonus_per_level` per character level: `1 + 0.05·L`.
pub fn level_multiplier(character_level: u32, catalog: &Catalog) -> f64 {
    1.0 + catalog.rules.level_bonus_per_level * f64::from(character_level)
}

/// XP per action: `round(base · difficulty · level multiplier · share)`.
pub fn scaled_xp(base: u32, difficulty: f64, level_multiplier: f64, share: f64) -> u64 {
    let xp = f64::from(base) * difficulty * level_multiplier * share;
    (xp + 0.5).floor() as u64
}

/// How far a level is above a requirement (0 when below).
pub fn margin(level: u32, required: u32) -> u32 {
    level.saturating_sub(required)
}

/// Integer power by repeated multiplication: `powi` may differ across platforms, this may not.
pub(crate) fn pow(base: f64, exponent: u32) -> f64 {
    (0..exponent).fold(1.0, |acc, _| acc * base)
}

#[cfg(test)]
mod tests;
