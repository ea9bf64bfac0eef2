//! One test or more per rule; golden outcomes live in `tests/golden.rs`.

use super::*;
use crate::catalog::Catalog;
use crate::model::{Equipped, Snapshot};
use crate::rng::Seed;

fn catalog() -> &'static Catalog {
    Catalog::shipped()
}

#[path = "../../tests/support/snapshot.rs"]
mod support;

fn snapshot(skill: u32, character: u32, gear: &[&str]) -> Snapshot {
    support::snapshot(skill, character, gear, Some(1000))
}

fn seed(n: u8) -> Seed {
    Seed([n; 32])
}

#[test]
fn level_multiplier_is_five_percent_per_level() {
    assert_eq!(level_multiplier(0, catalog()), 1.0);
    assert!((level_multiplier(10, catalog()) - 1.5).abs() < 1e-12);
    assert!((level_multiplier(99, catalog()) - 5.95).abs() < 1e-12);
}

#[test]
fn scaled_xp_rounds_half_up() {
    assert_eq!(scaled_xp(10, 1.5, 1.0, 1.0), 15);
    assert_eq!(scaled_xp(10, 1.0, 1.05, 1.0), 11);
    assert_eq!(scaled_xp(10, 1.0, 1.0, 0.25), 3);
    assert_eq!(scaled_xp(0, 3.0, 2.0, 1.0), 0);
}

#[test]
fn harvest_action_time_shrinks_with_margin_and_tool_speed() {
    let copper = &catalog().resources["copper_ore"];
    let iron = catalog().gear("iron_pickaxe");
    assert_eq!(harvest::action_ms(copper, 1, None, catalog()), 3000);
    // margin 10 → 10% faster; iron pickaxe speed 0.15 → / 1.15.
    assert_eq!(harvest::action_ms(copper, 11, iron, catalog()), 2347);
    // The cut is capped at 40%.
    assert_eq!(harvest::action_ms(copper, 99, None, catalog()), 1800);
}

#[test]
fn harvest_expected_yield_multiplies_every_factor() {
    let c = catalog();
    let stats = harvest::stats(
        "copper_ore",
        &c.resources["copper_ore"],
        &c.locations["mine"],
        11,
        10,
        c.gear("iron_pickaxe"),
        c,
    );
    // 1.0 base × 1.25 mine × 1.1 tool × 1.1 skill (margin 10) × 1.5 level × 1.0 difficulty
    assert!(
        (stats.expected_yield - 2.26875).abs() < 1e-9,
        "{}",
        stats.expected_yield
    );
    assert_eq!(stats.xp_per_action, 15);
    // sapphire 0.004 × (1 + 0.1 tool + 0.2 location)
    assert!((stats.rare[0].2 - 0.0052).abs() < 1e-12);
}

#[test]
fn harvest_yields_floor_or_ceiling_and_wears_the_tool_once_per_action() {
    let snap = snapshot(11, 10, &["iron_pickaxe"]);
    let request = crate::model::TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "mine".into(),
        quantity: 40,
        repeat: None,
    };
    let out = outcome(&request, &snap, &seed(1), catalog(), 40).unwrap();
    let ore = out.items["copper_ore"];
    assert!((2 * 40..=3 * 40).contains(&ore), "{ore}");
    assert_eq!(out.xp, 15 * 40);
    assert_eq!(out.actions, 40);
    assert_eq!(out.successes, 40);
    assert_eq!(out.wear["pickaxe"], 40);
}

/// A catalog whose copper ore drops sapphires only through pity, every `pity` actions.
fn pity_only_catalog(pity: u32) -> Catalog {
    let mut c = catalog().clone();
    let drop = &mut c.resources.get_mut("copper_ore").unwrap().rare_drops[0];
    drop.chance = 0.0;
    drop.pity = pity;
    c
}

#[test]
fn hard_pity_guarantees_a_drop_after_threshold_minus_one_misses() {
    let c = pity_only_catalog(5);
    let request = crate::model::TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 12,
        repeat: None,
    };
    let snap = snapshot(1, 1, &["bronze_pickaxe"]);
    let out = outcome(&request, &snap, &seed(2), &c, 12).unwrap();
    assert_eq!(out.items.get("sapphire"), Some(&2));
    assert_eq!(out.pity_drops, 2);
    assert_eq!(out.pity["copper_ore:sapphire"], 2);
}

#[test]
fn pity_carries_over_from_the_snapshot() {
    let c = pity_only_catalog(5);
    let request = crate::model::TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 2,
        repeat: None,
    };
    let mut snap = snapshot(1, 1, &["bronze_pickaxe"]);
    snap.pity.insert("copper_ore:sapphire".into(), 3);
    let out = outcome(&request, &snap, &seed(2), &c, 2).unwrap();
    // Misses 3 → 4 after the first action; the second is the fifth and drops.
    assert_eq!(out.items.get("sapphire"), Some(&1));
    assert_eq!(out.pity["copper_ore:sapphire"], 0);
}

