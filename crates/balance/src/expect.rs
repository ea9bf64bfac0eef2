//! Closed-form expectations of a task's rewards for a profile.
//!
//! Every expectation here is exact for the rules as written (up to floating-point rounding):
//! - harvesting: the yield's expectation is `stats.expected_yield` (its fraction is resolved by a
//!   Bernoulli draw), XP per action is fixed, and rare drops follow [`crate::pity`];
//! - crafting: the success chance, the preservation chance and the quality-tier weights come
//!   straight from `craft::stats`, so the expected quality multiplier is `Σ wᵢ mᵢ / Σ wᵢ`;
//! - combat: the win chance is [`crate::odds::win_chance`], and each loot line's expectation is
//!   `chance · (min + max) / 2 · multiplier` (quantities are resolved by `round_expected`).

use serde::Serialize;

use idle_core::catalog::{Catalog, ItemKind, ARMOUR_SLOT, WEAPON_SLOT};
use idle_core::model::TaskRequest;
use idle_core::rules::{combat, craft, harvest, level_multiplier, scaled_xp, RulesError};

use crate::odds::win_chance;
use crate::pity::{effective_rate, expected_drops};
use crate::profile::Profile;
use crate::worth::{quality_multiplier, unit_value};

/// Milliseconds in an hour.
pub const HOUR_MS: f64 = 3_600_000.0;

/// The expected rewards of a target for a profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// Time of one action (harvest, craft or encounter).
    pub action_ms: u64,
    /// Chance one action succeeds: 1 for harvesting, the craft's success chance, the win chance.
    pub success_chance: f64,
    /// Long-run XP per action.
    pub xp_per_action: f64,
    /// Long-run units per action (rare drops at their rate with pity).
    pub items_per_action: f64,
    /// Long-run coins of value per action.
    pub value_per_action: f64,
    /// Coins of materials one craft uses up, net of preservation (0 for other activities).
    pub input_value_per_action: f64,
    /// Exact expectations for one task of the request's quantity, starting with no pity.
    pub task: TaskExpectation,
    /// How much one action's figures vary.
    pub variance: ActionVariance,
}

/// The variance of one action's figures: exact for XP, a lower bound for items and value (the
/// part due to success against failure, and to the yield's fraction). Actions draw from their
/// own streams, so a task's variance is at least `quantity` times these; the report uses that
/// floor so a simulation that happens to see no variation is not judged with a zero error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionVariance {
    /// Variance of one action's XP (exact).
    pub xp: f64,
    /// Lower bound on the variance of one action's units.
    pub items_floor: f64,
    /// Lower bound on the variance of one action's value.
    pub value_floor: f64,
}

impl ActionVariance {
    /// Variance of a figure that is `on_success` with chance `p` and `on_failure` otherwise.
    fn two_point(p: f64, on_success: f64, on_failure: f64) -> f64 {
        p * (1.0 - p) * (on_success - on_failure).powi(2)
    }
}

/// Exact expectations for one whole task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskExpectation {
    /// Actions in the task.
    pub actions: u32,
    /// Expected XP of the task.
    pub xp: f64,
    /// Expected units of the task, stations included.
    pub items: f64,
    /// Expected value of the task, in coins.
    pub value: f64,
}

impl Expectation {
    /// A per-action figure scaled to one hour of back-to-back actions.
    pub fn per_hour(&self, per_action: f64) -> f64 {
        per_action * HOUR_MS / self.action_ms.max(1) as f64
    }

    /// Long-run XP per hour.
    pub fn xp_per_hour(&self) -> f64 {
        self.per_hour(self.xp_per_action)
    }

    /// Long-run units per hour.
    pub fn items_per_hour(&self) -> f64 {
        self.per_hour(self.items_per_action)
    }

    /// Long-run coins of value per hour.
    pub fn value_per_hour(&self) -> f64 {
        self.per_hour(self.value_per_action)
    }

    /// Value per hour less the materials used up (crafting's value added).
    pub fn net_value_per_hour(&self) -> f64 {
        self.per_hour(self.value_per_action - self.input_value_per_action)
    }
}

