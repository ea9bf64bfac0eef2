//! An operator's change of a player (`idle-admin grant` / `revoke`), and the audit record it
//! leaves in the player's history.
//!
//! Why a record of its own rather than a [`Task`](super::Task): a task carries a
//! [`TaskRequest`](super::TaskRequest), which is part of the client protocol, and every activity
//! rule matches on it; an admin change is none of the three activities and must never be
//! something a client can enqueue. The record shares the history's key (`player_id`, `task_id`)
//! so it sits beside the player's tasks in the same table, is erased with them, and is put if
//! absent like them.

use serde::{Deserialize, Serialize};

use super::{Millis, Player};
use crate::catalog::Catalog;

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminCommand {
    /// Items added to the inventory.
    Grant,
    /// Items taken from the inventory.
    Revoke,
}

impl AdminCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminCommand::Grant => "grant",
            AdminCommand::Revoke => "revoke",
        }
    }
}

/// An inventory change an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryChange {
    pub command: AdminCommand,
    /// An inventory key: a catalog item id, or `item@tier` with a quality tier's name.
    pub item: String,
    /// Units to add or take; at least 1.
    pub count: u64,
    /// Why (a support ticket, a refund); must not be blank.
    pub reason: String,
    /// Who did it.
    pub operator: String,
}

/// The audit record of one admin change, kept in the history beside the player's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub player_id: String,
    /// The history key: `admin-` and the player's `version` after the change, zero-padded to 20
    /// digits, so one record exists per change and they sort in order.
    pub task_id: String,
    pub command: AdminCommand,
    pub item: String,
    pub count: u64,
    /// Units held before and after the change.
    pub before: u64,
    pub after: u64,
    pub reason: String,
    pub operator: String,
    /// When the change was made (ms since the epoch).
    pub at: Millis,
    /// The player's `version` the change wrote.
    pub version: u64,
}

/// Why an admin change cannot be made. Nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("unknown item {0:?}: not in the catalog")]
    UnknownItem(String),
    #[error("the count must be at least 1")]
    ZeroCount,
    #[error("a reason is required")]
    NoReason,
    #[error("cannot revoke {asked} {item}: the player has {have}")]
    NotEnough { item: String, have: u64, asked: u64 },
    #[error("granting {asked} {item} overflows the inventory count ({have} held)")]
    Overflow { item: String, have: u64, asked: u64 },
}

/// True when `key` is an inventory key of `catalog` (as [`super::item_key`] makes them): an
/// item id, or `item@tier` with the name of a quality tier above normal.
pub fn is_inventory_key(catalog: &Catalog, key: &str) -> bool {
    match key.split_once('@') {
        None => catalog.item(key).is_some(),
        Some((item, tier)) => {
            catalog.item(item).is_some()
                && catalog
                    .quality_tiers
                    .iter()
                    .position(|t| t.name == tier)
                    .is_some_and(|index| index > 0)
        }
    }
}

/// The player after `change` at `now` (one `version` later, nothing else touched), with its
/// audit record. An inventory never holds a zero: revoking the last unit removes the key.
///
/// # Errors
/// [`AdminError`] when the item is not in `catalog`, the count is 0, the reason is blank, a
/// revoke asks for more than the player has, or a grant would overflow `u64`.
pub fn change_inventory(
    catalog: &Catalog,
    player: &Player,
    change: &InventoryChange,
    now: Millis,
) -> Result<(Player, AuditRecord), AdminError> {
    if !is_inventory_key(catalog, &change.item) {
        return Err(AdminError::UnknownItem(change.item.clone()));
    }
    if change.count == 0 {
        return Err(AdminError::ZeroCount);
    }
    if change.reason.trim().is_empty() {
        return Err(AdminError::NoReason);
    }
    let before = player.inventory.get(&change.item).copied().unwrap_or(0);
    let after = match change.command {
        AdminCommand::Grant => {
            before
                .checked_add(change.count)
                .ok_or_else(|| AdminError::Overflow {
                    item: change.item.clone(),
                    have: before,
                    asked: change.count,
                })?
        }
        AdminCommand::Revoke => {
            before
                .checked_sub(change.count)
                .ok_or_else(|| AdminError::NotEnough {
                    item: change.item.clone(),
                    have: before,
                    asked: change.count,
                })?
        }
    };
    let mut changed = player.clone();
    changed.version = player.version + 1;
    if after == 0 {
        changed.inventory.remove(&change.item);
    } else {
        changed.inventory.insert(change.item.clone(), after);
    }
    let record = AuditRecord {
        player_id: player.player_id.clone(),
        task_id: audit_id(changed.version),
        command: change.command,
        item: change.item.clone(),
        count: change.count,
        before,
        after,
        reason: change.reason.clone(),
        operator: change.operator.clone(),
        at: now,
        version: changed.version,
    };
    Ok((changed, record))
}

