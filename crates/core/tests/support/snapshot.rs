//! The outcome snapshot the rule tests start from, written once for the crate's unit tests
//! (`src/rules/tests.rs`) and its integration tests (`golden.rs`, `expectation.rs`), which
//! include this file with `#[path]`. It names the model types through its parent module, which
//! imports them in both kinds of test.

use std::collections::BTreeMap;

use super::{Catalog, Equipped, Snapshot};

/// A snapshot at these levels with 1 s actions, no pity and nothing reserved, wearing `gear`
/// (item ids of the shipped catalog; panics on an unknown one) at quality 0 and `durability`
/// each (`None`: each item's own `max_durability`).
pub fn snapshot(skill: u32, character: u32, gear: &[&str], durability: Option<u32>) -> Snapshot {
    let catalog = Catalog::shipped();
    Snapshot {
        character_level: character,
        skill_level: skill,
        action_ms: 1000,
        gear: gear
            .iter()
            .map(|item| {
                let g = catalog.gear(item).unwrap();
                (
                    g.slot.clone(),
                    Equipped {
                        item: (*item).into(),
                        quality: 0,
                        durability: durability.unwrap_or(g.max_durability),
                    },
                )
            })
            .collect(),
        pity: BTreeMap::new(),
        reserved: BTreeMap::new(),
    }
}
