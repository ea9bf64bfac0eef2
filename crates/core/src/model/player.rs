//! A player's persistent state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Millis, Skill};
use crate::catalog::Catalog;
use crate::xp::level_for_xp;

/// Everything the server keeps about one player. Stored as one item; `version` guards every write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Player {
    pub player_id: String,
    /// Raised by one on every write; every write is conditional on the version it read.
    pub version: u64,
    pub created_at: Millis,
    /// The character track accumulates the XP of every skill.
    pub character_xp: u64,
    /// XP per skill.
    pub skills: BTreeMap<Skill, u64>,
    /// Slot → the gear worn there.
    pub equipment: BTreeMap<String, Equipped>,
    /// Item key (`item` or `item@quality`) → units owned; never holds a zero.
    pub inventory: BTreeMap<String, u64>,
    /// Crafting stations owned.
    pub stations: BTreeSet<String>,
    /// Pity key (`resource:item`) → misses in a row.
    pub pity: BTreeMap<String, u32>,
    /// Token bucket for enqueue and cancel.
    pub rate: TokenBucket,
    /// The sequence number the next task id takes.
    pub next_task_seq: u64,
    /// The sequence number the next notification takes.
    pub next_seq: u64,
    /// Recently seen client request ids, newest last, for idempotent enqueue.
    pub recent_requests: Vec<RecentRequest>,
    /// When the last finished task ended; the next one starts no earlier.
    pub free_at: Millis,
    /// When this player next needs advancing (a task ends, a progress update, a retry is due).
    pub wake_at: Option<Millis>,
    /// Server time of the player's last activity (a connect or any message), set by the use
    /// cases from their clock, never from client input. Progress accrues for at most the
    /// catalog's `offline_cap_ms` after it. Absent on players stored before the cap existed:
    /// no cap until their next activity sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<Millis>,
}

/// Gear worn in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equipped {
    pub item: String,
    /// Quality tier index (0 = normal).
    #[serde(default)]
    pub quality: u8,
    pub durability: u32,
}

/// A token bucket on server time, in thousandths of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBucket {
    pub milli_tokens: u64,
    pub updated_at: Millis,
}

/// A client request id already answered, and the task it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentRequest {
    pub request_id: String,
    pub task_id: String,
}

impl Player {
    /// A new player with the catalog's starter kit.
    pub fn new(
        player_id: impl Into<String>,
        now: Millis,
        catalog: &Catalog,
        rate_capacity: u32,
    ) -> Player {
        let equipment = catalog
            .starter
            .equipment
            .iter()
            .filter_map(|item| {
                let gear = catalog.gear(item)?;
                Some((
                    gear.slot.clone(),
                    Equipped {
                        item: item.clone(),
                        quality: 0,
                        durability: gear.max_durability,
                    },
                ))
            })
            .collect();
        Player {
            player_id: player_id.into(),
            version: 0,
            created_at: now,
            character_xp: 0,
            skills: Skill::ALL.iter().map(|s| (*s, 0)).collect(),
            equipment,
            inventory: catalog
                .starter
                .inventory
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
            stations: catalog.starter.stations.iter().cloned().collect(),
            pity: BTreeMap::new(),
            rate: TokenBucket {
                milli_tokens: u64::from(rate_capacity) * 1000,
                updated_at: now,
            },
            next_task_seq: 1,
            next_seq: 1,
            recent_requests: Vec::new(),
            free_at: now,
            wake_at: None,
            last_active_at: Some(now),
        }
    }

    pub fn skill_xp(&self, skill: Skill) -> u64 {
        self.skills.get(&skill).copied().unwrap_or(0)
    }

    pub fn skill_level(&self, skill: Skill, catalog: &Catalog) -> u32 {
        level_for_xp(self.skill_xp(skill), catalog.rules.max_level)
    }

    pub fn character_level(&self, catalog: &Catalog) -> u32 {
        level_for_xp(self.character_xp, catalog.rules.max_level)
    }

    /// Units of an item key owned.
    pub fn count(&self, key: &str) -> u64 {
        self.inventory.get(key).copied().unwrap_or(0)
    }

    /// Adds units of an item key, saturating.
    pub fn add_items(&mut self, key: &str, units: u64) {
        if units == 0 {
            return;
        }
        let slot = self.inventory.entry(key.to_owned()).or_insert(0);
        *slot = slot.saturating_add(units);
    }

    /// Removes units of an item key; false (and nothing removed) if there are not enough.
    pub fn remove_items(&mut self, key: &str, units: u64) -> bool {
        let owned = self.count(key);
        if owned < units {
            return false;
        }
        if owned == units {
            self.inventory.remove(key);
        } else {
            self.inventory.insert(key.to_owned(), owned - units);
        }
        true
    }
}

/// The inventory key of an item of a quality tier: `item` for normal, `item@tier` above it.
pub fn item_key(item: &str, quality: u8, catalog: &Catalog) -> String {
    match catalog.quality(quality) {
        Some(tier) if quality > 0 => format!("{item}@{}", tier.name),
        _ => item.to_owned(),
    }
}

/// Splits an inventory key into the item id and the quality tier index.
pub fn parse_item_key<'k>(key: &'k str, catalog: &Catalog) -> (&'k str, u8) {
    match key.split_once('@') {
        Some((item, tier)) => {
            let quality = catalog
                .quality_tiers
                .iter()
                .position(|t| t.name == tier)
                .unwrap_or(0);
            (item, quality as u8)
        }
        None => (key, 0),
    }
}