/// The history key of the audit record of the change that wrote `version`.
pub fn audit_id(version: u64) -> String {
    format!("admin-{version:020}")
}

/// One record of a player's history: a finished task, or an admin change's audit record. As
/// stored, the two are told apart by their fields (a task has a `request`, an audit record an
/// `operator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HistoryRecord {
    Task(Box<super::Task>),
    Audit(AuditRecord),
}

impl HistoryRecord {
    /// The history key within the player: the task id or the audit record's id.
    pub fn task_id(&self) -> &str {
        match self {
            HistoryRecord::Task(task) => &task.task_id,
            HistoryRecord::Audit(audit) => &audit.task_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_800_000_000_000;

    fn player() -> Player {
        Player::new("p1", T0, Catalog::shipped(), 10)
    }

    fn change(command: AdminCommand, item: &str, count: u64) -> InventoryChange {
        InventoryChange {
            command,
            item: item.to_owned(),
            count,
            reason: "ticket 42".to_owned(),
            operator: "ops".to_owned(),
        }
    }

    fn an_item() -> String {
        Catalog::shipped().items.keys().next().unwrap().clone()
    }

    #[test]
    fn a_grant_adds_units_raises_the_version_and_records_both_counts() {
        let item = an_item();
        let before = player();
        let had = before.inventory.get(&item).copied().unwrap_or(0);
        let (after, record) = change_inventory(
            Catalog::shipped(),
            &before,
            &change(AdminCommand::Grant, &item, 5),
            T0 + 1,
        )
        .unwrap();
        assert_eq!(after.inventory[&item], had + 5);
        assert_eq!(after.version, before.version + 1);
        assert_eq!((record.before, record.after), (had, had + 5));
        assert_eq!(record.task_id, audit_id(after.version));
        assert_eq!(record.at, T0 + 1);
        // Nothing else changed
        let mut same = after.clone();
        same.version = before.version;
        same.inventory = before.inventory.clone();
        assert_eq!(same, before);
    }

    #[test]
    fn a_revoke_never_goes_below_zero_and_removes_an_emptied_key() {
        let item = an_item();
        let (granted, _) = change_inventory(
            Catalog::shipped(),
            &player(),
            &change(AdminCommand::Grant, &item, 3),
            T0,
        )
        .unwrap();
        let held = granted.inventory[&item];
        let too_many = change(AdminCommand::Revoke, &item, held + 1);
        assert_eq!(
            change_inventory(Catalog::shipped(), &granted, &too_many, T0),
            Err(AdminError::NotEnough {
                item: item.clone(),
                have: held,
                asked: held + 1
            })
        );
        let all = change(AdminCommand::Revoke, &item, held);
        let (emptied, record) = change_inventory(Catalog::shipped(), &granted, &all, T0).unwrap();
        assert!(!emptied.inventory.contains_key(&item), "never holds a zero");
        assert_eq!(record.after, 0);
    }

    #[test]
    fn unknown_items_zero_counts_and_blank_reasons_are_refused() {
        let p = player();
        let catalog = Catalog::shipped();
        let unknown = change(AdminCommand::Grant, "no_such_item", 1);
        assert_eq!(
            change_inventory(catalog, &p, &unknown, T0),
            Err(AdminError::UnknownItem("no_such_item".into()))
        );
        let bad_tier = change(
            AdminCommand::Grant,
            &format!("{}@no_such_tier", an_item()),
            1,
        );
        assert!(matches!(
            change_inventory(catalog, &p, &bad_tier, T0),
            Err(AdminError::UnknownItem(_))
        ));
        let zero = change(AdminCommand::Grant, &an_item(), 0);
        assert_eq!(
            change_inventory(catalog, &p, &zero, T0),
            Err(AdminError::ZeroCount)
        );
        let mut blank = change(AdminCommand::Grant, &an_item(), 1);
        blank.reason = "  ".into();
        assert_eq!(
            change_inventory(catalog, &p, &blank, T0),
            Err(AdminError::NoReason)
        );
    }

    #[test]
    fn a_grant_that_would_overflow_is_refused() {
        let item = an_item();
        let mut p = player();
        p.inventory.insert(item.clone(), u64::MAX);
        assert!(matches!(
            change_inventory(
                Catalog::shipped(),
                &p,
                &change(AdminCommand::Grant, &item, 1),
                T0
            ),
            Err(AdminError::Overflow { .. })
        ));
    }
}
