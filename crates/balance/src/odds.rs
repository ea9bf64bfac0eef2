//! The exact chance to win an encounter, by dynamic programming over hitpoints.
//!
//! [`combat::fight`](idle_core::rules::combat::fight) plays rounds in which the player swings
//! first, then the enemy; each swing hits with its chance and deals a uniform `1..=max_hit`. The
//! enemy dying on the player's swing of round `r` is a win even if the enemy would have killed
//! the player later that round; a fight still going after `max_rounds` is a loss.
//!
//! [`win_chance_by_rounds`] is that definition as a dynamic programme over the joint state
//! (player hitpoints, enemy hitpoints), round by round. Every swing draws its numbers whether or
//! not it lands and whatever happened before, so the player's damage and the enemy's damage are
//! independent processes, and the same number factorises:
//! `P(win) = Σ_{r=1}^{R} P(enemy dies on the player's r-th swing) · P(player survives r−1 enemy
//! swings)`. [`win_chance`] computes that with two one-dimensional programmes (hundreds of times
//! cheaper); the tests check both agree to 1e-12 and match Monte Carlo of the real fight.

use idle_core::rules::combat::Matchup;

/// The chance to win one encounter, exactly (up to floating-point rounding).
pub fn win_chance(m: &Matchup, max_rounds: u32) -> f64 {
    let player = Swings::player(m);
    let enemy = Swings::enemy(m);
    let kills = player.deaths_by_swing(max_rounds);
    let deaths = enemy.deaths_by_swing(max_rounds);
    let mut alive = 1.0; // P(player survived the enemy's first r−1 swings)
    let mut win = 0.0;
    for (kill, death) in kills.iter().zip(&deaths) {
        win += kill * alive;
        alive -= death;
    }
    win.clamp(0.0, 1.0)
}

/// The same chance by the joint programme over (player hitpoints, enemy hitpoints) per round:
/// the reference definition, `O(rounds · player hp · enemy hp · max hit)`.
pub fn win_chance_by_rounds(m: &Matchup, max_rounds: u32) -> f64 {
    let player = Swings::player(m);
    let enemy = Swings::enemy(m);
    // Each side's `hitpoints` are those of the side it strikes.
    let (php, ehp) = (enemy.hitpoints, player.hitpoints);
    // state[p][e]: chance both are alive with p and e hitpoints (index 0 unused).
    let mut state = vec![vec![0.0_f64; ehp + 1]; php + 1];
    state[php][ehp] = 1.0;
    let mut win = 0.0;
    for _ in 0..max_rounds {
        // The player swings at the enemy.
        let mut next = vec![vec![0.0_f64; ehp + 1]; php + 1];
        for p in 1..=php {
            for e in 1..=ehp {
                let mass = state[p][e];
                if mass == 0.0 {
                    continue;
                }
                next[p][e] += mass * (1.0 - player.hit);
                let each = mass * player.hit / player.max_hit as f64;
                for damage in 1..=player.max_hit {
                    if damage >= e {
                        win += each;
                    } else {
                        next[p][e - damage] += each;
                    }
                }
            }
        }
        // The enemy swings back at whoever is still standing.
        let mut after = vec![vec![0.0_f64; ehp + 1]; php + 1];
        for p in 1..=php {
            for e in 1..=ehp {
                let mass = next[p][e];
                if mass == 0.0 {
                    continue;
                }
                after[p][e] += mass * (1.0 - enemy.hit);
                let each = mass * enemy.hit / enemy.max_hit as f64;
                for damage in 1..=enemy.max_hit {
                    if damage < p {
                        after[p - damage][e] += each;
                    }
                }
            }
        }
        state = after;
    }
    win.clamp(0.0, 1.0)
}

/// One side's swings at the other: chance to land, uniform damage `1..=max_hit`, and the
/// hitpoints of the side being struck.
#[derive(Debug, Clone, Copy)]
struct Swings {
    hit: f64,
    max_hit: usize,
    hitpoints: usize,
}

impl Swings {
    /// The player's swings at the enemy. `between(1, max)` gives 1 for a max below 1.
    fn player(m: &Matchup) -> Swings {
        Swings {
            hit: probability(m.player_hit),
            max_hit: m.player_max_hit.max(1) as usize,
            // Any landed hit kills at 0 hitpoints, as at 1.
            hitpoints: m.enemy_hitpoints.max(1) as usize,
        }
    }

