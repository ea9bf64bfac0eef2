//! The store contract (DESIGN.md section 12): what every implementation of the ports promises,
//! as async functions that panic (with the promise named) on a breach. Each takes a store with
//! no data for the players it names (each function names its own, so one store can run them
//! all), and a `now` in epoch milliseconds.
//!
//! Every store:
//! - [`commit_on_version`]: a commit writes only on the expected `version` (stale → conflict,
//!   nothing written);
//! - [`history_put_if_absent`]: a history record is put once and never replaced;
//! - [`kept_notifications`]: read by `after_seq`, paged, TTL honoured, nothing deleted;
//! - [`wake_index_paging`]: every due player exactly once, in its shard, a page at a time;
//! - [`connections_by_id_and_player`]: connections by id, by player, and scanned in pages;
//! - [`connections_listed_with_the_player`]: a player's connection ids are read with the player
//!   (a connection before the player's first write included), and no player write drops them;
//! - [`catalogs_put_if_absent`]: a catalog is put once under its hash and never replaced, an
//!   unknown hash reads as none, a 300 KB catalog round-trips and one over
//!   [`CATALOG_BYTES`](idle_app::ports::CATALOG_BYTES) is refused.
//! - [`erase_player_everywhere`]: a player's history read whole, and erased from every table.
//!
//! Stores with a feed of committed outboxes (memory, embedded): [`outbox_feed_order`],
//! [`feed_carries_connections`].
//! Stores that enforce DynamoDB's limits and keep the outbox in the player's item (memory,
//! DynamoDB): [`conditional_commit`] (with the 400 KB item limit), [`commit_replaces_outbox`].

use std::future::Future;

use idle_app::outbox::{Commit, Outbox, OutboxRecord};
use idle_app::ports::{
    limits, CatalogStore, Connection, ConnectionStore, GameStore, Inbox, PlayerRecords, StoreError,
    CATALOG_BYTES,
};
use idle_app::state::PlayerState;
use idle_core::catalog::Catalog;
use idle_core::model::{EpochSecs, Millis, Player, Task, TaskRequest, TaskStatus};
use idle_core::protocol::{Event, Notification};

fn note(seq: u64, at: Millis) -> Notification {
    Notification {
        seq,
        at,
        event: Event::QueueUpdated { queue: Vec::new() },
    }
}

fn seqs(notifications: &[Notification]) -> Vec<u64> {
    notifications.iter().map(|n| n.seq).collect()
}

/// Kept notifications: one per (player, seq), read after a seq in order with paging, expired
/// ones left out, nothing deleted by reading, players apart.
pub async fn kept_notifications<S: Inbox>(store: &S, now: Millis) {
    let live = EpochSecs(now / 1000 + 3600);
    // 60: more than two DynamoDB BatchWriteItem calls, stored out of order.
    let first: Vec<Notification> = (1..=60).rev().map(|seq| note(seq, now)).collect();
    store.store("kept-a", &first, live).await.unwrap();
    // The same seqs again (a redelivery), with a duplicate inside one call: one of each.
    let again = [note(2, now), note(3, now), note(3, now)];
    store.store("kept-a", &again, live).await.unwrap();
    // One that expires at `now`, and another player's.
    store
        .store("kept-a", &[note(61, now)], EpochSecs(now / 1000))
        .await
        .unwrap();
    store.store("kept-b", &[note(1, now)], live).await.unwrap();

    let all = store.kept_after("kept-a", 0, now, 1000).await.unwrap();
    assert_eq!(
        seqs(&all.notifications),
        (1..=60).collect::<Vec<_>>(),
        "in seq order, one each, expired left out"
    );
    assert!(!all.more, "nothing follows the last page");
    assert_eq!(all.notifications[4], note(5, now), "kept as stored");

    let page = store.kept_after("kept-a", 10, now, 20).await.unwrap();
    assert_eq!(
        seqs(&page.notifications),
        (11..=30).collect::<Vec<_>>(),
        "after the seq, at most the limit"
    );
    assert!(page.more, "more follow a full page");
    let last = store.kept_after("kept-a", 50, now, 10).await.unwrap();
    assert_eq!(seqs(&last.notifications), (51..=60).collect::<Vec<_>>());
    assert!(!last.more, "an expired row after the page is not `more`");

    let before_expiry = store.kept_after("kept-a", 59, now - 1, 10).await.unwrap();
    assert_eq!(
        seqs(&before_expiry.notifications),
        [60, 61],
        "live until its expiry"
    );

    let again = store.kept_after("kept-a", 0, now, 1000).await.unwrap();
    assert_eq!(again.notifications.len(), 60, "reading deletes nothing");
    let other = store.kept_after("kept-b", 0, now, 1000).await.unwrap();
    assert_eq!(seqs(&other.notifications), [1], "players apart");
    let nobody = store.kept_after("kept-none", 0, now, 10).await.unwrap();
    assert!(nobody.notifications.is_empty() && !nobody.more);
}

