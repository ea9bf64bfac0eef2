//! Combat: OSRS-style accuracy, a deterministic round-by-round fight, and loot tables scaled by
//! rarity.

use super::{level_multiplier, scaled_xp, Outcome, RulesError};
use crate::catalog::{Catalog, EnemyDef, Gear, ARMOUR_SLOT, WEAPON_SLOT};
use crate::model::Snapshot;
use crate::rng::{RollKind, Rolls, Seed};

/// Chance that an attack with roll `a` hits a defence roll `d`:
/// `a > d ? 1 − (d+2)/(2(a+1)) : a/(2(d+1))`.
pub fn hit_chance(attack_roll: u64, defence_roll: u64) -> f64 {
    let (a, d) = (attack_roll as f64, defence_roll as f64);
    if a > d {
        1.0 - (d + 2.0) / (2.0 * (a + 1.0))
    } else {
        a / (2.0 * (d + 1.0))
    }
}

/// `(level + 8) · (bonus + 64)`, the shape of every attack and defence roll.
pub fn roll(level: u32, bonus: u32) -> u64 {
    (u64::from(level) + 8) * (u64::from(bonus) + 64)
}

/// The two sides of one encounter.
#[derive(Debug, Clone, PartialEq)]
pub struct Matchup {
    pub player_hit: f64,
    pub player_max_hit: u32,
    pub player_hitpoints: u32,
    pub enemy_hit: f64,
    pub enemy_max_hit: u32,
    pub enemy_hitpoints: u32,
}

/// The matchup of a player of `combat_level` with this weapon and armour against an enemy.
pub fn matchup(
    combat_level: u32,
    weapon: Option<&Gear>,
    armour: Option<&Gear>,
    enemy: &EnemyDef,
    catalog: &Catalog,
) -> Matchup {
    let params = &catalog.rules.combat;
    let attack = weapon.map_or(0, |w| w.attack);
    let strength = weapon.map_or(0, |w| w.strength);
    let defence = armour.map_or(0, |a| a.defence);
    Matchup {
        player_hit: hit_chance(roll(combat_level, attack), roll(enemy.level, enemy.defence)),
        player_max_hit: 1 + (roll(combat_level, strength) / 640) as u32,
        player_hitpoints: params.base_hitpoints + params.hitpoints_per_level * combat_level,
        enemy_hit: hit_chance(roll(enemy.level, enemy.attack), roll(combat_level, defence)),
        enemy_max_hit: enemy.max_hit,
        enemy_hitpoints: enemy.hitpoints,
    }
}

/// One fight, round by round: the player strikes first; each swing draws a hit and a damage
/// number whether or not it lands, so better stats never shift later draws. A fight still going
/// after `max_rounds` is a loss (the player retreats). Returns true for a win.
pub fn fight(m: &Matchup, max_rounds: u32, rolls: &mut Rolls) -> bool {
    let mut enemy_hp = i64::from(m.enemy_hitpoints);
    let mut player_hp = i64::from(m.player_hitpoints);
    for _ in 0..max_rounds {
        let hit = rolls.chance(m.player_hit);
        let damage = rolls.between(1, u64::from(m.player_max_hit));
        if hit {
            enemy_hp -= damage as i64;
            if enemy_hp <= 0 {
                return true;
            }
        }
        let hit = rolls.chance(m.enemy_hit);
        let damage = rolls.between(1, u64::from(m.enemy_max_hit.max(1)));
        if hit && m.enemy_max_hit > 0 {
            player_hp -= damage as i64;
            if player_hp <= 0 {
                return false;
            }
        }
    }
    false
}

/// Rolls the loot of one win; every quantity is `round_expected(base · multiplier)`.
fn loot(enemy: &EnemyDef, multiplier: f64, rolls: &mut Rolls, out: &mut Outcome) {
    let table = &enemy.loot;
    for entry in &table.always {
        let base = rolls.between(u64::from(entry.min), u64::from(entry.max));
        let units = rolls.round_expected(base as f64 * multiplier);
        out.grant(entry.item.clone(), units);
    }
    let weights: Vec<u64> = table
        .weighted
        .entries
        .iter()
        .map(|e| u64::from(e.weight))
        .chain([u64::from(table.weighted.empty_weight)])
        .collect();
    for _ in 0..table.weighted.rolls {
        let pick = rolls.weighted(&weights);
        // Draw the quantity even for the empty slot so the stream stays aligned.
        let entry = pick.and_then(|i| table.weighted.entries.get(i));
        let (min, max) = entry.map_or((0, 0), |e| (e.min, e.max));
        let base = rolls.between(u64::from(min), u64::from(max));
        let units = rolls.round_expected(base as f64 * multiplier);
        if let Some(entry) = entry {
            out.grant(entry.item.clone(), units);
        }
    }
    for entry in &table.tertiary {
        if rolls.chance(entry.chance) {
            out.grant(entry.item.clone(), 1);
        }
    }
}

/// Loot quantities scale by `rarity · level multiplier · difficulty`.
pub fn loot_multiplier(enemy: &EnemyDef, character_level: u32, catalog: &Catalog) -> f64 {
    catalog.rarity_multiplier(enemy.rarity)
        * level_multiplier(character_level, catalog)
        * enemy.difficulty
}

pub(super) fn outcome(
    enemy_id: &str,
    snapshot: &Snapshot,
    seed: &Seed,
    catalog: &Catalog,
    first: u32,
    actions: u32,
) -> Result<Outcome, RulesError> {
    let enemy = catalog
        .enemies
        .get(enemy_id)
        .ok_or_else(|| RulesError::unknown("enemy", enemy_id, catalog))?;
    let params = &catalog.rules.combat;
    let level = level_multiplier(snapshot.character_level, catalog);
    let xp_win = scaled_xp(enemy.xp, enemy.difficulty, level, 1.0);
    let xp_loss = scaled_xp(enemy.xp, enemy.difficulty, level, params.loss_xp_share);
    let multiplier = loot_multiplier(enemy, snapshot.character_level, catalog);
    // Durability left in each worn combat slot; gear at zero is broken and gives nothing.
    let mut durability: Vec<(&str, Option<&Gear>, u32)> = [WEAPON_SLOT, ARMOUR_SLOT]
        .into_iter()
        .map(|slot| match snapshot.gear.get(slot) {
            Some(worn) => (slot, catalog.gear(&worn.item), worn.durability),
            None => (slot, None, 0),
        })
        .collect();
    let mut out = Outcome {
        actions,
        ..Outcome::default()
    };
    for action in first..first.saturating_add(actions) {
        let usable = |i: usize| durability[i].1.filter(|_| durability[i].2 > 0);
        let m = matchup(snapshot.skill_level, usable(0), usable(1), enemy, catalog);
        let won = fight(
            &m,
            params.max_rounds,
            &mut seed.rolls(RollKind::CombatFight, action),
        );
        let wear = if won {
            out.successes += 1;
            out.xp = out.xp.saturating_add(xp_win);
            loot(
                enemy,
                multiplier,
                &mut seed.rolls(RollKind::CombatLoot, action),
                &mut out,
            );
            params.wear_win
        } else {
            out.xp = out.xp.saturating_add(xp_loss);
            params.wear_loss
        };
        for (slot, gear, left) in durability.iter_mut() {
            if gear.is_some() && *left > 0 {
                let lost = wear.min(*left);
                *left -= lost;
                *out.wear.entry((*slot).to_owned()).or_insert(0) += lost;
            }
        }
    }
    Ok(out)
}
