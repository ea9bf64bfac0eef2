//! Crafting: per craft, a success roll, a preservation roll per material unit, and a quality tier.

use super::{level_multiplier, margin, pow, scaled_xp, Outcome, RulesError};
use crate::catalog::{Catalog, ItemKind, RecipeDef};
use crate::model::{item_key, Snapshot};
use crate::rng::{RollKind, Seed};

/// The per-craft figures of a recipe, for a player.
#[derive(Debug, Clone, PartialEq)]
pub struct CraftStats {
    pub action_ms: u64,
    /// `clamp(base + per_margin · margin − penalty · (complexity − 1), min, max)`.
    pub success_chance: f64,
    /// Chance each reserved material unit is kept: `min(max, per_margin · margin)`.
    pub preserve_chance: f64,
    /// Integer weight of each quality tier (all on tier 0 when the recipe has no quality).
    pub quality_weights: Vec<u64>,
    pub xp_success: u64,
    pub xp_failure: u64,
}

pub fn stats(
    recipe: &RecipeDef,
    skill_level: u32,
    character_level: u32,
    catalog: &Catalog,
) -> CraftStats {
    let params = &catalog.rules.craft;
    let m = f64::from(margin(skill_level, recipe.level));
    let success = (params.base_success + params.success_per_margin * m
        - params.complexity_penalty * (recipe.complexity - 1.0))
        .clamp(params.min_success, params.max_success);
    let quality_weights = if recipe.quality {
        let growth = 1.0 + params.quality_per_margin * m;
        catalog
            .quality_tiers
            .iter()
            .enumerate()
            .map(|(tier, t)| (f64::from(t.weight) * pow(growth, tier as u32)).round() as u64)
            .collect()
    } else {
        vec![1]
    };
    let level = level_multiplier(character_level, catalog);
    CraftStats {
        action_ms: recipe.action_ms,
        success_chance: success,
        preserve_chance: (params.preserve_per_margin * m).min(params.max_preserve),
        quality_weights,
        xp_success: scaled_xp(recipe.xp, recipe.difficulty, level, 1.0),
        xp_failure: scaled_xp(recipe.xp, recipe.difficulty, level, params.failure_xp_share),
    }
}

pub(super) fn outcome(
    recipe_id: &str,
    snapshot: &Snapshot,
    seed: &Seed,
    catalog: &Catalog,
    first: u32,
    actions: u32,
) -> Result<Outcome, RulesError> {
    let recipe = catalog
        .recipes
        .get(recipe_id)
        .ok_or_else(|| RulesError::unknown("recipe", recipe_id, catalog))?;
    let stats = stats(
        recipe,
        snapshot.skill_level,
        snapshot.character_level,
        catalog,
    );
    let builds_station = catalog
        .item(&recipe.output)
        .is_some_and(|item| matches!(item.kind, ItemKind::Station));
    let mut out = Outcome {
        actions,
        ..Outcome::default()
    };
    for action in first..first.saturating_add(actions) {
        let mut preserve = seed.rolls(RollKind::CraftPreserve, action);
        for (input, units) in &recipe.inputs {
            let kept = (0..*units)
                .filter(|_| preserve.chance(stats.preserve_chance))
                .count() as u64;
            if kept > 0 {
                *out.preserved.entry(input.clone()).or_insert(0) += kept;
            }
        }
        if !seed
            .rolls(RollKind::CraftSuccess, action)
            .chance(stats.success_chance)
        {
            out.xp = out.xp.saturating_add(stats.xp_failure);
            continue;
        }
        out.successes += 1;
        out.xp = out.xp.saturating_add(stats.xp_success);
        if builds_station {
            out.stations.push(recipe.output.clone());
            continue;
        }
        let tier = seed
            .rolls(RollKind::CraftQuality, action)
            .weighted(&stats.quality_weights)
            .unwrap_or(0);
        out.grant(
            item_key(&recipe.output, tier as u8, catalog),
            u64::from(recipe.output_qty),
        );
    }
    Ok(out)
}