// ---- the game store, connections and the outbox feed ----------------------------------------

/// A new player (version 0, no queue, no wake-up).
pub fn new_player(id: &str, now: Millis) -> PlayerState {
    PlayerState {
        player: Player::new(id, now, Catalog::shipped(), 10),
        queue: Vec::new(),
    }
}

/// A finished harvest of `player_id` numbered `n` (task id `t00000n`), finished at `now - 1000`.
pub fn finished_task(player_id: &str, n: u64, now: Millis) -> Task {
    Task {
        player_id: player_id.to_owned(),
        task_id: format!("t{n:06}"),
        request_id: format!("r{n}"),
        request: TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 1,
            repeat: None,
        },
        bypass_validation: false,
        status: TaskStatus::Completed,
        enqueued_at: now - 10_000,
        started_at: Some(now - 10_000),
        ends_at: Some(now - 1000),
        finished_at: Some(now - 1000),
        attempts: 0,
        retry_at: None,
        rules_version: 1,
        catalog_hash: None,
        snapshot: None,
        result: None,
        failure: None,
        chunk: None,
        paused_at: None,
    }
}

/// The write of `state` at `version`, on the condition `expected`.
fn write(state: &PlayerState, expected: Option<u64>, version: u64, outbox: Outbox) -> Commit {
    let mut state = state.clone();
    state.player.version = version;
    Commit {
        state,
        expected_version: expected,
        outbox,
    }
}

async fn load<S: GameStore>(store: &S, id: &str) -> Option<PlayerState> {
    let mut loaded = store.load_players(&[id.to_owned()]).await.unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    loaded.players.pop()
}

