//! The exact win chance against Monte Carlo of the real `combat::fight`.

use idle_balance::odds::{win_chance, win_chance_by_rounds};
use idle_balance::profile::Profile;
use idle_balance::simulate::sim_seed;
use idle_core::catalog::{Catalog, ARMOUR_SLOT, WEAPON_SLOT};
use idle_core::rng::RollKind;
use idle_core::rules::combat::{fight, matchup, Matchup};

/// Monte Carlo may stray this many standard errors from the exact chance. The seeds are fixed,
/// so a pass is a stable pass; 4 SE keeps the chance of a spurious failure below 1 in 15,000.
const TOLERANCE_SE: f64 = 4.0;

fn simulated_win_rate(m: &Matchup, max_rounds: u32, fights: u32) -> f64 {
    let wins = (0..fights)
        .filter(|i| {
            let mut rolls = sim_seed(*i).rolls(RollKind::CombatFight, 0);
            fight(m, max_rounds, &mut rolls)
        })
        .count();
    wins as f64 / f64::from(fights)
}

fn catalog_matchup(level: u32, enemy: &str) -> Matchup {
    let catalog = Catalog::shipped();
    let profile = Profile::at_level(level, catalog);
    matchup(
        level,
        profile.gear(WEAPON_SLOT, catalog),
        profile.gear(ARMOUR_SLOT, catalog),
        &catalog.enemies[enemy],
        catalog,
    )
}

fn assert_close(exact: f64, m: &Matchup, max_rounds: u32, fights: u32) {
    let simulated = simulated_win_rate(m, max_rounds, fights);
    let se = (exact * (1.0 - exact) / f64::from(fights)).sqrt();
    let gap = (simulated - exact).abs();
    assert!(
        gap <= TOLERANCE_SE * se.max(1e-12),
        "{m:?}: exact {exact}, simulated {simulated} over {fights} fights ({:.2} SE)",
        gap / se
    );
}

#[test]
fn the_joint_programme_matches_monte_carlo_of_the_real_fight() {
    let rounds = Catalog::shipped().rules.combat.max_rounds;
    for (level, enemy) in [
        (1, "cow"),
        (5, "goblin"),
        (15, "bandit"),
        (30, "skeleton_knight"),
    ] {
        let m = catalog_matchup(level, enemy);
        let exact = win_chance_by_rounds(&m, rounds);
        assert!(exact > 0.05 && exact < 0.999, "{level} vs {enemy}: {exact}");
        assert_close(exact, &m, rounds, 20_000);
    }
}

#[test]
fn a_stalemate_at_the_round_cap_is_a_loss_in_both() {
    // Long fights: most end by the cap, which the programme must count as losses.
    let m = Matchup {
        player_hit: 0.3,
        player_max_hit: 2,
        player_hitpoints: 40,
        enemy_hit: 0.25,
        enemy_max_hit: 2,
        enemy_hitpoints: 30,
    };
    let exact = win_chance_by_rounds(&m, 40);
    assert!(exact < win_chance_by_rounds(&m, 400));
    assert_close(exact, &m, 40, 20_000);
}

#[test]
fn the_factorised_chance_matches_monte_carlo_for_long_fights() {
    let rounds = Catalog::shipped().rules.combat.max_rounds;
    for (level, enemy) in [(60, "troll"), (99, "dragon")] {
        let m = catalog_matchup(level, enemy);
        let exact = win_chance(&m, rounds);
        assert!(exact > 0.05 && exact < 0.999, "{level} vs {enemy}: {exact}");
        assert_close(exact, &m, rounds, 10_000);
    }
}
