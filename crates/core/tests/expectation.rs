//! Sample means over many seeded actions match the closed-form expectations.
//!
//! Each check allows 4 standard errors of the sample mean: a correct implementation fails one
//! such check about once in 16,000 runs, and the seeds are fixed, so a run either always passes
//! or always fails.

use idle_core::catalog::Catalog;
use idle_core::model::{Equipped, Snapshot, TaskRequest};
use idle_core::rng::Seed;
use idle_core::rules::{self, combat, craft, harvest};

fn catalog() -> &'static Catalog {
    Catalog::shipped()
}

#[path = "support/snapshot.rs"]
mod support;

fn snapshot(skill: u32, character: u32, gear: &[&str]) -> Snapshot {
    support::snapshot(skill, character, gear, Some(1_000_000))
}

fn seed() -> Seed {
    Seed::for_task(b"expectation-test-secret-expectation", "player", "task")
}

/// Asserts `mean` is within 4 standard errors of `expected`.
fn assert_close(what: &str, mean: f64, expected: f64, std_dev: f64, n: u64) {
    let tolerance = 4.0 * std_dev / (n as f64).sqrt();
    assert!(
        (mean - expected).abs() <= tolerance,
        "{what}: mean {mean} vs expected {expected} (tolerance {tolerance})"
    );
}

#[test]
fn mean_harvest_yield_matches_the_closed_form() {
    let c = catalog();
    for (resource, location, skill, level, tool) in [
        ("copper_ore", "mine", 11, 10, "iron_pickaxe"),
        ("oak_log", "forest", 40, 25, "steel_hatchet"),
        ("guam_leaf", "meadow", 1, 1, "bronze_sickle"),
        ("mithril_ore", "ruins", 70, 80, "mithril_pickaxe"),
    ] {
        let n = 40_000;
        let request = TaskRequest::Harvest {
            resource: resource.into(),
            location: location.into(),
            quantity: n,
            repeat: None,
        };
        let out =
            rules::outcome(&request, &snapshot(skill, level, &[tool]), &seed(), c, n).unwrap();
        let stats = harvest::stats(
            resource,
            &c.resources[resource],
            &c.locations[location],
            skill,
            level,
            c.gear(tool),
            c,
        );
        let mean = out.items[&c.resources[resource].item] as f64 / f64::from(n);
        // Only the Bernoulli draw on the fraction varies: σ ≤ 0.5.
        assert_close(resource, mean, stats.expected_yield, 0.5, u64::from(n));
    }
}

#[test]
fn rare_drop_rate_without_pity_matches_the_chance() {
    let mut c = catalog().clone();
    c.resources.get_mut("copper_ore").unwrap().rare_drops[0].pity = u32::MAX;
    let n = 300_000;
    let request = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "mine".into(),
        quantity: n,
        repeat: None,
    };
    let out = rules::outcome(
        &request,
        &snapshot(1, 1, &["steel_pickaxe"]),
        &seed(),
        &c,
        n,
    )
    .unwrap();
    let stats = harvest::stats(
        "copper_ore",
        &c.resources["copper_ore"],
        &c.locations["mine"],
        1,
        1,
        c.gear("steel_pickaxe"),
        &c,
    );
    let p = stats.rare[0].2;
    let rate = out.items.get("sapphire").copied().unwrap_or(0) as f64 / f64::from(n);
    assert_close("sapphire", rate, p, (p * (1.0 - p)).sqrt(), u64::from(n));
    assert_eq!(out.pity_drops, 0);
}

#[test]
fn craft_success_rate_matches_the_chance() {
    let c = catalog();
    for (recipe, skill) in [
        ("steel_bar", 30),
        ("bronze_sword", 5),
        ("mithril_sword", 60),
    ] {
        let n = 40_000;
        let request = TaskRequest::Craft {
            recipe: recipe.into(),
            quantity: n,
            repeat: None,
        };
        let out = rules::outcome(&request, &snapshot(skill, 1, &[]), &seed(), c, n).unwrap();
        let p = craft::stats(&c.recipes[recipe], skill, 1, c).success_chance;
        let rate = f64::from(out.successes) / f64::from(n);
        assert_close(recipe, rate, p, (p * (1.0 - p)).sqrt(), u64::from(n));
    }
}

#[test]
fn mean_loot_per_win_matches_the_table() {
    let c = catalog();
    let n = 20_000;
    let request = TaskRequest::Combat {
        enemy: "goblin".into(),
        quantity: n,
        repeat: None,
    };
    let out = rules::outcome(
        &request,
        &snapshot(60, 20, &["mithril_sword", "steel_platebody"]),
        &seed(),
        c,
        n,
    )
    .unwrap();
    assert_eq!(out.successes, n, "a level 60 fighter always beats a goblin");
    let enemy = &c.enemies["goblin"];
    let multiplier = combat::loot_multiplier(enemy, 20, c);
    // Coins: weight 40 of 100, 2..=12 (mean 7), times the multiplier.
    let table = &enemy.loot.weighted;
    let total: u32 = table.entries.iter().map(|e| e.weight).sum::<u32>() + table.empty_weight;
    let coins = table.entries.iter().find(|e| e.item == "coins").unwrap();
    let p = f64::from(coins.weight) / f64::from(total);
    let mean_units = f64::from(coins.min + coins.max) / 2.0 * multiplier;
    let expected = p * mean_units;
    // Upper bound on σ: the largest possible draw.
    let sd = f64::from(coins.max) * multiplier;
    let mean = out.items["coins"] as f64 / f64::from(n);
    assert_close("coins", mean, expected, sd, u64::from(n));
}
