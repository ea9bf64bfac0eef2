//! Closed-form harvesting against Monte Carlo of the real `rules::outcome`.

use idle_balance::expect::expect;
use idle_balance::profile::Profile;
use idle_balance::simulate::{sim_seed, simulate, Distribution};
use idle_core::catalog::Catalog;
use idle_core::model::TaskRequest;
use idle_core::rules::{self, harvest};

const TOLERANCE_SE: f64 = 4.0;

fn harvest_request(resource: &str, location: &str, quantity: u32) -> TaskRequest {
    TaskRequest::Harvest {
        resource: resource.into(),
        location: location.into(),
        quantity,
        repeat: None,
    }
}

#[test]
fn closed_form_yield_matches_monte_carlo() {
    let catalog = Catalog::shipped();
    let cases = [
        (1, "copper_ore", "meadow"),
        (10, "guam_leaf", "forest"),
        (30, "ranarr_weed", "ruins"),
        (60, "yew_log", "ruins"),
    ];
    let (tasks, quantity) = (400, 25);
    for (level, resource, location) in cases {
        let profile = Profile::at_level(level, catalog);
        let request = harvest_request(resource, location, quantity);
        let def = &catalog.resources[resource];
        let stats = harvest::stats(
            resource,
            def,
            &catalog.locations[location],
            level,
            level,
            profile.gear(&def.tool, catalog),
            catalog,
        );
        // Given the rules' own snapshot and seeds, when the yield of many tasks is counted…
        let snapshot = profile.snapshot(&request, catalog);
        let units: Vec<f64> = (0..tasks)
            .map(|i| {
                let outcome =
                    rules::outcome(&request, &snapshot, &sim_seed(i), catalog, quantity).unwrap();
                outcome.items.get(&def.item).copied().unwrap_or(0) as f64
            })
            .collect();
        let simulated = Distribution::of(units);
        // …then it is the closed form's expected yield, within the tolerance.
        let exact = stats.expected_yield * f64::from(quantity);
        let gap = (simulated.mean - exact).abs();
        assert!(
            gap <= TOLERANCE_SE * simulated.std_error.max(1e-12),
            "{resource} at {location}, level {level}: exact {exact}, simulated {simulated:?}"
        );
    }
}

#[test]
fn closed_form_harvest_xp_is_exact_and_value_matches_monte_carlo() {
    let catalog = Catalog::shipped();
    for (level, resource, location) in [(10, "oak_log", "forest"), (99, "coal", "mine")] {
        let profile = Profile::at_level(level, catalog);
        let request = harvest_request(resource, location, 50);
        let expected = expect(&profile, &request, catalog).unwrap();
        let simulated = simulate(&profile, &request, catalog, 300).unwrap();
        assert_eq!(simulated.xp.mean, expected.task.xp);
        assert_eq!(simulated.xp.std_error, 0.0);
        let gap = (simulated.value.mean - expected.task.value).abs();
        assert!(
            gap <= TOLERANCE_SE * simulated.value.std_error,
            "{resource}: exact {}, simulated {:?}",
            expected.task.value,
            simulated.value
        );
    }
}

#[test]
fn action_time_and_rates_per_hour_follow_from_the_rules() {
    let catalog = Catalog::shipped();
    let profile = Profile::at_level(1, catalog);
    let request = harvest_request("copper_ore", "meadow", 1);
    let e = expect(&profile, &request, catalog).unwrap();
    // Level 1 with a bronze pickaxe: 3000 ms, 1.05 ore (level bonus 5%), 11 XP (10 · 1.05).
    assert_eq!(e.action_ms, 3000);
    assert_eq!(e.xp_per_hour(), 11.0 * 1200.0);
    let sapphire = idle_balance::pity::effective_rate(0.004, 500);
    assert!((e.items_per_action - (1.05 + sapphire)).abs() < 1e-12);
    assert!((e.value_per_action - (1.05 * 3.0 + sapphire * 150.0)).abs() < 1e-9);
}
