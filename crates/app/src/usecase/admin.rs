//! An operator's inventory change (`idle-admin grant` / `revoke`): one conditional commit of the
//! player carrying its audit record in the outbox, like every other change.

use idle_core::catalog::Catalog;
use idle_core::model::{change_inventory, AdminError, AuditRecord, InventoryChange, Millis};

use crate::outbox::Commit;
use crate::ports::{GameStore, StoreError};

/// Attempts of the load-change-commit round before a conflict is reported (each conflict means
/// the game changed the player in between; the change is recomputed on the new state).
pub const ADMIN_ATTEMPTS: u32 = 5;

/// Why an admin change was not made. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminChangeError {
    #[error("no player {0:?}")]
    NoPlayer(String),
    #[error(transparent)]
    Refused(#[from] AdminError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Changes `player_id`'s inventory at `now`: loads the player, computes the change with
/// [`change_inventory`], and commits it on the version read, with the audit record in the
/// outbox ([`Commit::admin`]); on a conflict it starts over, at most [`ADMIN_ATTEMPTS`] times.
/// Then it puts the audit record into the history at once (put if absent), so the history shows
/// it before the outbox is performed (which puts it again, harmlessly).
///
/// # Errors
/// [`AdminChangeError::NoPlayer`], [`AdminChangeError::Refused`] (unknown item, revoke below
/// zero, …), or a store failure (a conflict after every attempt is
/// [`StoreError::Conflict`]). If only the final history put fails, the change is committed and
/// its audit record is still in the committed outbox: the error says so.
pub async fn change_player_inventory(
    store: &dyn GameStore,
    catalog: &Catalog,
    player_id: &str,
    change: &InventoryChange,
    now: Millis,
) -> Result<AuditRecord, AdminChangeError> {
    let mut attempt = 0;
    let audit = loop {
        attempt += 1;
        let mut loaded = store.load_players(&[player_id.to_owned()]).await?;
        if let Some((_, error)) = loaded.unreadable.pop() {
            return Err(error.into());
        }
        let Some(before) = loaded.players.pop() else {
            return Err(AdminChangeError::NoPlayer(player_id.to_owned()));
        };
        let (player, audit) = change_inventory(catalog, &before.player, change, now)?;
        match store
            .commit(&Commit::admin(&before, player, audit.clone()))
            .await
        {
            Ok(()) => break audit,
            Err(StoreError::Conflict(_)) if attempt < ADMIN_ATTEMPTS => continue,
            Err(error) => return Err(error.into()),
        }
    };
    store
        .put_audit(std::slice::from_ref(&audit))
        .await
        .map_err(|e| {
            StoreError::Transient(format!(
                "the change is committed (version {}), but its audit record is not yet in the \
                 history (it is in the committed outbox and is put when that is performed): {e}",
                audit.version
            ))
        })?;
    Ok(audit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::ports::PlayerRecords;
    use crate::state::PlayerState;
    use idle_core::model::{AdminCommand, HistoryRecord, Player};

    const T0: Millis = 1_800_000_000_000;

    fn grant(count: u64) -> InventoryChange {
        InventoryChange {
            command: AdminCommand::Grant,
            item: "copper_ore".into(),
            count,
            reason: "refund".into(),
            operator: "ops".into(),
        }
    }

    async fn store_with_player() -> MemoryStore {
        let store = MemoryStore::new(4);
        let state = PlayerState {
            player: Player::new("p1", T0, Catalog::shipped(), 10),
            queue: Vec::new(),
        };
        store.create_player(&state).await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_grant_commits_once_and_leaves_its_audit_record_in_outbox_and_history() {
        let store = store_with_player().await;
        let audit = change_player_inventory(&store, Catalog::shipped(), "p1", &grant(3), T0)
            .await
            .unwrap();
        let state = store.load_players(&["p1".into()]).await.unwrap().players[0].clone();
        assert_eq!(state.player.version, 1);
        assert_eq!(state.player.inventory["copper_ore"], audit.after);
        let outboxes = store.take_outboxes();
        assert_eq!(outboxes.len(), 1);
        assert_eq!(outboxes[0].outbox.audit, vec![audit.clone()]);
        let history = PlayerRecords::history(&store, "p1", None)
            .await
            .unwrap()
            .items;
        assert_eq!(history, vec![HistoryRecord::Audit(audit)]);
    }

    #[tokio::test]
    async fn a_refused_change_or_unknown_player_changes_nothing() {
        let store = store_with_player().await;
        let mut revoke = grant(1_000_000);
        revoke.command = AdminCommand::Revoke;
        let refused = change_player_inventory(&store, Catalog::shipped(), "p1", &revoke, T0).await;
        assert!(matches!(
            refused,
            Err(AdminChangeError::Refused(AdminError::NotEnough { .. }))
        ));
        let missing =
            change_player_inventory(&store, Catalog::shipped(), "nobody", &grant(1), T0).await;
        assert_eq!(missing, Err(AdminChangeError::NoPlayer("nobody".into())));
        assert!(store.take_outboxes().is_empty(), "nothing committed");
        assert!(PlayerRecords::history(&store, "p1", None)
            .await
            .unwrap()
            .items
            .is_empty());
    }
}
