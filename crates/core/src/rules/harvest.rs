//! Harvesting: per action, a yield with one Bernoulli draw on its fraction, and rare drops with
//! hard pity.

use super::{level_multiplier, margin, scaled_xp, Outcome, RulesError};
use crate::catalog::{Catalog, Gear, LocationDef, ResourceDef};
use crate::model::Snapshot;
use crate::rng::{RollKind, Seed};

/// The per-action figures of harvesting a resource at a location, for a player.
#[derive(Debug, Clone, PartialEq)]
pub struct HarvestStats {
    pub action_ms: u64,
    /// Expected units per action: `base · location · (1 + tool) · skill · level · difficulty`.
    pub expected_yield: f64,
    pub xp_per_action: u64,
    /// (pity key, item, chance per action, pity threshold) for each rare drop.
    pub rare: Vec<(String, String, f64, u32)>,
}

/// The key of a rare drop's pity counter.
pub fn pity_key(resource: &str, item: &str) -> String {
    format!("{resource}:{item}")
}

/// Time of one action: `base · (1 − min(max_cut, margin · cut)) / (1 + tool speed)`, at least 1 ms.
pub fn action_ms(
    resource: &ResourceDef,
    skill_level: u32,
    tool: Option<&Gear>,
    catalog: &Catalog,
) -> u64 {
    let params = &catalog.rules.harvest;
    let cut = (f64::from(margin(skill_level, resource.level)) * params.time_cut_per_margin)
        .min(params.max_time_cut);
    let speed = tool.map_or(0.0, |t| t.speed);
    let ms = resource.action_ms as f64 * (1.0 - cut) / (1.0 + speed);
    (ms.floor() as u64).max(1)
}

/// The figures of one harvesting action.
pub fn stats(
    resource_id: &str,
    resource: &ResourceDef,
    location: &LocationDef,
    skill_level: u32,
    character_level: u32,
    tool: Option<&Gear>,
    catalog: &Catalog,
) -> HarvestStats {
    let params = &catalog.rules.harvest;
    let modifier = location.resources.get(resource_id).copied().unwrap_or(0.0);
    let skill_factor = 1.0
        + params.yield_per_margin
            * f64::from(margin(skill_level, resource.level).min(params.max_yield_margin));
    let level = level_multiplier(character_level, catalog);
    let tool_yield = tool.map_or(0.0, |t| t.yield_bonus);
    let rare_bonus = tool.map_or(0.0, |t| t.rare_bonus) + location.rare_bonus;
    HarvestStats {
        action_ms: action_ms(resource, skill_level, tool, catalog),
        expected_yield: resource.base_yield
            * modifier
            * (1.0 + tool_yield)
            * skill_factor
            * level
            * resource.difficulty,
        xp_per_action: scaled_xp(resource.xp, resource.difficulty, level, 1.0),
        rare: resource
            .rare_drops
            .iter()
            .map(|d| {
                (
                    pity_key(resource_id, &d.item),
                    d.item.clone(),
                    (d.chance * (1.0 + rare_bonus)).min(1.0),
                    d.pity,
                )
            })
            .collect(),
    }
}

pub(super) fn outcome(
    resource_id: &str,
    location_id: &str,
    snapshot: &Snapshot,
    seed: &Seed,
    catalog: &Catalog,
    first: u32,
    actions: u32,
) -> Result<Outcome, RulesError> {
    let resource = catalog
        .resources
        .get(resource_id)
        .ok_or_else(|| RulesError::unknown("resource", resource_id, catalog))?;
    let location = catalog
        .locations
        .get(location_id)
        .ok_or_else(|| RulesError::unknown("location", location_id, catalog))?;
    let tool = snapshot
        .gear
        .get(&resource.tool)
        .and_then(|worn| catalog.gear(&worn.item));
    let stats = stats(
        resource_id,
        resource,
        location,
        snapshot.skill_level,
        snapshot.character_level,
        tool,
        catalog,
    );
    let mut out = Outcome {
        actions,
        successes: actions,
        xp: stats.xp_per_action.saturating_mul(u64::from(actions)),
        ..Outcome::default()
    };
    let mut pity: Vec<u32> = stats
        .rare
        .iter()
        .map(|(key, ..)| snapshot.pity.get(key).copied().unwrap_or(0))
        .collect();
    for action in first..first.saturating_add(actions) {
        let units = seed
            .rolls(RollKind::HarvestYield, action)
            .round_expected(stats.expected_yield);
        out.grant(resource.item.clone(), units);
        if stats.rare.is_empty() {
            continue;
        }
        let mut rolls = seed.rolls(RollKind::HarvestRare, action);
        for ((_, item, chance, threshold), misses) in stats.rare.iter().zip(pity.iter_mut()) {
            // Always draw, so later drops keep their numbers whatever pity does.
            let lucky = rolls.chance(*chance);
            let forced = misses.saturating_add(1) >= *threshold;
            if lucky || forced {
                out.grant(item.clone(), 1);
                out.pity_drops += u32::from(!lucky);
                *misses = 0;
            } else {
                *misses += 1;
            }
        }
    }
    for ((key, ..), misses) in stats.rare.iter().zip(pity) {
        out.pity.insert(key.clone(), misses);
    }
    if tool.is_some() && actions > 0 {
        let wear = catalog
            .rules
            .harvest
            .wear_per_action
            .saturating_mul(actions);
        out.wear.insert(resource.tool.clone(), wear);
    }
    Ok(out)
}
