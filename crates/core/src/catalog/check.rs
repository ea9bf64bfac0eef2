//! Load-time checks: every reference resolves and every number is in its range.

use super::types::*;

/// Why a catalog was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog does not parse at `{path}`: {source}")]
    Parse {
        /// Where in the file, e.g. `enemies.cow.hitpoints` (`.` for the whole file).
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("catalog entry `{entry}`, field `{field}`: {problem}")]
    Invalid {
        /// The offending entry, e.g. `recipes.bronze_bar`.
        entry: String,
        /// The offending field, e.g. `inputs.copper_ore`.
        field: String,
        problem: String,
    },
}

struct Checker<'a> {
    catalog: &'a Catalog,
    entry: String,
}

type Checked = Result<(), CatalogError>;

impl<'a> Checker<'a> {
    fn at(catalog: &'a Catalog, entry: impl Into<String>) -> Self {
        Checker {
            catalog,
            entry: entry.into(),
        }
    }

    fn fail(&self, field: &str, problem: impl Into<String>) -> CatalogError {
        CatalogError::Invalid {
            entry: self.entry.clone(),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    fn item(&self, field: &str, id: &str) -> Checked {
        if self.catalog.items.contains_key(id) {
            Ok(())
        } else {
            Err(self.fail(field, format!("unknown item `{id}`")))
        }
    }

    fn probability(&self, field: &str, p: f64) -> Checked {
        if (0.0..=1.0).contains(&p) {
            Ok(())
        } else {
            Err(self.fail(field, format!("probability {p} is outside [0, 1]")))
        }
    }

    /// A finite number within `[min, max]`.
    fn within(&self, field: &str, value: f64, min: f64, max: f64) -> Checked {
        if value.is_finite() && value >= min && value <= max {
            Ok(())
        } else {
            Err(self.fail(field, format!("{value} is outside [{min}, {max}]")))
        }
    }

    fn positive(&self, field: &str, value: u64) -> Checked {
        if value > 0 {
            Ok(())
        } else {
            Err(self.fail(field, "must be at least 1"))
        }
    }

    fn level(&self, field: &str, level: u32) -> Checked {
        let max = self.catalog.rules.max_level;
        if (1..=max).contains(&level) {
            Ok(())
        } else {
            Err(self.fail(field, format!("level {level} is outside [1, {max}]")))
        }
    }

    fn difficulty(&self, difficulty: f64) -> Checked {
        self.within("difficulty", difficulty, 1.0, 100.0)
    }

    fn range(&self, field: &str, min: u32, max: u32) -> Checked {
        if min <= max {
            Ok(())
        } else {
            Err(self.fail(field, format!("min {min} is greater than max {max}")))
        }
    }
}

/// Most units one action may produce before multipliers; keeps every reward far from overflow.
const MAX_UNITS: f64 = 1_000.0;
/// Longest single action: one hour.
const MAX_ACTION_MS: u64 = 3_600_000;

pub(super) fn check(catalog: &Catalog) -> Checked {
    check_rules(catalog)?;
    for (id, item) in &catalog.items {
        check_item(&Checker::at(catalog, format!("items.{id}")), item)?;
    }
    for (id, location) in &catalog.locations {
        let c = Checker::at(catalog, format!("locations.{id}"));
        c.level("level", location.level)?;
        c.within("rare_bonus", location.rare_bonus, 0.0, 10.0)?;
        if location.resources.is_empty() {
            return Err(c.fail("resources", "a location needs at least one resource"));
        }
        for (resource, modifier) in &location.resources {
            let field = format!("resources.{resource}");
            if !catalog.resources.contains_key(resource) {
                return Err(c.fail(&field, format!("unknown resource `{resource}`")));
            }
            c.within(&field, *modifier, 0.01, 10.0)?;
        }
    }
    for (id, resource) in &catalog.resources {
        check_resource(&Checker::at(catalog, format!("resources.{id}")), resource)?;
        if !catalog
            .locations
            .values()
            .any(|l| l.resources.contains_key(id))
        {
            return Err(Checker::at(catalog, format!("resources.{id}"))
                .fail("location", "no location offers this resource"));
        }
    }
    for (id, recipe) in &catalog.recipes {
        check_recipe(&Checker::at(catalog, format!("recipes.{id}")), recipe)?;
    }
    for (id, enemy) in &catalog.enemies {
        check_enemy(&Checker::at(catalog, format!("enemies.{id}")), enemy)?;
    }
    check_tables(catalog)
}

fn check_rules(catalog: &Catalog) -> Checked {
    let rules = &catalog.rules;
    let c = Checker::at(catalog, "rules");
    if !(2..=120).contains(&rules.max_level) {
        return Err(c.fail("max_level", "must be within [2, 120]"));
    }
    c.within(
        "level_bonus_per_level",
        rules.level_bonus_per_level,
        0.0,
        1.0,
    )?;
    // At least a minute: a shorter cap would pause every player between two messages.
    if rules.offline_cap_ms < 60_000 {
        return Err(c.fail("offline_cap_ms", "must be at least 60000 (one minute)"));
    }
    let h = &rules.harvest;
    c.within(
        "harvest.time_cut_per_margin",
        h.time_cut_per_margin,
        0.0,
        0.1,
    )?;
    c.within("harvest.max_time_cut", h.max_time_cut, 0.0, 0.9)?;
    c.within("harvest.yield_per_margin", h.yield_per_margin, 0.0, 0.1)?;
    c.within(
        "harvest.max_yield_margin",
        f64::from(h.max_yield_margin),
        0.0,
        120.0,
    )?;
    c.within(
        "harvest.wear_per_action",
        f64::from(h.wear_per_action),
        0.0,
        100.0,
    )?;
    let k = &rules.craft;
    c.probability("craft.base_success", k.base_success)?;
    c.within("craft.success_per_margin", k.success_per_margin, 0.0, 1.0)?;
    c.within("craft.complexity_penalty", k.complexity_penalty, 0.0, 1.0)?;
    c.probability("craft.min_success", k.min_success)?;
    c.probability("craft.max_success", k.max_success)?;
    if k.min_success > k.max_success {
        return Err(c.fail("craft.min_success", "is greater than craft.max_success"));
    }
    c.within("craft.preserve_per_margin", k.preserve_per_margin, 0.0, 1.0)?;
    c.probability("craft.max_preserve", k.max_preserve)?;
    c.probability("craft.failure_xp_share", k.failure_xp_share)?;
    c.within("craft.quality_per_margin", k.quality_per_margin, 0.0, 1.0)?;
    let f = &rules.combat;
    c.positive("combat.max_rounds", u64::from(f.max_rounds))?;
    c.within("combat.max_rounds", f64::from(f.max_rounds), 1.0, 10_000.0)?;
    c.positive("combat.base_hitpoints", u64::from(f.base_hitpoints))?;
    c.within(
        "combat.hitpoints_per_level",
        f64::from(f.hitpoints_per_level),
        0.0,
        100.0,
    )?;
    c.probability("combat.loss_xp_share", f.loss_xp_share)?;
    c.within("combat.wear_win", f64::from(f.wear_win), 0.0, 100.0)?;
    c.within("combat.wear_loss", f64::from(f.wear_loss), 0.0, 100.0)?;
    Ok(())
}

fn check_item(c: &Checker, item: &ItemDef) -> Checked {
    if item.name.trim().is_empty() {
        return Err(c.fail("name", "must not be empty"));
    }
    let ItemKind::Gear(gear) = &item.kind else {
        return Ok(());
    };
    if gear.slot.trim().is_empty() {
        return Err(c.fail("kind.gear.slot", "must not be empty"));
    }
    c.positive("kind.gear.tier", u64::from(gear.tier))?;
    c.level("kind.gear.level", gear.level)?;
    c.positive("kind.gear.max_durability", u64::from(gear.max_durability))?;
    c.within(
        "kind.gear.max_durability",
        f64::from(gear.max_durability),
        1.0,
        1e6,
    )?;
    c.within("kind.gear.speed", gear.speed, 0.0, 10.0)?;
    c.within("kind.gear.yield_bonus", gear.yield_bonus, 0.0, 10.0)?;
    c.within("kind.gear.rare_bonus", gear.rare_bonus, 0.0, 10.0)?;
    c.within("kind.gear.attack", f64::from(gear.attack), 0.0, 10_000.0)?;
    c.within(
        "kind.gear.strength",
        f64::from(gear.strength),
        0.0,
        10_000.0,
    )?;
    c.within("kind.gear.defence", f64::from(gear.defence), 0.0, 10_000.0)
}

fn check_resource(c: &Checker, resource: &ResourceDef) -> Checked {
    c.item("item", &resource.item)?;
    c.level("level", resource.level)?;
    let has_tool =
        c.catalog.items.values().any(
            |i| matches!(&i.kind, ItemKind::Gear(g) if g.is_tool() && g.slot == resource.tool),
        );
    if !has_tool {
        return Err(c.fail("tool", format!("no tool item has slot `{}`", resource.tool)));
    }
    c.within(
        "action_ms",
        resource.action_ms as f64,
        1.0,
        MAX_ACTION_MS as f64,
    )?;
    c.within("base_yield", resource.base_yield, 0.0, MAX_UNITS)?;
    c.within("xp", f64::from(resource.xp), 0.0, 1e6)?;
    c.difficulty(resource.difficulty)?;
    for (i, drop) in resource.rare_drops.iter().enumerate() {
        c.item(&format!("rare_drops[{i}].item"), &drop.item)?;
        c.probability(&format!("rare_drops[{i}].chance"), drop.chance)?;
        c.positive(&format!("rare_drops[{i}].pity"), u64::from(drop.pity))?;
    }
    Ok(())
}

fn check_recipe(c: &Checker, recipe: &RecipeDef) -> Checked {
    c.item("output", &recipe.output)?;
    c.positive("output_qty", u64::from(recipe.output_qty))?;
    c.within("output_qty", f64::from(recipe.output_qty), 1.0, MAX_UNITS)?;
    if recipe.inputs.is_empty() {
        return Err(c.fail("inputs", "a recipe needs at least one input"));
    }
    for (item, units) in &recipe.inputs {
        let field = format!("inputs.{item}");
        c.item(&field, item)?;
        c.positive(&field, u64::from(*units))?;
        c.within(&field, f64::from(*units), 1.0, MAX_UNITS)?;
    }
    if let Some(station) = &recipe.station {
        if !c.catalog.stations.contains_key(station) {
            return Err(c.fail("station", format!("unknown station `{station}`")));
        }
    }
    c.level("level", recipe.level)?;
    c.within("complexity", recipe.complexity, 1.0, 10.0)?;
    c.within(
        "action_ms",
        recipe.action_ms as f64,
        1.0,
        MAX_ACTION_MS as f64,
    )?;
    c.within("xp", f64::from(recipe.xp), 0.0, 1e6)?;
    c.difficulty(recipe.difficulty)?;
    let output = &c.catalog.items[&recipe.output];
    if matches!(output.kind, ItemKind::Station) {
        if !c.catalog.stations.contains_key(&recipe.output) {
            return Err(c.fail("output", "a station item must also be listed in `stations`"));
        }
        if recipe.output_qty != 1 || recipe.quality {
            return Err(c.fail("output_qty", "a station is crafted once, without quality"));
        }
    }
    Ok(())
}

fn check_enemy(c: &Checker, enemy: &EnemyDef) -> Checked {
    c.level("level", enemy.level)?;
    c.within("attack", f64::from(enemy.attack), 0.0, 10_000.0)?;
    c.within("defence", f64::from(enemy.defence), 0.0, 10_000.0)?;
    c.positive("hitpoints", u64::from(enemy.hitpoints))?;
    c.within("hitpoints", f64::from(enemy.hitpoints), 1.0, 100_000.0)?;
    c.within("max_hit", f64::from(enemy.max_hit), 0.0, 10_000.0)?;
    c.within(
        "action_ms",
        enemy.action_ms as f64,
        1.0,
        MAX_ACTION_MS as f64,
    )?;
    c.within("xp", f64::from(enemy.xp), 0.0, 1e6)?;
    c.difficulty(enemy.difficulty)?;
    let loot = &enemy.loot;
    for (i, entry) in loot.always.iter().enumerate() {
        c.item(&format!("loot.always[{i}].item"), &entry.item)?;
        c.range(&format!("loot.always[{i}]"), entry.min, entry.max)?;
        c.within(
            &format!("loot.always[{i}].max"),
            f64::from(entry.max),
            0.0,
            MAX_UNITS,
        )?;
    }
    let table = &loot.weighted;
    c.within("loot.weighted.rolls", f64::from(table.rolls), 0.0, 100.0)?;
    let total: u64 = table
        .entries
        .iter()
        .map(|e| u64::from(e.weight))
        .sum::<u64>()
        + u64::from(table.empty_weight);
    if table.rolls > 0 && total == 0 {
        return Err(c.fail("loot.weighted", "rolled but every weight is zero"));
    }
    for (i, entry) in table.entries.iter().enumerate() {
        c.item(&format!("loot.weighted.entries[{i}].item"), &entry.item)?;
        c.range(&format!("loot.weighted.entries[{i}]"), entry.min, entry.max)?;
        c.within(
            &format!("loot.weighted.entries[{i}].max"),
            f64::from(entry.max),
            0.0,
            MAX_UNITS,
        )?;
    }
    for (i, entry) in loot.tertiary.iter().enumerate() {
        c.item(&format!("loot.tertiary[{i}].item"), &entry.item)?;
        c.probability(&format!("loot.tertiary[{i}].chance"), entry.chance)?;
    }
    Ok(())
}

fn check_tables(catalog: &Catalog) -> Checked {
    let c = Checker::at(catalog, "rarities");
    for rarity in [
        Rarity::Common,
        Rarity::Uncommon,
        Rarity::Rare,
        Rarity::Epic,
        Rarity::Legendary,
    ] {
        let field = format!("{rarity:?}").to_lowercase();
        let Some(multiplier) = catalog.rarities.get(&rarity) else {
            return Err(c.fail(&field, "missing"));
        };
        c.within(&field, *multiplier, 1.0, 10.0)?;
    }
    let c = Checker::at(catalog, "quality_tiers");
    if catalog.quality_tiers.is_empty() || catalog.quality_tiers.len() > 8 {
        return Err(c.fail("", "needs between 1 and 8 tiers"));
    }
    for (i, tier) in catalog.quality_tiers.iter().enumerate() {
        c.within(&format!("[{i}].multiplier"), tier.multiplier, 1.0, 10.0)?;
        if tier.name.contains('@') || tier.name.trim().is_empty() {
            return Err(c.fail(
                &format!("[{i}].name"),
                "must be a non-empty word without `@`",
            ));
        }
    }
    if catalog.quality_tiers[0].weight == 0 {
        return Err(c.fail("[0].weight", "the normal tier needs a weight above zero"));
    }
    let c = Checker::at(catalog, "starter");
    for item in catalog.starter.inventory.keys() {
        c.item(&format!("inventory.{item}"), item)?;
    }
    let mut slots = std::collections::BTreeSet::new();
    for (i, item) in catalog.starter.equipment.iter().enumerate() {
        let field = format!("equipment[{i}]");
        let Some(gear) = catalog.gear(item) else {
            return Err(c.fail(&field, format!("`{item}` is not gear")));
        };
        if !slots.insert(gear.slot.as_str()) {
            return Err(c.fail(&field, format!("slot `{}` is filled twice", gear.slot)));
        }
    }
    for station in &catalog.starter.stations {
        if !catalog.stations.contains_key(station) {
            return Err(c.fail("stations", format!("unknown station `{station}`")));
        }
    }
    for id in catalog.items.keys() {
        if id.contains('@') {
            return Err(Checker::at(catalog, format!("items.{id}")).fail(
                "id",
                "item ids must not contain `@` (it separates the quality tier)",
            ));
        }
    }
    Ok(())
}