    /// The enemy's swings at the player; an enemy with no max hit never hurts.
    fn enemy(m: &Matchup) -> Swings {
        Swings {
            hit: if m.enemy_max_hit == 0 {
                0.0
            } else {
                probability(m.enemy_hit)
            },
            max_hit: m.enemy_max_hit.max(1) as usize,
            hitpoints: m.player_hitpoints.max(1) as usize,
        }
    }

    /// `deaths[r]`: the chance the struck side dies exactly on swing `r + 1`.
    fn deaths_by_swing(&self, swings: u32) -> Vec<f64> {
        let hp = self.hitpoints;
        // alive[h]: chance the struck side is alive with h hitpoints (index 0 unused).
        let mut alive = vec![0.0_f64; hp + 1];
        alive[hp] = 1.0;
        let each = self.hit / self.max_hit as f64;
        let mut deaths = Vec::with_capacity(swings as usize);
        let mut next = vec![0.0_f64; hp + 1];
        for _ in 0..swings {
            // Damage ≥ h kills from h hitpoints: max_hit − h + 1 of the max_hit equal outcomes.
            let died: f64 = (1..=hp.min(self.max_hit))
                .map(|h| alive[h] * each * (self.max_hit - h + 1) as f64)
                .sum();
            // Landing at h comes from h + 1 ..= h + max_hit: a window slid down from the top.
            let mut window = 0.0;
            for h in (1..=hp).rev() {
                next[h] = alive[h] * (1.0 - self.hit) + window * each;
                window += alive[h];
                if h + self.max_hit <= hp {
                    window -= alive[h + self.max_hit];
                }
            }
            deaths.push(died);
            std::mem::swap(&mut alive, &mut next);
        }
        deaths
    }
}

fn probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matchup(
        player_hit: f64,
        pmax: u32,
        php: u32,
        enemy_hit: f64,
        emax: u32,
        ehp: u32,
    ) -> Matchup {
        Matchup {
            player_hit,
            player_max_hit: pmax,
            player_hitpoints: php,
            enemy_hit,
            enemy_max_hit: emax,
            enemy_hitpoints: ehp,
        }
    }

    #[test]
    fn a_sure_one_hit_kill_always_wins() {
        let m = matchup(1.0, 5, 1, 1.0, 50, 1);
        assert_eq!(win_chance(&m, 1), 1.0);
        assert_eq!(win_chance_by_rounds(&m, 1), 1.0);
    }

    #[test]
    fn striking_first_decides_a_race_of_single_blows() {
        // Both always hit for 1 and have 1 hitpoint: the player, swinging first, wins.
        let m = matchup(1.0, 1, 1, 1.0, 1, 1);
        assert_eq!(win_chance(&m, 10), 1.0);
        // A coin-flip first swing, then the enemy always kills: win exactly half the time.
        let m = matchup(0.5, 1, 1, 1.0, 1, 1);
        assert!((win_chance(&m, 10) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn a_fight_that_cannot_end_in_time_is_a_loss() {
        // The enemy needs 10 hits of 1; with 9 rounds the player never wins.
        let m = matchup(1.0, 1, 100, 0.0, 0, 10);
        assert_eq!(win_chance(&m, 9), 0.0);
        assert_eq!(win_chance(&m, 10), 1.0);
    }

    #[test]
    fn the_factorised_chance_equals_the_joint_programme() {
        let cases = [
            matchup(0.7, 3, 11, 0.2, 1, 3),
            matchup(0.45, 4, 25, 0.5, 4, 30),
            matchup(0.3, 2, 12, 0.6, 3, 20),
            matchup(0.9, 6, 40, 0.35, 6, 45),
            matchup(0.1, 1, 5, 0.05, 0, 30),
        ];
        for m in &cases {
            for rounds in [1, 7, 40, 100] {
                let fast = win_chance(m, rounds);
                let joint = win_chance_by_rounds(m, rounds);
                assert!(
                    (fast - joint).abs() < 1e-12,
                    "{m:?} {rounds}: {fast} vs {joint}"
                );
            }
        }
    }
}