/// The closed-form expectation of a request for a profile.
pub fn expect(
    profile: &Profile,
    request: &TaskRequest,
    catalog: &Catalog,
) -> Result<Expectation, RulesError> {
    match request {
        TaskRequest::Harvest {
            resource,
            location,
            quantity,
            ..
        } => expect_harvest(profile, resource, location, *quantity, catalog),
        TaskRequest::Craft {
            recipe, quantity, ..
        } => expect_craft(profile, recipe, *quantity, catalog),
        TaskRequest::Combat {
            enemy, quantity, ..
        } => expect_combat(profile, enemy, *quantity, catalog),
    }
}

fn unknown(kind: &'static str, id: &str, catalog: &Catalog) -> RulesError {
    RulesError::UnknownTarget {
        kind,
        id: id.to_owned(),
        version: catalog.version,
    }
}

fn expect_harvest(
    profile: &Profile,
    resource_id: &str,
    location_id: &str,
    quantity: u32,
    catalog: &Catalog,
) -> Result<Expectation, RulesError> {
    let resource = catalog
        .resources
        .get(resource_id)
        .ok_or_else(|| unknown("resource", resource_id, catalog))?;
    let location = catalog
        .locations
        .get(location_id)
        .ok_or_else(|| unknown("location", location_id, catalog))?;
    let tool = profile.gear(&resource.tool, catalog);
    let stats = harvest::stats(
        resource_id,
        resource,
        location,
        profile.level,
        profile.level,
        tool,
        catalog,
    );
    let unit = unit_value(&resource.item, catalog);
    let actions = f64::from(quantity);
    let mut per_action = (stats.expected_yield, stats.expected_yield * unit);
    let mut task = (
        stats.expected_yield * actions,
        stats.expected_yield * actions * unit,
    );
    for (_, item, chance, pity) in &stats.rare {
        let value = unit_value(item, catalog);
        let rate = effective_rate(*chance, *pity);
        per_action.0 += rate;
        per_action.1 += rate * value;
        let drops = expected_drops(*chance, *pity, quantity, 0);
        task.0 += drops;
        task.1 += drops * value;
    }
    let xp = stats.xp_per_action as f64;
    let fraction = stats.expected_yield - stats.expected_yield.floor();
    let yield_variance = if stats.expected_yield.is_finite() && stats.expected_yield > 0.0 {
        fraction * (1.0 - fraction)
    } else {
        0.0
    };
    Ok(Expectation {
        action_ms: stats.action_ms,
        success_chance: 1.0,
        xp_per_action: xp,
        items_per_action: per_action.0,
        value_per_action: per_action.1,
        input_value_per_action: 0.0,
        task: TaskExpectation {
            actions: quantity,
            xp: xp * actions,
            items: task.0,
            value: task.1,
        },
        variance: ActionVariance {
            xp: 0.0,
            items_floor: yield_variance,
            value_floor: yield_variance * unit * unit,
        },
    })
}

fn expect_craft(
    profile: &Profile,
    recipe_id: &str,
    quantity: u32,
    catalog: &Catalog,
) -> Result<Expectation, RulesError> {
    let recipe = catalog
        .recipes
        .get(recipe_id)
        .ok_or_else(|| unknown("recipe", recipe_id, catalog))?;
    let stats = craft::stats(recipe, profile.level, profile.level, catalog);
    let success = stats.success_chance;
    let builds_station = catalog
        .item(&recipe.output)
        .is_some_and(|i| matches!(i.kind, ItemKind::Station));
    // A station is built once per success whatever `output_qty` says, and has no quality.
    let (units, multiplier) = if builds_station {
        (1.0, 1.0)
    } else {
        let total: f64 = stats.quality_weights.iter().map(|w| *w as f64).sum();
        let multiplier = if total > 0.0 {
            stats
                .quality_weights
                .iter()
                .enumerate()
                .map(|(tier, w)| {
                    *w as f64 * quality_multiplier(u8::try_from(tier).unwrap_or(0), catalog)
                })
                .sum::<f64>()
                / total
        } else {
            // No weight at all: `weighted` picks nothing and the rules fall back to tier 0.
            quality_multiplier(0, catalog)
        };
        (f64::from(recipe.output_qty), multiplier)
    };
    let unit = unit_value(&recipe.output, catalog);
    let kept = stats.preserve_chance.clamp(0.0, 1.0);
    let inputs: f64 = recipe
        .inputs
        .iter()
        .map(|(item, n)| f64::from(*n) * unit_value(item, catalog) * (1.0 - kept))
        .sum();
    let (xp_success, xp_failure) = (stats.xp_success as f64, stats.xp_failure as f64);
    let xp = success * xp_success + (1.0 - success) * xp_failure;
    let items = success * units;
    let value = items * unit * multiplier;
    let variance = ActionVariance {
        xp: ActionVariance::two_point(success, xp_success, xp_failure),
        items_floor: ActionVariance::two_point(success, units, 0.0),
        value_floor: ActionVariance::two_point(success, units * unit * multiplier, 0.0),
    };
    let actions = f64::from(quantity);
    Ok(Expectation {
        action_ms: stats.action_ms.max(1),
        success_chance: success,
        xp_per_action: xp,
        items_per_action: items,
        value_per_action: value,
        input_value_per_action: inputs,
        task: TaskExpectation {
            actions: quantity,
            xp: xp * actions,
            items: items * actions,
            value: value * actions,
        },
        variance,
    })
}

