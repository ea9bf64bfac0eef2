//! The balance checks: what they find in the shipped catalog and in catalogs made to fail.

use idle_balance::check::{check, has_errors, Check, Finding, Severity, PITY_TOLERANCE};
use idle_balance::pity::{actions_per_drop, pity_lift};
use idle_core::catalog::{Catalog, ItemKind};

fn errors(findings: &[Finding]) -> Vec<(Check, String)> {
    let mut errors: Vec<(Check, String)> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.check, f.subject.clone()))
        .collect();
    errors.sort();
    errors
}

fn shipped_copy() -> Catalog {
    Catalog::shipped().clone()
}

fn gear_mut<'c>(catalog: &'c mut Catalog, id: &str) -> &'c mut idle_core::catalog::Gear {
    match &mut catalog.items.get_mut(id).expect("item exists").kind {
        ItemKind::Gear(gear) => gear,
        _ => panic!("{id} is not gear"),
    }
}

/// The shipped catalog passes every error-level check: no option is dominated, no reward falls
/// as level rises, and pity never lifts a drop's rate beyond the tolerance.
#[test]
fn the_shipped_catalog_passes_the_balance_checks() {
    let findings = check(Catalog::shipped()).unwrap();
    assert_eq!(errors(&findings), Vec::<(Check, String)>::new());
    assert!(findings
        .iter()
        .all(|f| !matches!(f.check, Check::DominatedGear | Check::FallingReward)));
}

#[test]
fn a_higher_tier_tool_slower_than_a_lower_one_is_dominated_and_its_rewards_fall() {
    let mut catalog = shipped_copy();
    // Steel (tier 3, level 20) now slower than iron (tier 2, speed 0.15).
    gear_mut(&mut catalog, "steel_pickaxe").speed = 0.1;
    let findings = check(&catalog).unwrap();
    let dominated: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.check == Check::DominatedGear)
        .collect();
    assert_eq!(dominated.len(), 1, "{dominated:?}");
    assert_eq!(dominated[0].subject, "steel_pickaxe");
    assert!(dominated[0].message.contains("speed 0.1 < 0.15"));
    // Switching to it at level 20 slows every pickaxe resource down.
    let falling: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.check == Check::FallingReward)
        .collect();
    assert!(falling
        .iter()
        .any(|f| f.subject == "copper_ore (meadow)" && f.message.contains("at level 20")));
    assert!(has_errors(&findings));
}

#[test]
fn a_weapon_with_less_attack_than_a_lower_tier_is_dominated() {
    let mut catalog = shipped_copy();
    gear_mut(&mut catalog, "mithril_sword").attack = 20;
    let findings = check(&catalog).unwrap();
    assert!(findings.iter().any(|f| f.check == Check::DominatedGear
        && f.subject == "mithril_sword"
        && f.message.contains("attack 20 < 30")));
}

#[test]
fn pity_distortion_uses_the_exact_expected_actions_per_drop() {
    // Given a drop at 1 in 100 with pity 100: Σ_{k=1}^{100} 0.99^(k−1) = 63.4 actions per drop.
    let expected: f64 = (0..100).map(|k| 0.99f64.powi(k)).sum();
    assert!((actions_per_drop(0.01, 100) - expected).abs() < 1e-9);
    assert!((pity_lift(0.01, 100) - 100.0 / expected).abs() < 1e-9);
    assert!(pity_lift(0.01, 100) > PITY_TOLERANCE);
    // When the shipped catalog's yew bird nest gets that pity, the check flags it…
    let mut catalog = shipped_copy();
    let yew = catalog.resources.get_mut("yew_log").unwrap();
    yew.rare_drops[0].pity = 100;
    let findings = check(&catalog).unwrap();
    let flagged = findings
        .iter()
        .find(|f| f.check == Check::PityDistortion && f.subject == "yew_log:bird_nest")
        .expect("flagged");
    assert!(flagged.message.contains("1.577×"), "{}", flagged.message);
    // …and a generous pity is not flagged.
    let yew = catalog.resources.get_mut("yew_log").unwrap();
    yew.rare_drops[0].pity = 1000;
    let findings = check(&catalog).unwrap();
    assert!(!findings.iter().any(|f| f.subject == "yew_log:bird_nest"));
}

#[test]
fn a_location_that_offers_a_resource_only_worse_is_never_worth_it() {
    let mut catalog = shipped_copy();
    // The forest now also has copper, but less of it and at a higher level than the meadow.
    let forest = catalog.locations.get_mut("forest").unwrap();
    forest.resources.insert("copper_ore".into(), 0.8);
    forest.rare_bonus = 0.0;
    let findings = check(&catalog).unwrap();
    let finding = findings
        .iter()
        .find(|f| f.subject == "copper_ore (forest)")
        .expect("copper in the forest is flagged");
    assert_eq!(finding.check, Check::NeverWorthIt);
    assert_eq!(finding.severity, Severity::Error);
    assert!(finding.message.contains("copper_ore (meadow)"));
}

#[test]
fn an_enemy_whose_loot_another_covers_and_beats_is_never_worth_it() {
    let mut catalog = shipped_copy();
    // Chickens now drop only bones, which cows drop too, so nothing is lost by skipping them.
    let chicken = catalog.enemies.get_mut("chicken").unwrap();
    chicken.loot.weighted.entries.clear();
    let findings = check(&catalog).unwrap();
    let finding = findings
        .iter()
        .find(|f| f.subject == "chicken")
        .expect("chicken is flagged");
    assert_eq!(finding.severity, Severity::Error);
    // In the shipped catalog the feathers only chickens drop keep it a warning.
    let shipped = check(Catalog::shipped()).unwrap();
    let finding = shipped.iter().find(|f| f.subject == "chicken").unwrap();
    assert_eq!(finding.severity, Severity::Warning);
}
