//! The store contract (DESIGN.md section 12): what every implementation of the ports promises,
//! as async functions that panic (with the promise named) on a breach. Each takes a store with
//! no data for the players it names (each function names its own, so one store can run them
//! all), and a `now` in epoch milliseconds.
//!
//! - [`conditional_commit`]: a commit writes only on the expected `version` (stale → conflict,
//!   nothing written), and an item over DynamoDB's 400 KB is refused for good;
//! - [`commit_replaces_outbox`]: each commit's outbox replaces the previous one, kept in order;
//! - [`history_put_if_absent`]: a history record is put once and never replaced;
//! - [`kept_notifications`]: read by `after_seq`, paged, TTL honoured, nothing deleted;
//! - [`wake_index_paging`]: every due player exactly once, in its shard, a page at a time.

use std::collections::BTreeSet;
use std::future::Future;

use idle_app::outbox::{Commit, Outbox};
use idle_app::ports::{limits, wake_shard, GameStore, Inbox, Page, StoreError};
use idle_app::state::PlayerState;
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, Player, Task, TaskRequest, TaskStatus};
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
    let live = now / 1000 + 3600;
    // 60: more than two DynamoDB BatchWriteItem calls, stored out of order.
    let first: Vec<Notification> = (1..=60).rev().map(|seq| note(seq, now)).collect();
    store.store("kept-a", &first, live).await.unwrap();
    // The same seqs again (a redelivery), with a duplicate inside one call: one of each.
    let again = [note(2, now), note(3, now), note(3, now)];
    store.store("kept-a", &again, live).await.unwrap();
    // One that expires at `now`, and another player's.
    store
        .store("kept-a", &[note(61, now)], now / 1000)
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

/// A new player (version 0, no queue, no wake-up).
pub fn new_player(player_id: &str, now: Millis) -> PlayerState {
    PlayerState {
        player: Player::new(player_id, now, Catalog::shipped(), 10),
        queue: Vec::new(),
    }
}

/// A task of `player_id` in `status`, finished at `now + 10` when the status is final.
pub fn task(player_id: &str, task_id: &str, status: TaskStatus, now: Millis) -> Task {
    Task {
        player_id: player_id.into(),
        task_id: task_id.into(),
        request_id: format!("req-{task_id}"),
        request: TaskRequest::Harvest {
            resource: "copper_ore".into(),
            location: "meadow".into(),
            quantity: 2,
        },
        bypass_validation: false,
        status,
        enqueued_at: now,
        started_at: None,
        ends_at: None,
        finished_at: status.is_final().then_some(now + 10),
        attempts: 0,
        retry_at: None,
        rules_version: 1,
        snapshot: None,
        result: None,
        failure: None,
    }
}

/// The commit that writes `state` with `version` bumped by one over `expected` (the stored
/// version the writer read), carrying `outbox`.
pub fn commit_over(state: &PlayerState, expected: Option<u64>, outbox: Outbox) -> Commit {
    let mut state = state.clone();
    state.player.version = expected.map_or(0, |v| v + 1);
    Commit {
        state,
        expected_version: expected,
        outbox,
    }
}

async fn load<S: GameStore>(store: &S, player_id: &str) -> Option<PlayerState> {
    let mut loaded = store
        .load_players(&[player_id.to_owned()])
        .await
        .expect("load_players");
    assert!(loaded.unreadable.is_empty(), "{loaded:?}");
    loaded.players.pop()
}

/// A commit writes the player only if the stored `version` is the expected one: a stale
/// commit (or one expecting no player where one exists, or a player where none does) is a
/// [`StoreError::Conflict`] and writes nothing. An item over [`limits::ITEM_BYTES`] is a
/// [`StoreError::Permanent`] and writes nothing.
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

    // An item over DynamoDB's limit is refused for good, and nothing is written
    let mut huge = task("cc-1", "t-huge", TaskStatus::Completed, now);
    huge.request_id = "x".repeat(limits::ITEM_BYTES + 1);
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

/// Each commit's outbox replaces the previous one (the item stays small), notifications in the
/// order given; a commit with an empty outbox leaves an empty one. `stored_outbox` reads the
/// outbox the store holds for a player (the DynamoDB item's `outbox` attribute, the memory
/// store's last outbox).
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

    // An outbox with notifications in seq order and a wake-up
    let mut first = note_outbox(&[1, 2, 3], now);
    first.wake_at = Some(now + 5_000);
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