fn expect_combat(
    profile: &Profile,
    enemy_id: &str,
    quantity: u32,
    catalog: &Catalog,
) -> Result<Expectation, RulesError> {
    let enemy = catalog
        .enemies
        .get(enemy_id)
        .ok_or_else(|| unknown("enemy", enemy_id, catalog))?;
    let params = &catalog.rules.combat;
    let m = combat::matchup(
        profile.level,
        profile.gear(WEAPON_SLOT, catalog),
        profile.gear(ARMOUR_SLOT, catalog),
        enemy,
        catalog,
    );
    let win = win_chance(&m, params.max_rounds);
    let level = level_multiplier(profile.level, catalog);
    let xp_win = scaled_xp(enemy.xp, enemy.difficulty, level, 1.0) as f64;
    let xp_loss = scaled_xp(enemy.xp, enemy.difficulty, level, params.loss_xp_share) as f64;
    let multiplier = combat::loot_multiplier(enemy, profile.level, catalog);
    // (units, value) of one win's loot.
    let mut loot = (0.0, 0.0);
    let mut add = |item: &str, units: f64| {
        loot.0 += units;
        loot.1 += units * unit_value(item, catalog);
    };
    let table = &enemy.loot;
    for entry in &table.always {
        add(&entry.item, mean_between(entry.min, entry.max) * multiplier);
    }
    let total: f64 = table
        .weighted
        .entries
        .iter()
        .map(|e| f64::from(e.weight))
        .sum::<f64>()
        + f64::from(table.weighted.empty_weight);
    if total > 0.0 {
        for entry in &table.weighted.entries {
            let chance = f64::from(entry.weight) / total;
            let per_roll = chance * mean_between(entry.min, entry.max) * multiplier;
            add(&entry.item, per_roll * f64::from(table.weighted.rolls));
        }
    }
    for entry in &table.tertiary {
        add(&entry.item, entry.chance.clamp(0.0, 1.0));
    }
    let xp = win * xp_win + (1.0 - win) * xp_loss;
    let actions = f64::from(quantity);
    Ok(Expectation {
        action_ms: enemy.action_ms.max(1),
        success_chance: win,
        xp_per_action: xp,
        items_per_action: win * loot.0,
        value_per_action: win * loot.1,
        input_value_per_action: 0.0,
        task: TaskExpectation {
            actions: quantity,
            xp: xp * actions,
            items: win * loot.0 * actions,
            value: win * loot.1 * actions,
        },
        variance: ActionVariance {
            xp: ActionVariance::two_point(win, xp_win, xp_loss),
            items_floor: ActionVariance::two_point(win, loot.0, 0.0),
            value_floor: ActionVariance::two_point(win, loot.1, 0.0),
        },
    })
}

/// The mean of `between(min, max)`: uniform on `min..=max`, or `min` for an empty range.
fn mean_between(min: u32, max: u32) -> f64 {
    if max <= min {
        f64::from(min)
    } else {
        (f64::from(min) + f64::from(max)) / 2.0
    }
}