#[test]
fn craft_success_rises_with_margin_falls_with_complexity_and_is_clamped() {
    let c = catalog();
    let bar = &c.recipes["bronze_bar"]; // level 1, complexity 1.0
    assert!((craft::stats(bar, 1, 1, c).success_chance - 0.75).abs() < 1e-12);
    assert!((craft::stats(bar, 11, 1, c).success_chance - 0.95).abs() < 1e-12);
    assert!((craft::stats(bar, 99, 1, c).success_chance - 0.99).abs() < 1e-12);
    let steel = &c.recipes["steel_bar"]; // level 30, complexity 1.8
    assert!((craft::stats(steel, 30, 1, c).success_chance - 0.67).abs() < 1e-12);
    let mut hard = steel.clone();
    hard.complexity = 10.0;
    assert!((craft::stats(&hard, 30, 1, c).success_chance - 0.05).abs() < 1e-12);
}

#[test]
fn craft_preservation_grows_with_margin_up_to_its_cap() {
    let c = catalog();
    let bar = &c.recipes["bronze_bar"];
    assert_eq!(craft::stats(bar, 1, 1, c).preserve_chance, 0.0);
    assert!((craft::stats(bar, 21, 1, c).preserve_chance - 0.1).abs() < 1e-12);
    assert!((craft::stats(bar, 99, 1, c).preserve_chance - 0.25).abs() < 1e-12);
}

#[test]
fn higher_margin_shifts_quality_weight_to_higher_tiers() {
    let c = catalog();
    let sword = &c.recipes["bronze_sword"];
    let low = craft::stats(sword, 1, 1, c).quality_weights;
    let high = craft::stats(sword, 41, 1, c).quality_weights;
    assert_eq!(low, vec![1000, 150, 40, 8, 1]);
    // growth 1 + 0.05·40 = 3 per tier.
    assert_eq!(high, vec![1000, 450, 360, 216, 81]);
    // Recipes without quality always make normal items.
    assert_eq!(
        craft::stats(&c.recipes["bronze_bar"], 41, 1, c).quality_weights,
        vec![1]
    );
}

#[test]
fn failed_crafts_give_no_item_and_a_share_of_the_xp() {
    let mut c = catalog().clone();
    let recipe = c.recipes.get_mut("bronze_bar").unwrap();
    recipe.complexity = 10.0; // success clamps to 5%
    let request = crate::model::TaskRequest::Craft {
        recipe: "bronze_bar".into(),
        quantity: 50,
        repeat: None,
    };
    let out = outcome(&request, &snapshot(1, 1, &[]), &seed(3), &c, 50).unwrap();
    let stats = craft::stats(&c.recipes["bronze_bar"], 1, 1, &c);
    let made = out.items.get("bronze_bar").copied().unwrap_or(0);
    assert_eq!(made, u64::from(out.successes));
    assert!(out.successes < 10, "{}", out.successes);
    let failures = u64::from(50 - out.successes);
    assert_eq!(
        out.xp,
        stats.xp_success * u64::from(out.successes) + stats.xp_failure * failures
    );
    assert_eq!(stats.xp_failure, 2); // round(8 × 0.25 × 1.05)
}

#[test]
fn preserved_units_never_exceed_the_inputs_of_the_actions_settled() {
    let request = crate::model::TaskRequest::Craft {
        recipe: "steel_bar".into(),
        quantity: 200,
        repeat: None,
    };
    let out = outcome(&request, &snapshot(99, 99, &[]), &seed(4), catalog(), 200).unwrap();
    let inputs = &catalog().recipes["steel_bar"].inputs;
    for (item, kept) in &out.preserved {
        assert!(*kept <= u64::from(inputs[item]) * 200);
    }
    assert!(
        out.preserved.values().sum::<u64>() > 0,
        "margin 69 preserves something"
    );
}

#[test]
fn crafting_a_station_builds_it_instead_of_an_item() {
    let request = crate::model::TaskRequest::Craft {
        recipe: "furnace".into(),
        quantity: 1,
        repeat: None,
    };
    let out = outcome(&request, &snapshot(99, 1, &[]), &seed(5), catalog(), 1).unwrap();
    assert_eq!(out.successes, 1);
    assert_eq!(out.stations, vec!["furnace".to_owned()]);
    assert!(out.items.is_empty());
}

#[test]
fn osrs_accuracy_formula() {
    assert_eq!(combat::roll(1, 0), 576);
    assert_eq!(combat::roll(10, 8), 18 * 72);
    assert!((combat::hit_chance(1000, 500) - (1.0 - 502.0 / 2002.0)).abs() < 1e-12);
    assert!((combat::hit_chance(500, 1000) - 500.0 / 2002.0).abs() < 1e-12);
    assert!((combat::hit_chance(576, 576) - 576.0 / 1154.0).abs() < 1e-12);
    assert_eq!(combat::hit_chance(0, 10), 0.0);
}