/// History records are put if absent: a second put of a record with the same key (even a
/// different record) leaves the first; putting the same records again is fine; players apart.
pub async fn history_put_if_absent<S: GameStore>(store: &S, now: Millis) {
    let first = task("hist-a", "t1", TaskStatus::Completed, now);
    store
        .put_history(std::slice::from_ref(&first))
        .await
        .expect("a put");
    assert_eq!(
        store.load_task("hist-a", "t1").await.unwrap(),
        Some(first.clone())
    );

    // A different record with the same key, with a new one beside it
    let mut other = task("hist-a", "t1", TaskStatus::Failed, now + 99);
    other.attempts = 7;
    let second = task("hist-a", "t2", TaskStatus::Cancelled, now);
    store
        .put_history(&[other, second.clone()])
        .await
        .expect("a put finding a record already there succeeds");
    assert_eq!(
        store.load_task("hist-a", "t1").await.unwrap(),
        Some(first.clone()),
        "the first record stays"
    );
    assert_eq!(
        store.load_task("hist-a", "t2").await.unwrap(),
        Some(second.clone()),
        "the new one is put"
    );

    // The same again (a redelivered outbox), and nothing at all
    store
        .put_history(&[first.clone(), second])
        .await
        .expect("idempotent");
    store.put_history(&[]).await.expect("nothing to put");
    assert_eq!(
        store.load_task("hist-a", "t1").await.unwrap(),
        Some(first.clone())
    );

    // Players apart, and a missing record is None
    assert_eq!(store.load_task("hist-b", "t1").await.unwrap(), None);
    assert_eq!(store.load_task("hist-a", "t9").await.unwrap(), None);
}

/// The wake index: [`GameStore::due_players`] returns, over every shard and page, each player
/// whose `wake_at <= now` exactly once, in its own shard ([`wake_shard`] over `shards`, the
/// store's count), at most `page_size` a page (the store's page size); players without a
/// wake-up or with a later one are not in it, and a commit that clears or moves a wake-up
/// takes the player out.
pub async fn wake_index_paging<S: GameStore>(
    store: &S,
    shards: u32,
    page_size: usize,
    now: Millis,
) {
    let mut due = BTreeSet::new();
    // A third are due: more than a full page per shard, so some shard needs two pages.
    let count = (3 * page_size * shards as usize + 3) as i64;
    for i in 0..count {
        let id = format!("wake-{i:03}");
        let mut state = new_player(&id, now);
        state.player.wake_at = match i % 3 {
            0 => None,
            1 => Some(now + 60_000),
            _ => Some(now - 1_000 * i),
        };
        if i % 3 == 2 {
            due.insert(id.clone());
        }
        assert!(store.create_player(&state).await.unwrap());
    }
    let mut edge = new_player("wake-edge", now);
    edge.player.wake_at = Some(now);
    assert!(store.create_player(&edge).await.unwrap());
    due.insert("wake-edge".into());

    let (seen, pages) = all_due(store, shards, page_size, now).await;
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "no player twice: {seen:?}");
    assert_eq!(
        unique, due,
        "exactly the due players (one at `now` included)"
    );
    assert!(
        pages > shards as usize,
        "{pages} pages over {shards} shards: paging was exercised"
    );

    // Clearing one wake-up and moving another later take both out of the due set
    let cleared = commit_over(&edge, Some(0), Outbox::default());
    let mut cleared = cleared;
    cleared.state.player.wake_at = None;
    store.commit(&cleared).await.unwrap();
    let mut moved = new_player("wake-002", now);
    moved.player.wake_at = Some(now + 3_600_000);
    store
        .commit(&commit_over(&moved, Some(0), Outbox::default()))
        .await
        .unwrap();
    let (after, _) = all_due(store, shards, page_size, now).await;
    let after: BTreeSet<String> = after.into_iter().collect();
    due.remove("wake-edge");
    due.remove("wake-002");
    assert_eq!(after, due, "a cleared or later wake-up is not due");
}

async fn all_due<S: GameStore>(
    store: &S,
    shards: u32,
    page_size: usize,
    now: Millis,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    for shard in 0..shards {
        let mut cursor = None;
        loop {
            let Page { items, next } = store.due_players(shard, now, cursor).await.unwrap();
            pages += 1;
            assert!(items.len() <= page_size, "a page holds at most {page_size}");
            for id in &items {
                assert_eq!(wake_shard(id, shards), shard, "{id} is in its own shard");
            }
            seen.extend(items);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10_000, "paging ends");
        }
    }
    (seen, pages)
}
