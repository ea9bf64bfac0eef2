//! The in-memory store keeps DynamoDB's promises: a conditional write fails as a whole, the
//! history is put if absent, items over 400 KB are refused, pages end with a cursor, the inbox
//! filters expired rows.

use std::sync::Arc;

use idle_app::memory::{Fault, FaultyStore, MemoryStore, StoreOp};
use idle_app::outbox::Commit;
use idle_app::ports::{wake_shard, Connection, ConnectionStore, GameStore, StoreError};
use idle_app::state::PlayerState;
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, TaskRequest, TaskStatus};
use idle_core::{advance, Game, Plan};

const T0: Millis = 1_800_000_000_000;

fn game() -> Game<'static> {
    Game::new(
        Catalog::shipped(),
        b"memory-test-seed-secret-memory-test".to_vec(),
    )
}

fn new_player(id: &str) -> PlayerState {
    idle_testing::contract::new_player(id, T0)
}

fn harvest() -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 1,
        repeat: None,
    }
}

fn enqueue_plan(game: &Game, state: &PlayerState, request_id: &str) -> Plan {
    idle_testing::world::enqueue_plan(game, state, request_id, &harvest(), T0).1
}

async fn stored(store: &impl GameStore, id: &str) -> PlayerState {
    store
        .load_players(&[id.to_owned()])
        .await
        .unwrap()
        .players
        .pop()
        .unwrap()
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_writes_nothing() {
    let game = game();
    let store = MemoryStore::new(8);
    let state = new_player("p");
    store.create_player(&state).await.unwrap();
    let commit = Commit::of(&state, &enqueue_plan(&game, &state, "r1")).unwrap();
    store.commit(&commit).await.unwrap();
    let once = stored(&store, "p").await;
    assert_eq!(store.take_outboxes().len(), 1);

    // The same write again: the version moved on.
    let again = store.commit(&commit).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(stored(&store, "p").await, once);
    assert!(
        store.take_outboxes().is_empty(),
        "nothing written, nothing fed"
    );
}

#[tokio::test]
async fn a_completion_replayed_with_a_current_version_is_still_a_new_write_of_the_player() {
    // Given a task that ran and completed, its history record put
    let game = game();
    let store = MemoryStore::new(8);
    let state = new_player("p");
    store.create_player(&state).await.unwrap();
    let plan = enqueue_plan(&game, &state, "r1");
    store
        .commit(&Commit::of(&state, &plan).unwrap())
        .await
        .unwrap();
    let running = state.after(&plan);
    let complete = advance(&game, &running.player, &running.queue, T0 + 3_600_000);
    let commit = Commit::of(&running, &complete).unwrap();
    store.commit(&commit).await.unwrap();
    store.put_history(&commit.outbox.history).await.unwrap();
    assert_eq!(store.task_history("p")[0].status, TaskStatus::Completed);

    // When the same record is put again with a different result (a replay under other rules)
    let mut other = commit.outbox.history[0].clone();
    other.finished_at = Some(T0);
    store
        .put_history(std::slice::from_ref(&other))
        .await
        .unwrap();

    // Then the first record stands: history is put if absent
    assert_eq!(store.task_history("p"), commit.outbox.history);
}

#[tokio::test]
async fn create_player_never_overwrites() {
    let store = MemoryStore::new(8);
    let mut state = new_player("p");
    assert!(store.create_player(&state).await.unwrap());
    state.player.character_xp = 99;
    assert!(!store.create_player(&state).await.unwrap());
    assert_eq!(stored(&store, "p").await.player.character_xp, 0);
}

#[tokio::test]
async fn load_players_leaves_out_unknown_ids_and_repeats() {
    let store = MemoryStore::new(8);
    store.create_player(&new_player("a")).await.unwrap();
    let ids = ["a", "zz", "a"].map(String::from);
    let found = store.load_players(&ids).await.unwrap();
    assert_eq!(found.players.len(), 1);
    assert!(found.unreadable.is_empty());
}

#[tokio::test]
async fn a_corrupt_player_is_reported_unreadable_and_the_others_still_load() {
    // Given two players, one of whose stored item no longer decodes
    let store = MemoryStore::new(8);
    for id in ["bad", "good"] {
        store.create_player(&new_player(id)).await.unwrap();
    }
    store.corrupt_player("bad", "attribute `version` is not a number");

    // When both are loaded in one call
    let found = store
        .load_players(&["bad".to_owned(), "good".to_owned()])
        .await
        .unwrap();

    // Then the good one is read and the bad one is reported with a permanent error naming it
    assert_eq!(found.players.len(), 1);
    assert_eq!(found.players[0].player.player_id, "good");
    match found.unreadable.as_slice() {
        [(id, StoreError::Permanent(message))] => {
            assert_eq!(id, "bad");
            assert!(
                message.contains("bad") && message.contains("version"),
                "{message}"
            );
        }
        other => panic!("expected one permanent error, got {other:?}"),
    }

    // And a repaired item reads again
    store.put_player(new_player("bad"));
    let found = store.load_players(&["bad".to_owned()]).await.unwrap();
    assert_eq!((found.players.len(), found.unreadable.len()), (1, 0));
}

#[tokio::test]
async fn the_wake_index_is_sparse_sharded_and_paged_like_dynamodb() {
    let store = MemoryStore::new(2);
    store.set_page_size(2);
    let mut due_in_shard = Vec::new();
    for i in 0..10 {
        let id = format!("p{i}");
        let mut state = new_player(&id);
        state.player.wake_at = match i % 3 {
            0 => None,
            1 => Some(T0 - i),
            _ => Some(T0 + 1),
        };
        if i % 3 == 1 && wake_shard(&id, 2) == 0 {
            due_in_shard.push((T0 - i, id.clone()));
        }
        store.put_player(state);
    }
    due_in_shard.sort();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.due_players(0, T0, cursor).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.clone());
        if page.next.is_some() {
            assert_eq!(page.items.len(), 2, "only a full page has a cursor");
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<String> = due_in_shard.into_iter().map(|(_, id)| id).collect();
    assert!(
        expected.len() >= 2,
        "the set-up puts due players in shard 0"
    );
    assert_eq!(seen, expected, "in wake_at order");
    assert!(pages >= 1);
}

#[tokio::test]
async fn a_full_last_page_is_followed_by_an_empty_one() {
    let store = MemoryStore::new(1);
    store.set_page_size(2);
    for id in ["a", "b"] {
        let connection = Connection {
            connection_id: id.into(),
            player_id: "p".into(),
            is_admin: false,
            connected_at: T0,
            token_expires_at: T0 + 7_200_000,
            expires_at: idle_core::model::EpochSecs(T0 / 1000 + 7200),
        };
        store.put_connection(&connection).await.unwrap();
    }
    let first = store.scan_connections(None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let last = store.scan_connections(first.next).await.unwrap();
    assert!(last.items.is_empty());
    assert_eq!(last.next, None);
}

#[tokio::test]
async fn faults_strike_before_or_after_the_write() {
    let game = game();
    let store = FaultyStore::new(Arc::new(MemoryStore::new(8)));
    let state = new_player("p");
    store.create_player(&state).await.unwrap();
    let plan = enqueue_plan(&game, &state, "r1");
    let commit = Commit::of(&state, &plan).unwrap();

    store.fail_next(StoreOp::Commit, StoreError::Transient("timeout".into()));
    assert!(store.commit(&commit).await.is_err());
    assert_eq!(stored(&store, "p").await, state, "failed before writing");

    store.inject(
        Fault::once(StoreOp::Commit, StoreError::Transient("timeout".into())).after_write(),
    );
    assert!(store.commit(&commit).await.is_err());
    assert_eq!(
        stored(&store, "p").await,
        commit.state,
        "written, then failed"
    );
    assert_eq!(store.calls(StoreOp::Commit), 2);
}

#[tokio::test]
async fn a_players_connections_follow_every_put_replace_and_delete_of_the_index() {
    let store = MemoryStore::new(8);
    let conn = |id: &str, player: &str, at: Millis| Connection {
        connection_id: id.into(),
        player_id: player.into(),
        is_admin: false,
        connected_at: at,
        token_expires_at: i64::MAX,
        expires_at: idle_core::model::EpochSecs(4_000_000_000),
    };
    let ids = |connections: Vec<Connection>| -> Vec<String> {
        connections.into_iter().map(|c| c.connection_id).collect()
    };
    // Given connections of two players, one id a prefix of the other player's id
    for (id, player) in [("c2", "p1"), ("c1", "p1"), ("c3", "p10")] {
        store.put_connection(&conn(id, player, T0)).await.unwrap();
    }
    assert_eq!(
        ids(store.player_connections("p1").await.unwrap()),
        ["c1", "c2"]
    );
    assert_eq!(ids(store.player_connections("p10").await.unwrap()), ["c3"]);
    assert!(store.player_connections("p").await.unwrap().is_empty());
    // When a connection id is put again for another player, it moves
    store.put_connection(&conn("c2", "p10", T0)).await.unwrap();
    assert_eq!(ids(store.player_connections("p1").await.unwrap()), ["c1"]);
    assert_eq!(
        ids(store.player_connections("p10").await.unwrap()),
        ["c2", "c3"]
    );
    // A conditional delete of an older copy leaves it; the matching one removes it
    assert!(!store
        .delete_connection_if(&conn("c2", "p10", T0 - 1))
        .await
        .unwrap());
    assert!(store
        .delete_connection_if(&conn("c2", "p10", T0))
        .await
        .unwrap());
    store.delete_connection("c1").await.unwrap();
    assert!(store.player_connections("p1").await.unwrap().is_empty());
    assert_eq!(ids(store.player_connections("p10").await.unwrap()), ["c3"]);
}