#[test]
fn matchup_uses_weapon_and_armour() {
    let c = catalog();
    let goblin = &c.enemies["goblin"];
    let bare = combat::matchup(5, None, None, goblin, c);
    let armed = combat::matchup(5, c.gear("iron_sword"), c.gear("iron_platebody"), goblin, c);
    assert!(armed.player_hit > bare.player_hit);
    assert!(armed.player_max_hit >= bare.player_max_hit);
    assert!(armed.enemy_hit < bare.enemy_hit);
    assert_eq!(bare.player_hitpoints, 15);
    assert_eq!(bare.player_max_hit, 1 + (13 * 64 / 640));
}

#[test]
fn an_enemy_that_cannot_hit_never_wins_and_a_stalemate_is_a_loss() {
    let m = combat::Matchup {
        player_hit: 0.0,
        player_max_hit: 1,
        player_hitpoints: 1,
        enemy_hit: 1.0,
        enemy_max_hit: 0,
        enemy_hitpoints: 10,
    };
    assert!(!combat::fight(
        &m,
        100,
        &mut seed(6).rolls(crate::rng::RollKind::CombatFight, 0)
    ));
    let sure = combat::Matchup {
        player_hit: 1.0,
        player_max_hit: 10,
        ..m
    };
    assert!(combat::fight(
        &sure,
        100,
        &mut seed(6).rolls(crate::rng::RollKind::CombatFight, 0)
    ));
}

#[test]
fn combat_wins_drop_the_always_loot_and_losses_give_reduced_xp() {
    let c = catalog();
    let request = crate::model::TaskRequest::Combat {
        enemy: "cow".into(),
        quantity: 20,
        repeat: None,
    };
    let out = outcome(
        &request,
        &snapshot(30, 30, &["iron_sword", "iron_platebody"]),
        &seed(7),
        c,
        20,
    )
    .unwrap();
    assert_eq!(out.successes, 20, "a level 30 fighter beats every cow");
    // bones 1 × common 1.0 × level 2.5 × difficulty 1.0 = 2.5 per win → 2 or 3.
    assert!((40..=60).contains(&out.items["bones"]), "{:?}", out.items);
    assert_eq!(out.wear["weapon"], 20);
    assert_eq!(out.wear["armour"], 20);

    let request = crate::model::TaskRequest::Combat {
        enemy: "dragon".into(),
        quantity: 5,
        repeat: None,
    };
    let out = outcome(&request, &snapshot(1, 1, &[]), &seed(7), c, 5).unwrap();
    assert_eq!(out.successes, 0, "a level 1 fighter loses to a dragon");
    assert!(out.items.is_empty());
    // round(400 × 4.0 difficulty × 1.05 level × 0.1) per loss.
    assert_eq!(out.xp, 5 * 168);
    assert!(out.wear.is_empty(), "no gear, no wear");
}

#[test]
fn broken_combat_gear_stops_wearing_and_helping() {
    let c = catalog();
    let request = crate::model::TaskRequest::Combat {
        enemy: "chicken".into(),
        quantity: 10,
        repeat: None,
    };
    let mut snap = snapshot(20, 20, &["bronze_sword"]);
    snap.gear.get_mut("weapon").unwrap().durability = 3;
    let out = outcome(&request, &snap, &seed(8), c, 10).unwrap();
    assert_eq!(out.wear["weapon"], 3);
}

#[test]
fn a_prefix_of_actions_is_the_start_of_the_whole_task() {
    let c = catalog();
    let requests = [
        crate::model::TaskRequest::Harvest {
            resource: "iron_ore".into(),
            location: "mine".into(),
            quantity: 30,
            repeat: None,
        },
        crate::model::TaskRequest::Craft {
            recipe: "iron_sword".into(),
            quantity: 30,
            repeat: None,
        },
        crate::model::TaskRequest::Combat {
            enemy: "goblin".into(),
            quantity: 30,
            repeat: None,
        },
    ];
    let snap = snapshot(40, 40, &["iron_pickaxe", "iron_sword", "leather_body"]);
    for request in &requests {
        let mut previous = outcome(request, &snap, &seed(9), c, 0).unwrap();
        assert_eq!(previous.xp, 0);
        for k in 1..=30 {
            let next = outcome(request, &snap, &seed(9), c, k).unwrap();
            assert!(next.xp >= previous.xp);
            assert!(next.successes >= previous.successes);
            for (item, units) in &previous.items {
                assert!(
                    next.items.get(item).copied().unwrap_or(0) >= *units,
                    "{request:?} {k}"
                );
            }
            previous = next;
        }
    }
}

#[test]
fn an_unknown_target_is_an_error_not_a_panic() {
    let request = crate::model::TaskRequest::Combat {
        enemy: "unicorn".into(),
        quantity: 1,
        repeat: None,
    };
    let err = outcome(&request, &snapshot(1, 1, &[]), &seed(1), catalog(), 1).unwrap_err();
    assert!(err.to_string().contains("unicorn"));
}