fn is_conflict(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

/// The conditional write on `version`: a commit lands only on the version it read (or on no
/// player, for `None`); a stale one is a conflict and writes nothing; `create_player` is
/// put-if-absent; `load_players` returns each known id once.
pub async fn commit_on_version<S: GameStore>(store: &S, now: Millis) {
    let fresh = new_player("version-a", now);
    store
        .commit(&write(&fresh, None, 1, Outbox::default()))
        .await
        .unwrap();
    let stored = load(store, "version-a")
        .await
        .expect("created by a commit on None");
    assert_eq!(stored.player.version, 1);

    let mut changed = stored.clone();
    changed.player.character_xp = 42;
    assert!(
        is_conflict(
            store
                .commit(&write(&changed, None, 2, Outbox::default()))
                .await
        ),
        "a commit on None finds the player there"
    );
    assert!(
        is_conflict(
            store
                .commit(&write(&changed, Some(0), 2, Outbox::default()))
                .await
        ),
        "a stale version is a conflict"
    );
    assert_eq!(
        load(store, "version-a").await,
        Some(stored.clone()),
        "a conflict writes nothing"
    );

    changed.queue = vec![finished_task("version-a", 1, now)];
    changed.player.wake_at = Some(now + 5000);
    store
        .commit(&write(&changed, Some(1), 2, Outbox::default()))
        .await
        .unwrap();
    let after = load(store, "version-a").await.unwrap();
    assert_eq!(after.player.version, 2);
    assert_eq!(after.player.character_xp, 42, "the player is replaced");
    assert_eq!(
        after.queue, changed.queue,
        "the queue rides in the same write"
    );
    assert_eq!(after.player.wake_at, Some(now + 5000));
    assert!(
        is_conflict(
            store
                .commit(&write(&changed, Some(1), 2, Outbox::default()))
                .await
        ),
        "the version it read is now stale"
    );

    let ghost = new_player("version-ghost", now);
    assert!(
        is_conflict(
            store
                .commit(&write(&ghost, Some(0), 1, Outbox::default()))
                .await
        ),
        "a commit on a version needs the player"
    );
    assert_eq!(
        load(store, "version-ghost").await,
        None,
        "and creates nothing"
    );

    assert!(
        !store
            .create_player(&new_player("version-a", now))
            .await
            .unwrap(),
        "create_player does not replace"
    );
    assert_eq!(load(store, "version-a").await.unwrap().player.version, 2);
    let b = new_player("version-b", now);
    assert!(store.create_player(&b).await.unwrap());
    assert_eq!(load(store, "version-b").await, Some(b));

    let ids = ["version-a", "version-b", "version-a", "version-none"].map(String::from);
    let mut loaded = store.load_players(&ids).await.unwrap();
    let mut got: Vec<String> = loaded
        .players
        .drain(..)
        .map(|s| s.player.player_id)
        .collect();
    got.sort();
    assert_eq!(got, ["version-a", "version-b"], "each known id once");
}

/// The history: each record put only if absent (the first one stays), read by key, players
/// apart.
pub async fn history_put_if_absent<S: GameStore>(store: &S, now: Millis) {
    let first = finished_task("history-a", 1, now);
    let second = finished_task("history-a", 2, now);
    store
        .put_history(&[first.clone(), second.clone()])
        .await
        .unwrap();

    let mut rewritten = first.clone();
    rewritten.attempts = 5;
    let third = finished_task("history-a", 3, now);
    store
        .put_history(&[rewritten, third.clone()])
        .await
        .unwrap();
    store.put_history(&[]).await.unwrap();

    let read = |id: &'static str| store.load_task("history-a", id);
    assert_eq!(
        read("t000001").await.unwrap(),
        Some(first),
        "the first record stays"
    );
    assert_eq!(read("t000002").await.unwrap(), Some(second));
    assert_eq!(
        read("t000003").await.unwrap(),
        Some(third),
        "new keys are put"
    );
    assert_eq!(read("t000004").await.unwrap(), None);
    assert_eq!(
        store.load_task("history-b", "t000001").await.unwrap(),
        None,
        "players apart"
    );
}

/// The wake index: per shard, the players due at `now` (`wake_at <= now`) in (`wake_at`, id)
/// order across pages; not-yet-due players and players with nothing to do are left out; a
/// commit moves a player in or out. `shards` is the store's shard count.
pub async fn wake_index_paging<S: GameStore>(store: &S, now: Millis, shards: u32) {
    let mut due = Vec::new();
    for i in 0..40u64 {
        let id = format!("wake-{i:02}");
        let mut state = new_player(&id, now);
        state.player.wake_at = match i % 5 {
            0 => None,
            1 => Some(now + 1),
            // Ties on the due time, and one exactly now.
            n => Some(now - 1000 * (n as Millis - 2)),
        };
        if let Some(at) = state.player.wake_at.filter(|at| *at <= now) {
            due.push((at, id.clone()));
        }
        store
            .commit(&write(&state, None, 1, Outbox::default()))
            .await
            .unwrap();
    }
    // Moved out of the index by a later commit.
    let mut moved = load(store, "wake-02").await.unwrap();
    moved.player.wake_at = None;
    store
        .commit(&write(&moved, Some(1), 2, Outbox::default()))
        .await
        .unwrap();
    due.retain(|(_, id)| id != "wake-02");
    assert!(due.len() > 20);

    let mut seen = Vec::new();
    for shard in 0..shards {
        let mut in_shard = Vec::new();
        let mut cursor = None;
        for _ in 0..1000 {
            let page = store.due_players(shard, now, cursor).await.unwrap();
            in_shard.extend(page.items.into_iter().filter(|id| id.starts_with("wake-")));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        assert!(cursor.is_none(), "the pages of shard {shard} end");
        let mut expected: Vec<(Millis, String)> = due
            .iter()
            .filter(|(_, id)| idle_app::ports::wake_shard(id, shards) == shard)
            .cloned()
            .collect();
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
        assert_eq!(
            in_shard, expected,
            "shard {shard}: due players in (wake_at, id) order"
        );
        seen.extend(in_shard);
    }
    assert_eq!(
        seen.len(),
        due.len(),
        "every due player in exactly one shard"
    );
}

/// The outbox feed (the Players stream on AWS, the store's feed locally): every committed
/// non-empty outbox, in commit order, with rising sequence numbers, once; empty outboxes and
/// failed commits are not on it. `last` (what a restart performs again) ends, for each player,
/// with its last non-empty outbox, and names only committed outboxes. `take` and `last` are
/// the store's `take_outboxes` and `last_outboxes`.
pub async fn outbox_feed_order<S, T, L>(store: &S, now: Millis, take: T, last: L)
where
    S: GameStore,
    T: Fn() -> Vec<OutboxRecord>,
    L: Fn() -> Vec<OutboxRecord>,
{
    let ours = |records: Vec<OutboxRecord>| -> Vec<OutboxRecord> {
        records
            .into_iter()
            .filter(|r| r.player_id.starts_with("feed-"))
            .collect()
    };
    let _ = take();
    let noting = |seq: u64| Outbox {
        notifications: vec![note(seq, now)],
        ..Outbox::default()
    };
    let a = new_player("feed-a", now);
    let b = new_player("feed-b", now);
    let c = new_player("feed-c", now);
    let a4 = Outbox {
        history: vec![finished_task("feed-a", 2, now)],
        ..Outbox::default()
    };
    let a3 = Outbox {
        history: vec![finished_task("feed-a", 1, now)],
        ..noting(2)
    };
    let b2 = noting(2);
    let steps: Vec<(Commit, bool)> = vec![
        (write(&a, None, 1, noting(1)), true),
        (write(&b, None, 1, noting(1)), true),
        (write(&a, Some(1), 2, Outbox::default()), true),
        (write(&a, Some(2), 3, a3.clone()), true),
        (write(&a, Some(1), 9, noting(9)), false),
        (write(&c, None, 1, noting(1)), true),
        (write(&b, Some(1), 2, b2.clone()), true),
        (write(&c, Some(1), 2, Outbox::default()), true),
        (write(&a, Some(3), 4, a4.clone()), true),
    ];
    let mut committed = Vec::new();
    for (commit, lands) in steps {
        let result = store.commit(&commit).await;
        assert_eq!(result.is_ok(), lands, "{result:?}");
        if lands && !commit.outbox.is_empty() {
            committed.push((
                commit.player_id().to_owned(),
                commit.state.player.version,
                commit.outbox,
            ));
        }
    }

    let fed = ours(take());
    let got: Vec<(String, u64, Outbox)> = fed
        .iter()
        .map(|r| (r.player_id.clone(), r.version, r.outbox.clone()))
        .collect();
    assert_eq!(got, committed, "non-empty outboxes, in commit order, once");
    let sequences: Vec<u64> = fed
        .iter()
        .map(|r| {
            r.sequence_number
                .parse()
                .expect("a numeric sequence number")
        })
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "rising sequence numbers: {sequences:?}"
    );
    assert!(ours(take()).is_empty(), "taken once");

    let again = ours(last());
    for record in &again {
        assert!(
            committed.contains(&(
                record.player_id.clone(),
                record.version,
                record.outbox.clone()
            )),
            "only committed outboxes: {record:?}"
        );
    }
    let last_of = |id: &str| again.iter().rev().find(|r| r.player_id == id);
    let a_last = last_of("feed-a").expect("feed-a's last outbox");
    assert_eq!((a_last.version, &a_last.outbox), (4, &a4));
    let b_last = last_of("feed-b").expect("feed-b's last outbox");
    assert_eq!((b_last.version, &b_last.outbox), (2, &b2));
}

fn connection(id: &str, player: &str, connected_at: Millis) -> Connection {
    Connection {
        connection_id: id.to_owned(),
        player_id: player.to_owned(),
        is_admin: false,
        connected_at,
        token_expires_at: connected_at + 3_600_000,
        expires_at: EpochSecs(connected_at / 1000 + 7200),
    }
}

/// Connections: by id and by player, replaced by a put, deleted (conditionally on the very row
/// read), scanned a page at a time.
pub async fn connections_by_id_and_player<S: ConnectionStore>(store: &S, now: Millis) {
    let one = connection("conn-1", "conn-p1", now);
    let two = connection("conn-2", "conn-p1", now);
    let three = Connection {
        is_admin: true,
        token_expires_at: Millis::MAX,
        ..connection("conn-3", "conn-p2", now)
    };
    for c in [&one, &two, &three] {
        store.put_connection(c).await.unwrap();
    }
    assert_eq!(
        store.get_connection("conn-1").await.unwrap(),
        Some(one.clone())
    );
    assert_eq!(
        store.get_connection("conn-3").await.unwrap(),
        Some(three.clone()),
        "kept as stored, a never-expiring token included"
    );
    assert_eq!(store.get_connection("conn-none").await.unwrap(), None);
    let mut mine = store.player_connections("conn-p1").await.unwrap();
    mine.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    assert_eq!(mine, [one.clone(), two.clone()]);

    let newer = connection("conn-1", "conn-p1", now + 1);
    store.put_connection(&newer).await.unwrap();
    assert_eq!(
        store.get_connection("conn-1").await.unwrap(),
        Some(newer.clone())
    );
    assert!(
        !store.delete_connection_if(&one).await.unwrap(),
        "a replaced row is not the one read"
    );
    assert!(store.get_connection("conn-1").await.unwrap().is_some());
    assert!(store.delete_connection_if(&newer).await.unwrap());
    assert_eq!(store.get_connection("conn-1").await.unwrap(), None);
    assert!(
        !store.delete_connection_if(&newer).await.unwrap(),
        "gone is not an error"
    );
    store.delete_connection("conn-none").await.unwrap();

    let mut scanned = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = store.scan_connections(cursor).await.unwrap();
        scanned.extend(
            page.items
                .into_iter()
                .filter(|c| c.connection_id.starts_with("conn-")),
        );
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    scanned.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    assert_eq!(scanned, [two, three], "every connection once, across pages");
    store.delete_connection("conn-2").await.unwrap();
    assert!(store
        .player_connections("conn-p1")
        .await
        .unwrap()
        .is_empty());
}

/// The player `id` as read, and the connection ids read with it.
async fn listed<S: GameStore>(store: &S, id: &str) -> (Option<PlayerState>, Vec<String>) {
    let mut loaded = store.load_players(&[id.to_owned()]).await.unwrap();
    assert!(loaded.unreadable.is_empty(), "{:?}", loaded.unreadable);
    let connections = loaded.connections_of(id);
    (loaded.players.pop(), connections)
}

/// A player's connection ids live with the player: `load_players` (and its relaxed form)
/// returns them for every player read ([`Loaded::connections`](idle_app::ports::Loaded)); a
/// connection stored before the player's first write is no player but is listed once the player
/// is created (by a commit on `None` or `create_player`, neither of which is refused for it); a
/// commit never drops them; the deletes unlist them; unlisting what is not listed, or for a
/// player that does not exist, succeeds and creates no player.
pub async fn connections_listed_with_the_player<S>(store: &S, now: Millis)
where
    S: GameStore + ConnectionStore,
{
    // A connection before the player's first write: still no player.
    let one = connection("list-c1", "list-p1", now);
    store.put_connection(&one).await.unwrap();
    assert_eq!(
        listed(store, "list-p1").await,
        (None, Vec::new()),
        "a listed connection alone is no player"
    );
    // The first write creates the player on `None` and keeps the list.
    let fresh = new_player("list-p1", now);
    store
        .commit(&write(&fresh, None, 1, Outbox::default()))
        .await
        .expect("a commit on None creates a player that only has connections");
    let (player, ids) = listed(store, "list-p1").await;
    assert_eq!(player.map(|p| p.player.version), Some(1));
    assert_eq!(ids, ["list-c1"], "the commit kept the listed connection");

    // More connections, then a commit with an outbox: the list stays as the connections made it.
    store
        .put_connection(&connection("list-c2", "list-p1", now))
        .await
        .unwrap();
    store
        .commit(&write(
            &fresh,
            Some(1),
            2,
            Outbox {
                notifications: vec![note(1, now)],
                ..Outbox::default()
            },
        ))
        .await
        .unwrap();
    let (player, ids) = listed(store, "list-p1").await;
    assert_eq!(player.map(|p| p.player.version), Some(2));
    assert_eq!(ids, ["list-c1", "list-c2"]);
    let mut relaxed = store
        .load_players_relaxed(&["list-p1".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        relaxed.connections.remove("list-p1").unwrap_or_default(),
        ["list-c1", "list-c2"],
        "the relaxed read carries them too"
    );

    // `create_player` also creates over a connection alone, and keeps it.
    store
        .put_connection(&connection("list-c3", "list-p2", now))
        .await
        .unwrap();
    assert!(store
        .create_player(&new_player("list-p2", now))
        .await
        .unwrap());
    assert!(!store
        .create_player(&new_player("list-p2", now))
        .await
        .unwrap());
    assert_eq!(
        listed(store, "list-p2").await.1,
        ["list-c3"],
        "create_player kept the list"
    );

    // The deletes unlist; unlisting what is not there is no error and creates nothing.
    store.delete_connection("list-c1").await.unwrap();
    assert_eq!(listed(store, "list-p1").await.1, ["list-c2"]);
    let two = store.get_connection("list-c2").await.unwrap().unwrap();
    assert!(store.delete_connection_if(&two).await.unwrap());
    assert_eq!(listed(store, "list-p1").await.1, Vec::<String>::new());
    store.unlist_connection("list-p1", "list-c9").await.unwrap();
    store
        .unlist_connection("list-nobody", "list-c9")
        .await
        .unwrap();
    assert_eq!(listed(store, "list-nobody").await, (None, Vec::new()));
    assert_eq!(
        listed(store, "list-p1").await.0.map(|p| p.player.version),
        Some(2),
        "connection updates leave the player as written"
    );
}

/// Each committed outbox on the feed carries the player's connection ids listed when it was
/// committed ([`OutboxRecord::connections`]), where its notifications are posted.
pub async fn feed_carries_connections<S, T>(store: &S, now: Millis, take: T)
where
    S: GameStore + ConnectionStore,
    T: Fn() -> Vec<OutboxRecord>,
{
    let _ = take();
    let noting = Outbox {
        notifications: vec![note(1, now)],
        ..Outbox::default()
    };
    let fresh = new_player("fed-p1", now);
    store
        .commit(&write(&fresh, None, 1, noting.clone()))
        .await
        .unwrap();
    store
        .put_connection(&connection("fed-c2", "fed-p1", now))
        .await
        .unwrap();
    store
        .put_connection(&connection("fed-c1", "fed-p1", now))
        .await
        .unwrap();
    store
        .commit(&write(&fresh, Some(1), 2, noting))
        .await
        .unwrap();
    let fed: Vec<(u64, Vec<String>)> = take()
        .into_iter()
        .filter(|r| r.player_id == "fed-p1")
        .map(|r| (r.version, r.connections))
        .collect();
    assert_eq!(
        fed,
        [
            (1, Vec::new()),
            (2, vec!["fed-c1".to_owned(), "fed-c2".to_owned()])
        ],
        "each record lists the connections at its commit, in id order"
    );
}

// ---- writes as DynamoDB sees them: the item limit and the stored outbox ----------------------

/// A task of `player_id` in `status`, finished at `now + 10` when the status is final.
pub fn task(player_id: &str, task_id: &str, status: TaskStatus, now: Millis) -> Task {
    Task {
        task_id: task_id.into(),
        request_id: format!("req-{task_id}"),
        request: TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 2,
            repeat: None,
        },
        status,
        enqueued_at: now,
        started_at: None,
        ends_at: None,
        finished_at: status.is_final().then_some(now + 10),
        ..finished_task(player_id, 0, now)
    }
}

/// The commit that writes `state` with `version` bumped by one over `expected` (the stored
/// version the writer read), carrying `outbox`.
pub fn commit_over(state: &PlayerState, expected: Option<u64>, outbox: Outbox) -> Commit {
    write(state, expected, expected.map_or(0, |v| v + 1), outbox)
}

/// A commit writes the player only if the stored `version` is the expected one: a stale
/// commit (or one expecting no player where one exists, or a player where none does) is a
/// [`StoreError::Conflict`] and writes nothing. An item over [`limits::ITEM_BYTES`] is a
/// [`StoreError::Permanent`] and writes nothing (stores that enforce DynamoDB's limits: the
/// memory store and DynamoDB; the embedded store need not).
pub async fn conditional_commit<S: GameStore>(store: &S, now: Millis) {
    // Given a stored player at version 0, committed to version 1
    let created = new_player("cc-1", now);
    assert!(store.create_player(&created).await.unwrap());
    let mut first = created.clone();
    first.player.character_xp = 100;
    first
        .queue
        .push(task("cc-1", "t1", TaskStatus::Queued, now));
    let v1 = commit_over(&first, Some(0), Outbox::default());
    store
        .commit(&v1)
        .await
        .expect("a commit on the stored version");
    assert_eq!(
        load(store, "cc-1").await,
        Some(v1.state.clone()),
        "written as given"
    );

    // When a writer that read version 0 commits, then it conflicts and nothing changes
    let mut stale = created.clone();
    stale.player.character_xp = 999;
    let stale = commit_over(&stale, Some(0), note_outbox(&[7], now));
    assert!(
        matches!(store.commit(&stale).await, Err(StoreError::Conflict(_))),
        "a stale version conflicts"
    );
    assert_eq!(
        load(store, "cc-1").await,
        Some(v1.state.clone()),
        "nothing written"
    );

    // A commit expecting no player conflicts when one exists
    let again = commit_over(&created, None, Outbox::default());
    assert!(
        matches!(store.commit(&again).await, Err(StoreError::Conflict(_))),
        "expecting no player while one exists conflicts"
    );
    assert_eq!(load(store, "cc-1").await, Some(v1.state.clone()));

    // A commit expecting a version of a player that does not exist conflicts, creating nothing
    let ghost = commit_over(&new_player("cc-ghost", now), Some(3), Outbox::default());
    assert!(
        matches!(store.commit(&ghost).await, Err(StoreError::Conflict(_))),
        "expecting a version of a missing player conflicts"
    );
    assert_eq!(load(store, "cc-ghost").await, None, "nothing created");

    // A commit expecting no player creates one
    let fresh = commit_over(&new_player("cc-2", now), None, Outbox::default());
    store
        .commit(&fresh)
        .await
        .expect("a commit creating a player");
    assert_eq!(load(store, "cc-2").await, Some(fresh.state.clone()));

    // The next version applies on top
    let mut second = v1.state.clone();
    second.player.character_xp = 200;
    let v2 = commit_over(&second, Some(1), Outbox::default());
    store.commit(&v2).await.expect("the next version");
    assert_eq!(load(store, "cc-1").await.unwrap().player.version, 2);

    // An item over DynamoDB's limit is refused for good, and nothing is written. The text is
    // pseudo-random hex, so it stays over the limit in a store that compresses the item
    // (DynamoDB packs the player, queue and outbox deflated: the limit is on what is stored)
    let mut huge = task("cc-1", "t-huge", TaskStatus::Completed, now);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    huge.request_id = (0..limits::ITEM_BYTES * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect();
    let oversized = commit_over(
        &v2.state,
        Some(2),
        Outbox {
            history: vec![huge],
            ..Outbox::default()
        },
    );
    assert!(
        matches!(
            store.commit(&oversized).await,
            Err(StoreError::Permanent(_))
        ),
        "an item over {} bytes is a permanent error",
        limits::ITEM_BYTES
    );
    assert_eq!(load(store, "cc-1").await, Some(v2.state), "nothing written");
}

fn note_outbox(seqs: &[u64], now: Millis) -> Outbox {
    Outbox {
        notifications: seqs.iter().map(|seq| note(*seq, now)).collect(),
        ..Outbox::default()
    }
}

/// Each commit replaces the stored outbox (`stored_outbox` reads it back, as the store keeps it
/// in the player's item); a conflict writes none; a commit with nothing to perform leaves none.
pub async fn commit_replaces_outbox<S, F, Fut>(store: &S, stored_outbox: F, now: Millis)
where
    S: GameStore,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Outbox>,
{
    let id = "ob-1";
    let state = new_player(id, now);
    assert!(store.create_player(&state).await.unwrap());
    assert_eq!(
        stored_outbox(id.into()).await,
        Outbox::default(),
        "none yet"
    );

    // An outbox with notifications in seq order and a history record
    let mut first = note_outbox(&[1, 2, 3], now);
    first.history = vec![task(id, "t0", TaskStatus::Cancelled, now)];
    let c1 = commit_over(&state, Some(0), first.clone());
    store.commit(&c1).await.unwrap();
    assert_eq!(
        stored_outbox(id.into()).await,
        first,
        "kept as written, in order"
    );

    // A later commit replaces it whole
    let second = Outbox {
        notifications: vec![note(4, now + 1)],
        history: vec![task(id, "t1", TaskStatus::Completed, now)],
        ..Outbox::default()
    };
    let c2 = commit_over(&c1.state, Some(1), second.clone());
    store.commit(&c2).await.unwrap();
    assert_eq!(
        stored_outbox(id.into()).await,
        second,
        "replaced, not merged"
    );

    // A stale commit leaves the stored outbox alone
    let stale = commit_over(&c1.state, Some(1), note_outbox(&[99], now));
    assert!(matches!(
        store.commit(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        stored_outbox(id.into()).await,
        second,
        "a conflict writes no outbox"
    );

    // A commit with nothing to perform leaves none
    let c3 = commit_over(&c2.state, Some(2), Outbox::default());
    store.commit(&c3).await.unwrap();
    assert_eq!(stored_outbox(id.into()).await, Outbox::default());
    assert_eq!(
        load(store, id).await,
        Some(c3.state),
        "the player is as committed"
    );
}

/// A valid catalog whose canonical JSON is at least `bytes` long: the shipped one with filler
/// materials (1000-character names). With its content hash and that JSON.
pub fn catalog_of_size(bytes: usize) -> (Catalog, String, String) {
    let mut value: serde_json::Value =
        serde_json::from_str(idle_core::catalog::SHIPPED_JSON).expect("the shipped catalog");
    let mut i = 0;
    loop {
        let catalog = Catalog::from_json(&value.to_string()).expect("a valid catalog");
        let json = serde_json::to_string(&catalog).expect("a catalog serialises");
        if json.len() >= bytes {
            let hash = catalog.content_hash();
            return (catalog, hash, json);
        }
        let items = value["items"].as_object_mut().expect("items");
        // Enough materials at once to reach the size in a round or two.
        for _ in 0..(bytes - json.len()) / 1000 + 1 {
            let item =
                serde_json::json!({"name": "x".repeat(1000), "value": 1, "kind": "material"});
            items.insert(format!("filler_{i}"), item);
            i += 1;
        }
    }
}

/// The catalog store: a catalog is stored once under its hash, and a second put under the same
/// hash keeps the first; an unknown hash reads as none; a 300 KB catalog (more than DynamoDB's
/// 400 KB item would hold as a map, well under it as text) round-trips byte for byte and still
/// checks and hashes to its key; JSON over [`CATALOG_BYTES`] is refused as permanent, and
/// nothing is stored.
pub async fn catalogs_put_if_absent<S: CatalogStore>(store: &S) {
    let shipped = Catalog::shipped();
    let hash = shipped.content_hash();
    let json = serde_json::to_string(shipped).unwrap();
    assert_eq!(
        store.load_catalog(&hash).await.unwrap(),
        None,
        "unknown: none"
    );
    assert!(
        store.put_catalog_if_absent(&hash, &json).await.unwrap(),
        "the first put stores"
    );
    assert!(
        !store
            .put_catalog_if_absent(&hash, r#"{"version":99}"#)
            .await
            .unwrap(),
        "a second put under the hash stores nothing"
    );
    assert_eq!(
        store.load_catalog(&hash).await.unwrap().as_deref(),
        Some(json.as_str()),
        "the first is kept"
    );
    assert_eq!(
        store.load_catalog(&"0".repeat(64)).await.unwrap(),
        None,
        "another hash is still unknown"
    );

    let (_, big_hash, big) = catalog_of_size(300 * 1024);
    assert!(store.put_catalog_if_absent(&big_hash, &big).await.unwrap());
    let back = store
        .load_catalog(&big_hash)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(back.len(), big.len(), "a 300 KB catalog round-trips");
    assert!(back == big, "byte for byte");
    assert_eq!(
        Catalog::from_json(&back).unwrap().content_hash(),
        big_hash,
        "and still hashes to its key"
    );

    let too_big = format!("{}{}", big, " ".repeat(CATALOG_BYTES + 1 - big.len()));
    let key = "f".repeat(64);
    match store.put_catalog_if_absent(&key, &too_big).await {
        Err(StoreError::Permanent(message)) => assert!(
            message.contains(&CATALOG_BYTES.to_string()),
            "the error names the limit: {message}"
        ),
        other => panic!("a catalog over {CATALOG_BYTES} bytes must be refused: {other:?}"),
    }
    assert_eq!(
        store.load_catalog(&key).await.unwrap(),
        None,
        "nothing stored"
    );
}

// ---- a player's records and erasure ---------------------------------------------------------

/// A player's history (finished tasks and audit records, paged in `task_id` order) and its
/// erasure: every row of the player in every table goes (its item with the outbox, history,
/// kept notifications expired or not, connections), another player's rows stay, a second erase
/// finds nothing, and the player can be created afresh afterwards.
pub async fn erase_player_everywhere<S>(store: &S, now: Millis)
where
    S: GameStore + Inbox + ConnectionStore + PlayerRecords,
{
    use idle_core::model::{change_inventory, AdminCommand, HistoryRecord, InventoryChange};

    let gone = "erase-a";
    let kept = "erase-b";
    for id in [gone, kept] {
        let state = new_player(id, now);
        assert!(store.create_player(&state).await.unwrap());
        // An admin change (audit record in the outbox) commits on the player
        let change = InventoryChange {
            command: AdminCommand::Grant,
            item: "copper_ore".into(),
            count: 2,
            reason: "contract".into(),
            operator: "tester".into(),
        };
        let (player, audit) =
            change_inventory(Catalog::shipped(), &state.player, &change, now).unwrap();
        store
            .commit(&Commit::admin(&state, player, audit.clone()))
            .await
            .unwrap();
        store.put_audit(std::slice::from_ref(&audit)).await.unwrap();
        store.put_audit(&[audit]).await.unwrap();
        let tasks: Vec<Task> = (1..=7).map(|n| finished_task(id, n, now)).collect();
        store.put_history(&tasks).await.unwrap();
        store
            .store(
                id,
                &[note(1, now), note(2, now)],
                EpochSecs(now / 1000 + 3600),
            )
            .await
            .unwrap();
        // An expired notification not yet removed by TTL is still the player's data
        store
            .store(id, &[note(3, now)], EpochSecs(now / 1000 - 1))
            .await
            .unwrap();
        for c in 0..2 {
            store
                .put_connection(&connection(&format!("{id}-c{c}"), id, now))
                .await
                .unwrap();
        }
    }

    // The history, paged: seven tasks then the audit record, in task_id order
    let mut records = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.history(gone, cursor).await.unwrap();
        records.extend(page.items);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let ids: Vec<&str> = records.iter().map(HistoryRecord::task_id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "in task_id order");
    assert_eq!(records.len(), 8, "seven tasks and one audit record, once");
    let audits: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            HistoryRecord::Audit(a) => Some(a),
            HistoryRecord::Task(_) => None,
        })
        .collect();
    assert_eq!(audits.len(), 1);
    assert_eq!(
        (audits[0].operator.as_str(), audits[0].count),
        ("tester", 2)
    );

    let before = store.remaining(gone).await.unwrap();
    assert_eq!(
        (
            before.players,
            before.history,
            before.kept,
            before.connections
        ),
        (1, 8, 3, 2),
        "every row counted, the expired notification too"
    );

    // When the player is erased
    let erased = store.erase_player(gone).await.unwrap();
    assert_eq!(
        (
            erased.players,
            erased.history,
            erased.kept,
            erased.connections
        ),
        (1, 8, 3, 2),
        "what was deleted"
    );

    // Then nothing of it remains, anywhere
    assert_eq!(
        store.remaining(gone).await.unwrap().total(),
        0,
        "nothing remains"
    );
    assert!(load(store, gone).await.is_none());
    assert!(store.history(gone, None).await.unwrap().items.is_empty());
    assert!(store
        .kept_after(gone, 0, Millis::MIN, 100)
        .await
        .unwrap()
        .notifications
        .is_empty());
    assert!(store.player_connections(gone).await.unwrap().is_empty());
    // The other player is untouched
    let other = store.remaining(kept).await.unwrap();
    assert_eq!(
        (other.players, other.history, other.kept, other.connections),
        (1, 8, 3, 2)
    );
    // Erasing again finds nothing, and the player starts afresh
    assert_eq!(store.erase_player(gone).await.unwrap().total(), 0);
    assert!(store.create_player(&new_player(gone, now)).await.unwrap());
    assert_eq!(load(store, gone).await.unwrap().player.version, 0);
}
