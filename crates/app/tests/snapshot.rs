//! A memory store's snapshot survives JSON and restores the same players, history and inbox,
//! with conditional writes still judged against the restored versions.

use idle_app::memory::{MemoryStore, StoreSnapshot};
use idle_app::outbox::{Commit, OutboxRecord};
use idle_app::ports::{Connection, ConnectionStore, GameStore, Inbox, StoreError};
use idle_app::state::PlayerState;
use idle_core::catalog::Catalog;
use idle_core::model::{EpochSecs, Millis, Player, TaskRequest};
use idle_core::protocol::{Event, Notification};
use idle_core::{enqueue, Enqueued, Game};

const T0: Millis = 1_800_000_000_000;

fn game() -> Game<'static> {
    Game::new(
        Catalog::shipped(),
        b"snapshot-test-seed-secret-snapshot".to_vec(),
    )
}

#[tokio::test]
async fn a_restored_snapshot_holds_players_history_and_inbox_but_no_connections() {
    // Given a store with a player who queued a task, an inbox row and a connection
    let store = MemoryStore::new(4);
    let created = PlayerState {
        player: Player::new("p1", T0, Catalog::shipped(), 10),
        queue: Vec::new(),
    };
    assert!(store.create_player(&created).await.unwrap());
    let request = TaskRequest::Combat {
        enemy: "chicken".into(),
        quantity: 2,
        repeat: None,
    };
    let game = game();
    let Ok(Enqueued::New { plan, .. }) = enqueue(
        &game,
        &created.player,
        &[],
        "r1",
        &request,
        false,
        false,
        T0,
    ) else {
        panic!("the starter player can fight chickens");
    };
    let commit = Commit::of(&created, &plan).unwrap();
    store.commit(&commit).await.unwrap();
    let task = created.after(&plan).queue[0].clone();
    store
        .put_history(std::slice::from_ref(&task))
        .await
        .unwrap();
    let note = Notification {
        seq: 7,
        at: T0,
        event: Event::QueueUpdated { queue: Vec::new() },
    };
    store
        .store("p1", std::slice::from_ref(&note), EpochSecs(T0 / 1000 + 60))
        .await
        .unwrap();
    store
        .put_connection(&Connection {
            connection_id: "c1".into(),
            player_id: "p1".into(),
            is_admin: false,
            connected_at: T0,
            token_expires_at: T0 + 60_000,
            expires_at: EpochSecs(T0 / 1000 + 60),
        })
        .await
        .unwrap();

    // When its snapshot goes through JSON into a fresh store
    let json = serde_json::to_string(&store.snapshot()).unwrap();
    let snapshot: StoreSnapshot = serde_json::from_str(&json).unwrap();
    let restored = MemoryStore::new(4);
    restored.restore(snapshot);

    // Then the player, its queue and outbox, the history and the inbox are back; connections
    // are not
    assert_eq!(restored.player("p1"), store.player("p1"));
    // (an outbox record carries the ids listed with the player now, and connections are not
    // restored: compare the records without them)
    let unlisted = |records: Vec<OutboxRecord>| -> Vec<OutboxRecord> {
        records
            .into_iter()
            .map(|record| OutboxRecord {
                connections: Vec::new(),
                ..record
            })
            .collect()
    };
    assert_eq!(
        unlisted(restored.last_outboxes()),
        unlisted(store.last_outboxes())
    );
    assert_eq!(store.last_outboxes()[0].connections, vec!["c1".to_owned()]);
    assert!(restored.last_outboxes()[0].connections.is_empty());
    assert_eq!(restored.last_outboxes()[0].outbox, commit.outbox);
    assert_eq!(restored.task_history("p1"), store.task_history("p1"));
    assert_eq!(restored.task_history("p1").len(), 1);
    let kept = restored.kept_after("p1", 0, T0, 10).await.unwrap();
    assert_eq!(kept.notifications, vec![note]);
    assert!(restored.connections().is_empty());
    // and the same plan is refused again: versions were restored too
    assert!(matches!(
        restored.commit(&commit).await,
        Err(StoreError::Conflict(_))
    ));
}
