//! Player profiles: a level and the best gear a player of that level could wear.
//!
//! A profile stands for a player whose character level and every skill level are all `level`,
//! who wears in each slot the highest-tier gear of the catalog whose `level` requirement is at
//! most `level`, owns every crafting station, has the materials a recipe needs, and whose pity
//! counters start at zero. Gear is given enough durability for the whole task, so nothing breaks
//! part-way (players re-equip spares; breakage is not what the balance report measures).

use std::collections::BTreeMap;

use serde::Serialize;

use idle_core::catalog::{Catalog, Gear, ItemKind};
use idle_core::model::{Equipped, Snapshot, TaskRequest};
use idle_core::rules::harvest;

/// The levels of the built-in profiles (capped at the catalog's `max_level`).
pub const STANDARD_LEVELS: [u32; 5] = [1, 10, 30, 60, 99];

/// A player of one level with the best gear usable at that level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Character level and every skill level.
    pub level: u32,
    /// Slot → item id of the gear worn there.
    pub gear: BTreeMap<String, String>,
}

impl Profile {
    /// A player of `level` (clamped to `1..=max_level`) wearing, in every slot, the highest tier
    /// whose level requirement is met (ties go to the higher requirement, then the later id).
    pub fn at_level(level: u32, catalog: &Catalog) -> Profile {
        let level = level.clamp(1, catalog.rules.max_level.max(1));
        let mut best: BTreeMap<&str, (u32, u32, &str)> = BTreeMap::new();
        for id in catalog.items.keys() {
            let Some(gear) = catalog.gear(id) else {
                continue;
            };
            if gear.level > level {
                continue;
            }
            let candidate = (gear.tier, gear.level, id.as_str());
            let slot = best.entry(gear.slot.as_str()).or_insert(candidate);
            if candidate > *slot {
                *slot = candidate;
            }
        }
        Profile {
            level,
            gear: best
                .into_iter()
                .map(|(slot, (_, _, id))| (slot.to_owned(), id.to_owned()))
                .collect(),
        }
    }

    /// The built-in profiles: levels 1, 10, 30, 60 and 99, without repeats once capped.
    pub fn standard(catalog: &Catalog) -> Vec<Profile> {
        let mut profiles: Vec<Profile> = STANDARD_LEVELS
            .iter()
            .map(|level| Profile::at_level(*level, catalog))
            .collect();
        profiles.dedup_by_key(|p| p.level);
        profiles
    }

    /// The gear worn in a slot, with its stats.
    pub fn gear<'c>(&self, slot: &str, catalog: &'c Catalog) -> Option<&'c Gear> {
        catalog.gear(self.gear.get(slot)?)
    }

    /// Whether the game would let this player start the task: location, skill and enemy level
    /// gap, and a tool for harvesting. Stations and materials are assumed owned.
    pub fn can_do(&self, request: &TaskRequest, catalog: &Catalog) -> bool {
        match request {
            TaskRequest::Harvest {
                resource, location, ..
            } => {
                let (Some(res), Some(place)) = (
                    catalog.resources.get(resource),
                    catalog.locations.get(location),
                ) else {
                    return false;
                };
                place.resources.contains_key(resource)
                    && place.level <= self.level
                    && res.level <= self.level
                    && self.gear(&res.tool, catalog).is_some()
            }
            TaskRequest::Craft { recipe, .. } => catalog
                .recipes
                .get(recipe)
                .is_some_and(|r| r.level <= self.level),
            TaskRequest::Combat { enemy, .. } => catalog.enemies.get(enemy).is_some_and(|e| {
                e.level
                    <= self
                        .level
                        .saturating_add(catalog.rules.combat.max_level_gap)
            }),
        }
    }

    /// The gear a task uses, as item ids (for reports).
    pub fn gear_used(&self, request: &TaskRequest, catalog: &Catalog) -> Vec<String> {
        request
            .gear_slots(catalog)
            .iter()
            .filter_map(|slot| self.gear.get(slot).cloned())
            .collect()
    }

    /// The snapshot the game would freeze when this player starts the task.
    pub fn snapshot(&self, request: &TaskRequest, catalog: &Catalog) -> Snapshot {
        let quantity = u64::from(request.quantity());
        let worst_wear = u64::from(
            catalog
                .rules
                .harvest
                .wear_per_action
                .max(catalog.rules.combat.wear_win)
                .max(catalog.rules.combat.wear_loss),
        );
        let gear: BTreeMap<String, Equipped> = request
            .gear_slots(catalog)
            .into_iter()
            .filter_map(|slot| {
                let item = self.gear.get(&slot)?;
                let stats = catalog.gear(item)?;
                let durability = u64::from(stats.max_durability).max(worst_wear * quantity);
                let equipped = Equipped {
                    item: item.clone(),
                    quality: 0,
                    durability: u32::try_from(durability).unwrap_or(u32::MAX),
                };
                Some((slot, equipped))
            })
            .collect();
        let action_ms = match request {
            TaskRequest::Harvest { resource, .. } => catalog
                .resources
                .get(resource)
                .map(|r| {
                    let tool = self.gear(&r.tool, catalog);
                    harvest::action_ms(r, self.level, tool, catalog)
                })
                .unwrap_or(1),
            _ => request.base_action_ms(catalog).unwrap_or(1).max(1),
        };
        let reserved = match request {
            TaskRequest::Craft { recipe, .. } => catalog
                .recipes
                .get(recipe)
                .map(|r| {
                    r.inputs
                        .iter()
                        .map(|(item, units)| (item.clone(), u64::from(*units) * quantity))
                        .collect()
                })
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        Snapshot {
            character_level: self.level,
            skill_level: self.level,
            action_ms,
            gear,
            pity: BTreeMap::new(),
            reserved,
        }
    }
}

/// Every target of the catalog as a task request of `quantity` actions: each resource at each
/// location offering it, each recipe, each enemy. A recipe that builds a station gets a
/// quantity of 1, the only one the game accepts.
pub fn targets(catalog: &Catalog, quantity: u32) -> Vec<TaskRequest> {
    let mut all = Vec::new();
    for resource in catalog.resources.keys() {
        for (location, place) in &catalog.locations {
            if place.resources.contains_key(resource) {
                all.push(TaskRequest::Harvest {
                    resource: resource.clone(),
                    location: location.clone(),
                    quantity,
                    repeat: None,
                });
            }
        }
    }
    for (recipe, def) in &catalog.recipes {
        // The game builds a station once per task (and once per player).
        let builds_station = catalog
            .item(&def.output)
            .is_some_and(|i| matches!(i.kind, ItemKind::Station));
        all.push(TaskRequest::Craft {
            recipe: recipe.clone(),
            quantity: if builds_station { 1 } else { quantity },
            repeat: None,
        });
    }
    for enemy in catalog.enemies.keys() {
        all.push(TaskRequest::Combat {
            enemy: enemy.clone(),
            quantity,
            repeat: None,
        });
    }
    all
}

/// A short name for a target: `resource (location)`, or the recipe or enemy id.
pub fn target_label(request: &TaskRequest) -> String {
    match request {
        TaskRequest::Harvest {
            resource, location, ..
        } => format!("{resource} ({location})"),
        other => other.target().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_wears_the_best_tier_its_level_allows() {
        let catalog = Catalog::shipped();
        let novice = Profile::at_level(1, catalog);
        assert_eq!(novice.gear["pickaxe"], "bronze_pickaxe");
        assert_eq!(novice.gear["armour"], "leather_body");
        let veteran = Profile::at_level(30, catalog);
        assert_eq!(veteran.gear["pickaxe"], "steel_pickaxe");
        assert_eq!(veteran.gear["weapon"], "steel_sword");
        assert_eq!(veteran.gear["armour"], "steel_platebody");
        assert_eq!(Profile::at_level(500, catalog).level, 99);
    }

    #[test]
    fn a_profile_cannot_harvest_above_its_level() {
        let catalog = Catalog::shipped();
        let yew = TaskRequest::Harvest {
            resource: "yew_log".into(),
            location: "ruins".into(),
            quantity: 1,
            repeat: None,
        };
        assert!(!Profile::at_level(10, catalog).can_do(&yew, catalog));
        assert!(Profile::at_level(60, catalog).can_do(&yew, catalog));
    }
}
